package dev.jemma.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.JemmaException;
import dev.jemma.core.embed.EmbedRequest;
import dev.jemma.core.embed.Embedder;
import dev.jemma.core.embed.Embeddings;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.tensor.ThreadPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code jemma embed MODEL TEXT…}: one normalised vector per text, as JSON (default) or TSV; {@code --ids-file} takes
 * token ids as given and writes raw f32 rows (the conformance path, as {@code jemma logits} is for text).
 */
@Command(name = "embed", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Embed texts with an embedding model (EmbeddingGemma) or a chat model (pooled).",
                "Texts come from the arguments, --file (one per line), or stdin (one per line)."})
final class EmbedCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file or model name")
    String model;

    @Parameters(index = "1..*", arity = "0..*", paramLabel = "TEXT", description = "texts to embed, one vector each")
    List<String> texts = new ArrayList<>();

    @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "read texts from FILE, one per line (empty lines skipped; - for stdin)")
    Path file;

    @Option(names = "--prompt", paramLabel = "NAME", description = "task prompt: query, document, Clustering, Classification, STS, … or none (default)")
    String prompt;

    @Option(names = {"--dim", "--dimensions"}, paramLabel = "N", description = "Matryoshka: keep the first N components, re-normalised (e.g. 512, 256, 128; default 0: all of the model's dimensions)")
    int dimensions;

    @Option(names = "--pooling", paramLabel = "KIND", description = "mean, cls or last (default: the file's; mean for chat models)")
    String pooling;

    @Option(names = "--no-truncate", description = "refuse a text longer than the model's limit instead of cutting it")
    boolean noTruncate;

    @Option(names = "--format", paramLabel = "json|tsv", description = "output format (default json); tsv: text, then the floats, tab-separated")
    String format = "json";

    @Option(names = "--ids-file", paramLabel = "IDS.json", description = "embed token ids as given: a JSON list of id lists (or one list); writes raw little-endian f32 rows to -o")
    Path idsFile;

    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "write to FILE instead of stdout (required with --ids-file)")
    Path out;

    @Option(names = {"-c", "--ctx-size"}, paramLabel = "N", description = "longest text in tokens (default: the model's context, at most 8192)")
    int context;

    @Option(names = "--exact", description = "dequantize weights exactly and compute in f32")
    boolean exact;

    @Option(names = {"-t", "--threads"}, paramLabel = "THREADS", description = "threads (default: all cores)")
    int threads = ThreadPool.defaultThreads();

    @Override
    public Integer call() throws IOException {
        threads = Threads.resolve(threads, 1);
        String fmt = format.toLowerCase(Locale.ROOT);
        if (!fmt.equals("json") && !fmt.equals("tsv")) throw new JemmaException("--format: '" + format + "' is not json or tsv");
        if (out != null && Files.isDirectory(out)) throw new JemmaException(out + ": is a directory; -o names the output file");
        if (dimensions < 0) throw new JemmaException("--dim: " + dimensions + " must be positive, or 0 for all dimensions");
        if (context < 0) throw new JemmaException("-c: " + context + " must be >= 0");
        List<int[]> ids = null;
        if (idsFile != null) {
            if (out == null) throw new JemmaException("--ids-file writes raw f32 rows: name the output file with -o");
            if (!texts.isEmpty() || file != null) throw new JemmaException("--ids-file takes no texts");
            ids = readIdLists(idsFile);
        } else {
            readTexts();
        }
        // a bad --prompt is refused before loading
        if (prompt != null) {
            try {
                dev.jemma.core.embed.TaskPrompts.prefix(prompt);
            } catch (IllegalArgumentException e) {
                throw new JemmaException("--prompt: " + e.getMessage());
            }
        }
        Path path = ModelPaths.resolve(model);
        int longest = ids == null ? 0 : ids.stream().mapToInt(a -> a.length).max().orElse(0);
        EngineOptions opts = EngineOptions.builder().threads(threads).exact(exact).contextLength(Math.max(context, ids == null ? 0 : longest)).build();
        try (Embedder e = load(path, opts)) {
            if (ids != null) {
                writeRaw(e.embedIds(ids), dimensions > 0 ? dimensions : e.dimension());
                return 0;
            }
            if (dimensions > e.dimension()) throw new JemmaException("--dim: " + dimensions + " exceeds the model's " + e.dimension() + " dimensions");
            Embeddings r;
            try {
                r = e.embed(new EmbedRequest(texts, prompt, dimensions, !noTruncate));
            } catch (IllegalArgumentException ex) {
                throw new JemmaException(ex.getMessage());
            }
            for (int i = 0; i < texts.size(); i++) {
                if (r.truncated()[i]) System.err.println("jemma: text " + (i + 1) + " was cut to " + e.maxTokens() + " tokens (--no-truncate refuses instead)");
            }
            String text = fmt.equals("json") ? json(e, r) : tsv(r);
            if (out == null) {
                PrintStream o = new PrintStream(System.out, true, StandardCharsets.UTF_8);
                o.print(text);
                o.flush();
            } else {
                writeAtomically(text.getBytes(StandardCharsets.UTF_8));
            }
        }
        return 0;
    }

    private Embedder load(Path path, EngineOptions opts) {
        try {
            return Embedder.load(path, opts, pooling);
        } catch (IllegalArgumentException ex) {
            throw new JemmaException("--pooling: " + ex.getMessage());
        }
    }

    private void readTexts() throws IOException {
        if (file != null) {
            if (!texts.isEmpty()) throw new JemmaException("give texts as arguments or with --file, not both");
            String content;
            if (file.toString().equals("-")) {
                content = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
            } else {
                if (!Files.isRegularFile(file)) throw new JemmaException(file + (Files.isDirectory(file) ? ": is a directory, not a file" : ": no such file"));
                content = Files.readString(file, StandardCharsets.UTF_8);
            }
            content.lines().filter(l -> !l.isBlank()).forEach(texts::add);
            if (texts.isEmpty()) throw new JemmaException(file + ": no texts (one per line)");
        } else if (texts.isEmpty()) {
            var console = System.console();
            if (console != null && console.isTerminal()) throw new JemmaException("no text to embed: give TEXT arguments, --file FILE, or pipe lines to stdin");
            new String(System.in.readAllBytes(), StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).forEach(texts::add);
            if (texts.isEmpty()) throw new JemmaException("no text to embed on stdin");
        }
    }

    private String json(Embedder e, Embeddings r) throws JsonProcessingException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", model);
        m.put("dimension", r.dimension());
        m.put("prompt", prompt == null ? "none" : prompt);
        m.put("pooling", e.pooling());
        List<Object> rows = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("index", i);
            row.put("text", texts.get(i));
            row.put("tokens", r.tokenCounts()[i]);
            if (r.truncated()[i]) row.put("truncated", true);
            row.put("embedding", r.vectors().get(i));
            rows.add(row);
        }
        m.put("embeddings", rows);
        return new ObjectMapper().writeValueAsString(m) + "\n";
    }

    private String tsv(Embeddings r) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < texts.size(); i++) {
            sb.append(texts.get(i).replace('\t', ' '));
            for (float x : r.vectors().get(i)) sb.append('\t').append(x);
            sb.append('\n');
        }
        return sb.toString();
    }

    private void writeRaw(float[][] rows, int dims) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(rows.length * dims * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float[] row : rows) {
            float[] v = dims < row.length ? Embedder.matryoshka(row, dims) : row;
            if (dims > row.length) throw new JemmaException("--dim: " + dims + " exceeds the model's " + row.length + " dimensions");
            for (float x : v) buf.putFloat(x);
        }
        writeAtomically(buf.array());
    }

    private void writeAtomically(byte[] bytes) throws IOException {
        Path tmp = out.toAbsolutePath().resolveSibling(out.getFileName() + ".tmp");
        try {
            try (OutputStream os = Files.newOutputStream(tmp)) {
                os.write(bytes);
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** A JSON list of id lists, or a single list of ids (one text). */
    static List<int[]> readIdLists(Path f) {
        if (!Files.isRegularFile(f)) throw new JemmaException(f + (Files.isDirectory(f) ? ": is a directory, not a file" : ": no such file"));
        try {
            var node = new ObjectMapper().readTree(f.toFile());
            if (node == null || !node.isArray() || node.isEmpty()) throw new JemmaException(f + ": expected a non-empty JSON list of id lists");
            List<int[]> out = new ArrayList<>();
            if (node.get(0).isNumber()) {
                out.add(new ObjectMapper().treeToValue(node, int[].class));
            } else {
                for (var n : node) {
                    if (!n.isArray() || n.isEmpty()) throw new JemmaException(f + ": entry " + out.size() + " is not a non-empty list of ids");
                    out.add(new ObjectMapper().treeToValue(n, int[].class));
                }
            }
            return out;
        } catch (IOException e) {
            throw new JemmaException(f + ": not a JSON list of id lists (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }
}
