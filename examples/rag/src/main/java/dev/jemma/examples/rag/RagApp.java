package dev.jemma.examples.rag;

import dev.jemma.langchain4j.JemmaChatModel;
import dev.jemma.langchain4j.JemmaEmbeddingModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code rag index DIR} and {@code rag ask "question"}: offline document Q&amp;A with the demo models (or any
 * EmbeddingGemma + Gemma GGUFs). The template a Java developer copies: {@link DocumentIndex} and {@link Rag}.
 */
@Command(name = "rag", mixinStandardHelpOptions = true, subcommands = {RagApp.Index.class, RagApp.Ask.class},
        description = "Offline document Q&A: index a folder of Markdown/text/PDF files, then ask questions about it.")
public final class RagApp implements Runnable {
    /** Repository root (the launcher sets it), for the default models. */
    static Path home() {
        String h = System.getProperty("jemma.home.dir");
        return h != null ? Path.of(h) : Path.of(".");
    }

    static final String DEFAULT_STORE = "jemma-rag-index.json";

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    static JemmaEmbeddingModel embeddings(Path model, int threads) {
        if (!Files.isRegularFile(model)) throw new IllegalArgumentException(model + ": no such embedding model file");
        return JemmaEmbeddingModel.builder().modelPath(model).threads(threads).build();
    }

    @Command(name = "index", mixinStandardHelpOptions = true, description = "Chunk, embed and store every .md/.txt/.pdf file under DIR.")
    static final class Index implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "DIR")
        Path dir;
        @Option(names = "--embed-model", paramLabel = "GGUF", description = "embedding model (default: models/jemma-embed-demo.gguf)")
        Path embedModel;
        @Option(names = "--store", paramLabel = "FILE", description = "index file (default: " + DEFAULT_STORE + ")")
        Path store = Path.of(DEFAULT_STORE);
        @Option(names = {"-t", "--threads"}, description = "threads (default: all cores)")
        int threads;

        @Override
        public Integer call() {
            Path m = embedModel != null ? embedModel : home().resolve("models/jemma-embed-demo.gguf");
            long t0 = System.nanoTime();
            try (JemmaEmbeddingModel e = embeddings(m, threads)) {
                DocumentIndex index = DocumentIndex.build(dir, e, m.getFileName().toString());
                index.save(store);
                System.out.printf(Locale.ROOT, "indexed %d files, %d chunks (%d dimensions) in %.1f s → %s%n", index.manifest().files().size(),
                        index.manifest().chunks(), index.manifest().dimension(), (System.nanoTime() - t0) / 1e9, store);
            }
            return 0;
        }
    }

    @Command(name = "ask", mixinStandardHelpOptions = true, description = "Answer a question from the indexed documents, citing them.")
    static final class Ask implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "QUESTION")
        String question;
        @Option(names = "--model", paramLabel = "GGUF", description = "chat model (default: models/jemma-demo.gguf)")
        Path model;
        @Option(names = "--embed-model", paramLabel = "GGUF", description = "embedding model (default: models/jemma-embed-demo.gguf)")
        Path embedModel;
        @Option(names = "--store", paramLabel = "FILE", description = "index file (default: " + DEFAULT_STORE + ")")
        Path store = Path.of(DEFAULT_STORE);
        @Option(names = "-k", description = "chunks to retrieve (default: 3)")
        int k = 3;
        @Option(names = {"-n", "--max-tokens"}, description = "answer length limit (default: 96)")
        int maxTokens = 96;
        @Option(names = "--retrieve-only", description = "print the sources without asking the chat model")
        boolean retrieveOnly;
        @Option(names = {"-t", "--threads"}, description = "threads (default: all cores)")
        int threads;

        @Override
        public Integer call() {
            if (k < 1) throw new IllegalArgumentException("-k must be >= 1");
            DocumentIndex index = DocumentIndex.open(store);
            Path em = embedModel != null ? embedModel : home().resolve("models/jemma-embed-demo.gguf");
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            try (JemmaEmbeddingModel e = embeddings(em, threads)) {
                if (retrieveOnly) {
                    printSources(out, Rag.retrieve(index, e, question, k));
                    return 0;
                }
                Path cm = model != null ? model : home().resolve("models/jemma-demo.gguf");
                if (!Files.isRegularFile(cm)) throw new IllegalArgumentException(cm + ": no such chat model file");
                // greedy, with a frequency penalty: small models otherwise loop on one phrase
                try (JemmaChatModel chat = JemmaChatModel.builder().modelPath(cm).threads(threads).contextLength(2048)
                        .defaultRequestParameters(dev.langchain4j.model.chat.request.ChatRequestParameters.builder()
                                .temperature(0.0).frequencyPenalty(0.8).maxOutputTokens(maxTokens).build()).build()) {
                    Rag.Answer a = Rag.ask(index, e, chat, question, k);
                    out.println(a.text().strip());
                    out.println();
                    printSources(out, a.sources());
                }
            }
            return 0;
        }

        private static void printSources(PrintStream out, java.util.List<Rag.Source> sources) {
            out.println("Sources:");
            for (Rag.Source s : sources) {
                String excerpt = s.text().strip().replaceAll("\\s+", " ");
                if (excerpt.length() > 100) excerpt = excerpt.substring(0, 100) + "…";
                out.printf(Locale.ROOT, "[%d] %s (score %.3f): %s%n", s.number(), s.file(), s.score(), excerpt);
            }
        }
    }

    /** Runs a command line; bad input is one line on stderr and exit 1. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new RagApp());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            System.err.println("rag: " + (ex.getMessage() == null ? ex.toString() : ex.getMessage().lines().findFirst().orElse("")));
            return 1;
        });
        return cl.execute(args);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }
}
