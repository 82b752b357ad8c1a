package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.Generation;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.engine.StopReason;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import static dev.jemma.core.engine.SamplerSetting.*;

/**
 * {@code jemma chat MODEL}: an interactive, streaming, multi-turn conversation with line editing and history
 * (JLine), Ollama-style commands ({@code /bye /clear /help /set …}) and {@code """} multi-line input. Ctrl-C stops
 * the answer being written, not the chat; Ctrl-D or {@code /bye} leaves.
 */
@Command(name = "chat", mixinStandardHelpOptions = true, description = "Chat with a model interactively.")
final class ChatCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL", description = "GGUF file or model name (default: the bundled demo model)")
    String model;

    @Mixin
    GenerationFlags flags;

    @Option(names = "--system", paramLabel = "TEXT", description = "system prompt")
    String system;

    @Option(names = "--verbose", description = "print timings after each answer")
    boolean verbose;

    @Override
    public Integer call() throws IOException {
        Path path = model != null ? ModelPaths.resolve(model) : ModelPaths.demoModel();
        return new Chat(flags, system, verbose).run(path);
    }

    /** Entry used by {@code jemma run MODEL} without a prompt on a terminal. */
    static int interactive(Path model, GenerationFlags flags, String system) throws IOException {
        return new Chat(flags, system, false).run(model);
    }

    private static final String HELP = """
            Available commands:
              /set parameter NAME VALUE   set a sampling parameter (also: /set NAME VALUE)
                                          temperature, top_k, top_p, min_p, seed, num_predict,
                                          repeat_penalty, repeat_last_n, presence_penalty, frequency_penalty, stop,
                                          typical_p, mirostat, mirostat_tau, mirostat_eta, xtc_probability,
                                          xtc_threshold, dry_multiplier, dry_base, dry_allowed_length,
                                          dry_penalty_last_n, top_n_sigma,
                                          samplers (names separated by ';', or letters: /set samplers kt;
                                          /set samplers default: the model's order again)
              /set system TEXT            set the system prompt (starts a new conversation)
              /set verbose | quiet        show or hide timings after each answer
              /image PATH                 attach an image to your next message (repeatable; vision models)
              /show                       show the model and the current settings
              /audio FILE.wav             attach an audio clip to the next message (Gemma 3n with its mmproj)
              /clear                      forget the conversation
              /bye                        exit
              /?, /help                   this help
            Use \"\"\" to begin and end a multi-line message. Ctrl-C stops an answer; Ctrl-D exits.""";

    /** One interactive session's state. */
    private static final class Chat {
        private final GenerationFlags flags;
        private String system;
        private boolean verbose;
        private GenerationOptions options;

        Chat(GenerationFlags flags, String system, boolean verbose) {
            this.flags = flags;
            this.system = system;
            this.verbose = verbose;
            this.options = flags.options();
        }

        /** Where lines come from: JLine on a terminal, a plain reader on piped input. */
        private interface Lines extends AutoCloseable {
            /** The next line, or null at end of input; throws JLine's UserInterruptException on Ctrl-C. */
            String read(String prompt);

            PrintWriter out();

            /** Runs {@code body} with Ctrl-C bound to {@code onInterrupt}. */
            void whileInterruptible(Runnable onInterrupt, Runnable body);

            @Override
            void close() throws IOException;
        }

        private static final class JLineLines implements Lines {
            private final Terminal terminal;
            private final LineReader reader;

            JLineLines() throws IOException {
                terminal = TerminalBuilder.builder().system(true).dumb(true).build();
                LineReaderBuilder rb = LineReaderBuilder.builder().terminal(terminal).appName("jemma")
                        .option(LineReader.Option.DISABLE_EVENT_EXPANSION, true);
                Path hist = historyFile();
                if (hist != null) rb.variable(LineReader.HISTORY_FILE, hist);
                reader = rb.build();
            }

            @Override
            public String read(String prompt) {
                try {
                    return reader.readLine(prompt);
                } catch (EndOfFileException e) {
                    return null;
                }
            }

            @Override
            public PrintWriter out() {
                return terminal.writer();
            }

            @Override
            public void whileInterruptible(Runnable onInterrupt, Runnable body) {
                Terminal.SignalHandler previous = terminal.handle(Terminal.Signal.INT, s -> onInterrupt.run());
                try {
                    body.run();
                } finally {
                    terminal.handle(Terminal.Signal.INT, previous);
                }
            }

            @Override
            public void close() throws IOException {
                terminal.close();
            }
        }

        /** Piped input: no echo, no editing; reads the current System.in so in-process callers can substitute it. */
        private static final class PlainLines implements Lines {
            private final java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, java.nio.charset.StandardCharsets.UTF_8));
            private final PrintWriter out = new PrintWriter(new java.io.OutputStreamWriter(System.out, java.nio.charset.StandardCharsets.UTF_8), true);

            @Override
            public String read(String prompt) {
                out.print(prompt);
                out.flush();
                String line;
                try {
                    line = in.readLine();
                } catch (IOException e) {
                    line = null;
                }
                // end of input: end the prompt's line, so what prints next (the shell's prompt) starts its own
                if (line == null) out.println();
                return line;
            }

            @Override
            public PrintWriter out() {
                return out;
            }

            @Override
            public void whileInterruptible(Runnable onInterrupt, Runnable body) {
                body.run();
            }

            @Override
            public void close() {
                out.flush();
            }
        }

        int run(Path path) throws IOException {
            var console = System.console();
            boolean tty = console != null && console.isTerminal();
            try (Lines lines = tty ? new JLineLines() : new PlainLines();
                 Engine engine = flags.load(path, true)) {
                PrintWriter out = lines.out();
                Session session = engine.newSession(system);
                // on a terminal, say once how to get help and leave (Ollama shows this as the prompt's placeholder)
                if (tty) out.println("Send a message (/? for help, /bye or Ctrl-D to exit)");
                try {
                    while (true) {
                        String input;
                        try {
                            input = readMessage(lines);
                        } catch (UserInterruptException e) {
                            out.println("Use Ctrl + d or /bye to exit.");
                            out.flush();
                            continue;
                        }
                        if (input == null) break;
                        String line = input.strip();
                        if (line.isEmpty()) continue;
                        if (line.startsWith("/")) {
                            String[] w = line.split("\\s+", 2);
                            String cmd = w[0].toLowerCase(Locale.ROOT);
                            if (cmd.equals("/bye") || cmd.equals("/exit") || cmd.equals("/quit")) break;
                            if (cmd.equals("/clear")) {
                                session.clear();
                                out.println("Cleared session context.");
                            } else if (cmd.equals("/help") || cmd.equals("/?")) {
                                out.println(HELP);
                            } else if (cmd.equals("/image")) {
                                attach(out, engine, w.length > 1 ? w[1].strip() : "");
                            } else if (cmd.equals("/audio")) {
                                attachAudio(out, engine, w.length > 1 ? w[1].strip() : "");
                            } else if (cmd.equals("/show")) {
                                show(out, engine);
                            } else if (cmd.equals("/set")) {
                                Session s = set(out, w.length > 1 ? w[1] : "", engine, session);
                                if (s != session) {
                                    session.close();
                                    session = s;
                                }
                            } else {
                                out.println("Unknown command '" + w[0] + "'. Type /? for help");
                            }
                            out.flush();
                            continue;
                        }
                        answer(lines, out, engine, session, input);
                    }
                } finally {
                    session.close();
                }
            }
            return 0;
        }

        private static Path historyFile() {
            try {
                Path dir = Path.of(System.getProperty("user.home"), ".jemma");
                Files.createDirectories(dir);
                return dir.resolve("chat_history");
            } catch (Exception e) {
                return null; // no writable home: history only in memory
            }
        }

        /** One message: a line, or everything between two {@code """}. Null at end of input. */
        private static String readMessage(Lines lines) {
            String line = lines.read(">>> ");
            if (line == null) return null;
            String t = line.stripLeading();
            if (!t.startsWith("\"\"\"")) return line;
            StringBuilder sb = new StringBuilder();
            String rest = t.substring(3);
            while (true) {
                int end = rest.indexOf("\"\"\"");
                if (end >= 0) {
                    sb.append(rest, 0, end);
                    return sb.toString();
                }
                sb.append(rest).append('\n');
                rest = lines.read("... ");
                if (rest == null) return sb.toString();
            }
        }

        private void answer(Lines lines, PrintWriter out, Engine engine, Session session, String message) {
            lines.whileInterruptible(session::cancel, () -> answer(out, engine, session, message));
        }

        /** Images attached with /image, sent with the next message. */
        private final java.util.List<dev.jemma.core.chat.ChatImage> attached = new java.util.ArrayList<>();

        private void attach(PrintWriter out, Engine engine, String path) {
            if (path.isEmpty()) {
                out.println("Usage: /image PATH");
            } else if (!engine.supportsImages()) {
                out.println("This model takes no images: it has no vision tower (give a Gemma 3 model its mmproj file, --mmproj).");
            } else {
                try {
                    Path p = Path.of(path.startsWith("~/") ? System.getProperty("user.home") + path.substring(1) : path);
                    var image = dev.jemma.core.chat.ChatImage.read(p);
                    dev.jemma.core.vision.ImageDecoder.decode(image.bytes(), p.toString());   // a bad image is refused now, not with the message
                    attached.add(image);
                    out.println("Added image '" + p + "'" + (attached.size() > 1 ? " (" + attached.size() + " images for the next message)" : ""));
                } catch (JemmaException | java.nio.file.InvalidPathException e) {
                    out.println(e.getMessage());
                }
            }
        }

        /** Clips attached with /audio, sent with the next message. */
        private final List<dev.jemma.core.chat.ChatAudio> pendingAudio = new java.util.ArrayList<>();

        private void attachAudio(PrintWriter out, Engine engine, String file) {
            if (file.isEmpty()) {
                out.println("Usage: /audio FILE.wav");
                return;
            }
            if (!engine.supportsAudio()) {
                out.println("This model takes no audio: it needs a Gemma 3n model with its mmproj file (--mmproj).");
                return;
            }
            try {
                if ((file.startsWith("\"") && file.endsWith("\"")) || (file.startsWith("'") && file.endsWith("'"))) file = file.substring(1, file.length() - 1);
                pendingAudio.add(AudioFiles.chatAudio(Path.of(file)));
                out.println("Added " + file + " to the next message.");
            } catch (JemmaException | java.nio.file.InvalidPathException e) {
                out.println(e.getMessage());
            }
        }

        private void answer(PrintWriter out, Engine engine, Session session, String message) {
            long t0 = System.nanoTime();
            boolean[] endsWithNewline = {true};
            List<dev.jemma.core.chat.ChatAudio> clips = List.copyOf(pendingAudio);
            pendingAudio.clear();
            try {
                var images = java.util.List.copyOf(attached);
                attached.clear();
                Generation g = session.chat(dev.jemma.core.chat.ChatMessage.user(message, images, clips), options, t -> {
                    if (t.text().isEmpty()) return;
                    out.print(t.text());
                    out.flush();
                    endsWithNewline[0] = t.text().endsWith("\n");
                });
                if (!endsWithNewline[0]) out.println();
                if (g.stopReason() == StopReason.CANCELLED) out.println("(stopped)");
                if (g.stopReason() == StopReason.CONTEXT_FULL) out.println("(the context is full; older turns will be dropped — or /clear)");
                out.println();
                out.flush();
                if (verbose) RunCommand.printStats(engine, g, System.nanoTime() - t0);
            } catch (JemmaException e) {
                out.println();
                out.println("jemma: " + e.getMessage());
                out.flush();
            }
        }

        private void show(PrintWriter out, Engine engine) {
            var c = engine.config();
            out.printf("  model        %s%n", engine.path());
            out.printf("  architecture %s, %d layers, embedding %d, vocabulary %d%n", c.architecture(), c.layers(), c.dim(), c.vocabSize());
            out.printf("  context      %d tokens%n", engine.contextLength());
            out.printf("  template     %s%n", engine.chatTemplate().isBuiltIn() ? "built-in Gemma format" : "from the file");
            out.printf("  system       %s%n", system == null ? "(none)" : system);
            GenerationOptions o = options.orElse(engine.defaults());
            var sp = o.sampling();
            out.printf("  sampling     temperature %s, top_k %d, top_p %s, min_p %s, repeat_penalty %s, seed %s, num_predict %s%s%n",
                    sp.temperature(), sp.topK(), sp.topP(), sp.minP(), sp.repeatPenalty(),
                    o.seed() == null || o.seed() == GenerationOptions.RANDOM_SEED ? "random" : o.seed(), o.maxTokensOrUnlimited() < 0 ? "unlimited" : o.maxTokensOrUnlimited(),
                    o.stopOrEmpty().isEmpty() ? "" : ", stop " + o.stopOrEmpty());
            // the other samplers only once one is on
            StringBuilder more = new StringBuilder();
            if (sp.topNSigma() > 0) more.append(", top_n_sigma ").append(sp.topNSigma());
            if (sp.typicalP() < 1f) more.append(", typical_p ").append(sp.typicalP());
            if (sp.mirostat().on()) more.append(", mirostat ").append(sp.mirostat().version()).append(" (tau ").append(sp.mirostat().tau())
                    .append(", eta ").append(sp.mirostat().eta()).append(')');
            if (sp.xtc().on()) more.append(", xtc ").append(sp.xtc().probability()).append(" above ").append(sp.xtc().threshold());
            if (sp.dry().on()) more.append(", dry ").append(sp.dry().multiplier()).append(" (base ").append(sp.dry().base())
                    .append(", allowed ").append(sp.dry().allowedLength()).append(')');
            if (!sp.samplers().equals(dev.jemma.core.sampling.SamplerChain.DEFAULT)) {
                more.append(", samplers ").append(sp.samplers()).append(sp.mirostat().on() ? " (ignored under Mirostat)" : "");
            }
            if (!more.isEmpty()) out.printf("               %s%n", more.substring(2));
        }

        /**
         * /set samplers: names separated by ';' (one name alone too: "temp" is temperature), else one letter per stage
         * ("kt"); a bad one is the one line naming it. "default" is the model's order — the file's
         * general.sampling.sequence where it has one, else llama.cpp's — and not the engine's defaults, which carry
         * --samplers ("default" read as letters would be refused at its 'f').
         */
        private static dev.jemma.core.sampling.SamplerChain samplers(String value, Engine engine) {
            if (value.equalsIgnoreCase("default")) {
                var file = engine.fileSampling().samplers();
                return file != null ? file : dev.jemma.core.sampling.SamplerChain.DEFAULT;
            }
            try {
                boolean names = value.contains(";") || dev.jemma.core.sampling.SamplerStage.named(value) != null;
                return names ? dev.jemma.core.sampling.SamplerChain.ofNames(value) : dev.jemma.core.sampling.SamplerChain.ofLetters(value);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("samplers " + value + ": " + e.getMessage());
            }
        }

        /** Handles {@code /set …}; returns the session to use from now on (a new one when the system prompt changes). */
        /** The names /set takes a value for (the switch below applies them). */
        private static final java.util.Set<String> PARAMETERS = java.util.Set.of("temperature", "temp", "top_k", "top-k", "top_p",
                "top-p", "min_p", "min-p", "seed", "num_predict", "n_predict", "max_tokens", "repeat_penalty", "repeat_last_n",
                "presence_penalty", "frequency_penalty", "stop", "typical_p", "mirostat", "mirostat_tau", "mirostat_eta",
                "xtc_probability", "xtc_threshold", "dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n", "top_n_sigma",
                "samplers");

        private Session set(PrintWriter out, String args, Engine engine, Session session) {
            String[] w = args.strip().split("\\s+", 2);
            String what = w[0].toLowerCase(Locale.ROOT);
            if (what.equals("parameter")) {
                String[] p = (w.length > 1 ? w[1] : "").strip().split("\\s+", 2);
                what = p[0].toLowerCase(Locale.ROOT);
                w = p;
            }
            String value = w.length > 1 ? w[1].strip() : "";
            switch (what) {
                case "system" -> {
                    system = value.isEmpty() ? null : value;
                    out.println("Set system message (the conversation starts over).");
                    return engine.newSession(system);
                }
                case "verbose" -> {
                    verbose = true;
                    out.println("Set 'verbose' mode.");
                    return session;
                }
                case "quiet" -> {
                    verbose = false;
                    out.println("Set 'quiet' mode.");
                    return session;
                }
                case "" -> {
                    out.println("Usage: /set parameter NAME VALUE (see /?)");
                    return session;
                }
                // Ollama's thinking switches: Gemma 3 never thinks before it answers
                case "nothink" -> {
                    out.println("Set 'nothink' mode (this model never thinks before it answers).");
                    return session;
                }
                case "think" -> {
                    out.println("This model has no thinking mode (Gemma 3 does not think before it answers).");
                    return session;
                }
                default -> {
                }
            }
            if (!PARAMETERS.contains(what)) {
                out.println("Unknown parameter '" + what + "'. Type /? for help");
                return session;
            }
            if (value.isEmpty()) {
                out.println("Usage: /set parameter " + what + " VALUE");
                return session;
            }
            GenerationOptions.Builder b = options.toBuilder();
            try {
                switch (what) {
                    case "temperature", "temp" -> b.temperature(TEMPERATURE.check(what, Float.parseFloat(value), value));
                    case "top_k", "top-k" -> b.topK(TOP_K.check(what, Integer.parseInt(value), value));
                    case "top_p", "top-p" -> b.topP(TOP_P.check(what, Float.parseFloat(value), value));
                    case "min_p", "min-p" -> b.minP(MIN_P.check(what, Float.parseFloat(value), value));
                    case "seed" -> b.seed(Long.parseLong(value));
                    case "num_predict", "n_predict", "max_tokens" -> b.maxTokens(NUM_PREDICT.check(what, Integer.parseInt(value), value));
                    case "repeat_penalty" -> b.repeatPenalty(REPEAT_PENALTY.check(what, Float.parseFloat(value), value));
                    case "repeat_last_n" -> b.repeatLastN(REPEAT_LAST_N.check(what, Integer.parseInt(value), value));
                    case "presence_penalty" -> b.presencePenalty(PRESENCE_PENALTY.check(what, Float.parseFloat(value), value));
                    case "frequency_penalty" -> b.frequencyPenalty(FREQUENCY_PENALTY.check(what, Float.parseFloat(value), value));
                    case "typical_p" -> b.typicalP(TYPICAL_P.check(what, Float.parseFloat(value), value));
                    case "mirostat" -> b.mirostat(MIROSTAT.check(what, Integer.parseInt(value), value));
                    case "mirostat_tau" -> b.mirostatTau(MIROSTAT_TAU.check(what, Float.parseFloat(value), value));
                    case "mirostat_eta" -> b.mirostatEta(MIROSTAT_ETA.check(what, Float.parseFloat(value), value));
                    case "xtc_probability" -> b.xtcProbability(XTC_PROBABILITY.check(what, Float.parseFloat(value), value));
                    case "xtc_threshold" -> b.xtcThreshold(XTC_THRESHOLD.check(what, Float.parseFloat(value), value));
                    case "dry_multiplier" -> b.dryMultiplier(DRY_MULTIPLIER.check(what, Float.parseFloat(value), value));
                    case "dry_base" -> b.dryBase(DRY_BASE.check(what, Float.parseFloat(value), value));
                    case "dry_allowed_length" -> b.dryAllowedLength(DRY_ALLOWED_LENGTH.check(what, Integer.parseInt(value), value));
                    case "dry_penalty_last_n" -> b.dryPenaltyLastN(DRY_PENALTY_LAST_N.check(what, Integer.parseInt(value), value));
                    case "top_n_sigma" -> b.topNSigma(TOP_N_SIGMA.check(what, Float.parseFloat(value), value));
                    case "samplers" -> b.samplers(samplers(value, engine));
                    case "stop" -> {
                        List<String> stops = new ArrayList<>(options.stopOrEmpty());
                        stops.add(value);
                        b.stop(stops);
                    }
                    default -> {
                        out.println("Unknown parameter '" + what + "'. Type /? for help");
                        return session;
                    }
                }
                options = b.build();
                out.println("Set parameter '" + what + "' to '" + value + "'");
            } catch (NumberFormatException e) {
                out.println("'" + value + "' is not a number");
            } catch (IllegalArgumentException e) {
                out.println(e.getMessage());
            }
            return session;
        }
    }
}
