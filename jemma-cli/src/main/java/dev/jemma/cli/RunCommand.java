package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.Generation;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.engine.StopReason;
import dev.jemma.core.engine.TokenListener;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;
import java.util.concurrent.Callable;

/**
 * {@code jemma run [MODEL] [PROMPT]}: one answer, streamed to stdout. The prompt comes from the argument or stdin;
 * with no MODEL the bundled demo model answers; with no prompt on a terminal it becomes {@code jemma chat}.
 */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Answer one prompt (from the argument or stdin), streaming the output.")
final class RunCommand implements Callable<Integer> {
    @Parameters(arity = "0..*", paramLabel = "[MODEL] [PROMPT]", description = "GGUF file or model name (default: the bundled demo model; a single argument that is not a model is the prompt), then the prompt (default: stdin; several words are joined, as Ollama does)")
    List<String> positional = new ArrayList<>();

    @Mixin
    GenerationFlags flags;

    @Option(names = "--system", paramLabel = "TEXT", description = "system prompt")
    String system;

    @Option(names = "--raw", description = "no chat template: continue the prompt text as is (BOS still added)")
    boolean raw;

    @Option(names = "--ids", description = "print the generated token ids as one JSON array instead of text")
    boolean ids;

    @Option(names = "--audio", paramLabel = "WAV", description = "Gemma 3n: an audio clip (WAV, at most 30 s) sent with the prompt (repeatable)")
    List<Path> audio = new ArrayList<>();

    @Option(names = "--verbose", description = "print timings (prompt and generation tokens/s) to stderr")
    boolean verbose;

    @Option(names = "--image", paramLabel = "IMG", description = "an image for a vision model (PNG, JPEG, GIF, BMP, WebP; repeatable); each <start_of_image> in the prompt places one, the others go first")
    List<Path> images = new ArrayList<>();

    @Override
    public Integer call() throws IOException {
        long t0 = System.nanoTime();
        String modelArg = null, prompt = null;
        if (positional.size() >= 2) {
            modelArg = positional.get(0);
            prompt = String.join(" ", positional.subList(1, positional.size()));
        } else if (positional.size() == 1) {
            String a = positional.get(0);
            if (ModelPaths.isModel(a) || a.toLowerCase().endsWith(".gguf")) modelArg = a;
            else prompt = a;
        }
        Path model = modelArg != null ? ModelPaths.resolve(modelArg) : ModelPaths.demoModel();
        // the demo model ends a chat answer by itself; continued as raw text it would run to the end of a chapter
        if (modelArg == null && raw && flags.maxTokens == null) flags.maxTokens = ModelPaths.DEMO_MAX_TOKENS;
        if (prompt == null) {
            var console = System.console();
            if (console != null && console.isTerminal()) {
                if (!images.isEmpty()) throw new JemmaException("--image needs a prompt (in an interactive chat, attach images with /image PATH)");
                // like `ollama run MODEL`: no prompt on a terminal means an interactive chat
                return ChatCommand.interactive(model, flags, system);
            }
            prompt = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (prompt.isBlank()) throw new JemmaException("the prompt is empty");
        if (raw && !audio.isEmpty()) throw new JemmaException("--audio needs the chat template: it cannot be combined with --raw");
        List<dev.jemma.core.chat.ChatAudio> clips = new ArrayList<>();
        for (Path a : audio) clips.add(AudioFiles.chatAudio(a));
        // UTF-8 whatever the platform encoding; wraps the current System.out so in-process callers can capture it
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        List<dev.jemma.core.chat.ChatImage> attached = new ArrayList<>();
        for (Path p : images) attached.add(dev.jemma.core.chat.ChatImage.read(p));
        try (Engine engine = flags.load(model, !images.isEmpty()); Session session = engine.newSession(system)) {
            GenerationOptions opts = flags.options();
            PrintStream o = out;
            StringBuilder printed = new StringBuilder();
            boolean[] interrupted = {false};
            TokenListener listener = ids ? TokenListener.NONE : t -> {
                synchronized (printed) {
                    if (interrupted[0]) return;
                    o.print(t.text());
                    o.flush();
                    // the reader went away (`jemma run … | head`): stop computing tokens nobody reads
                    if (o.checkError()) session.cancel();
                    if (!t.text().isEmpty()) {
                        printed.setLength(0);
                        printed.append(t.text().charAt(t.text().length() - 1));
                    }
                }
            };
            // Ctrl-C ends the JVM (exit 130); end the half-printed line first so the shell prompt starts on its own line
            Thread newlineOnInterrupt = new Thread(() -> {
                synchronized (printed) {
                    interrupted[0] = true;
                    if (!printed.isEmpty() && printed.charAt(0) != '\n') o.println();
                    o.flush();
                }
            }, "jemma-run-interrupt");
            Runtime.getRuntime().addShutdownHook(newlineOnInterrupt);
            Generation g;
            try {
                if (raw) {
                    if (system != null) System.err.println("jemma: --system is ignored with --raw");
                    g = session.complete(prompt, attached, opts, listener);
                } else {
                    g = session.chat(dev.jemma.core.chat.ChatMessage.user(prompt, attached, clips), opts, listener);
                }
            } finally {
                try {
                    Runtime.getRuntime().removeShutdownHook(newlineOnInterrupt);
                } catch (IllegalStateException shuttingDown) {
                    // the JVM is already exiting (Ctrl-C): the hook does its job
                }
            }
            if (ids) {
                StringJoiner j = new StringJoiner(", ", "[", "]");
                for (int id : g.tokens()) j.add(Integer.toString(id));
                out.println(j);
            } else if (printed.isEmpty() || printed.charAt(0) != '\n') {
                out.println();
            }
            out.flush();
            if (g.stopReason() == StopReason.CONTEXT_FULL) {
                System.err.println("jemma: stopped: the context of " + engine.contextLength() + " tokens is full (raise it with -c)");
            }
            if (verbose) printStats(engine, g, System.nanoTime() - t0);
        }
        return 0;
    }

    /** Ollama's --verbose block. */
    static void printStats(Engine engine, Generation g, long totalNanos) {
        PrintStream e = System.err;
        int processed = g.promptTokens() - g.reusedTokens();
        e.printf("total duration:       %s%n", dur(totalNanos));
        e.printf("load duration:        %s%n", dur(engine.loadNanos()));
        if (engine.weightPages() != null) e.printf("weights:              %s%n", engine.weightPages());
        e.printf("prompt eval count:    %d token(s)%s%n", processed, g.reusedTokens() > 0 ? " (" + g.reusedTokens() + " cached)" : "");
        e.printf("prompt eval duration: %s%n", dur(g.promptNanos()));
        e.printf("prompt eval rate:     %.2f tokens/s%n", g.promptTokensPerSecond());
        e.printf("eval count:           %d token(s)%n", g.tokens().length);
        e.printf("eval duration:        %s%n", dur(g.generationNanos()));
        e.printf("eval rate:            %.2f tokens/s%n", g.generationTokensPerSecond());
    }

    static String dur(long nanos) {
        double s = nanos / 1e9;
        if (s >= 60) return String.format("%dm%.3fs", (long) (s / 60), s % 60);
        if (s >= 1) return String.format("%.3fs", s);
        return String.format("%.3fms", nanos / 1e6);
    }
}
