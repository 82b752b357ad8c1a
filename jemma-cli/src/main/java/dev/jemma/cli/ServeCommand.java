package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.server.JemmaServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code jemma serve}: Ollama + OpenAI compatible HTTP server with a web chat page. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve models over the Ollama API (/api/…), the OpenAI API (/v1/…) and a web chat page (/).",
                "Models: every model in the local store, plus each -m MODEL (a .gguf path is served under its file name without .gguf)."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--host", paramLabel = "HOST", description = "address to bind (default ${DEFAULT-VALUE}; 0.0.0.0 exposes the server to the network)")
    String host = "127.0.0.1";

    @Option(names = "--port", paramLabel = "PORT", description = "TCP port (default ${DEFAULT-VALUE}, Ollama's)")
    int port = 11434;

    @Option(names = {"-m", "--model"}, paramLabel = "MODEL", description = "a .gguf file or store name to serve and load at start (repeatable)")
    List<String> models = new ArrayList<>();

    @Option(names = {"-np", "--parallel"}, paramLabel = "N", description = {"generations running at once, batched into one forward pass per step, "
            + "and the KV slots each model keeps (default ${DEFAULT-VALUE}: decoding is bound by reading the weights, so 4 streams "
            + "cost little more than 1; more requests queue)"})
    int parallel = JemmaServer.DEFAULT_PARALLEL;

    @Option(names = "--queue", paramLabel = "N", description = "requests allowed to wait for a slot; more get 503 (default ${DEFAULT-VALUE})")
    int queue = 16;

    @Option(names = "--api-key", paramLabel = "KEY", description = "require 'Authorization: Bearer KEY' on the APIs (or set JEMMA_API_KEY)")
    String apiKey = System.getenv("JEMMA_API_KEY");

    @Option(names = "--cors", paramLabel = "ORIGIN", description = "allow browser pages from ORIGIN to call the API ('*' = any; repeatable)")
    List<String> cors = new ArrayList<>();

    @Option(names = "--keep-alive", paramLabel = "DURATION", description = "how long an idle model stays loaded, e.g. 5m, 1h, -1 = forever (default ${DEFAULT-VALUE})")
    String keepAlive = "5m";

    @Option(names = {"-c", "--ctx-size", "--kv-budget"}, paramLabel = "TOKENS", description = {"KV budget: context tokens of all slots together, "
            + "split evenly among the --parallel slots, as llama-server's -c (e.g. -c 8192 --parallel 4: 2048 per conversation; "
            + "a request's num_ctx must fit one slot). Default: every slot the model's context, at most 8192"})
    int ctx;

    @Option(names = "--batch-chunk", paramLabel = "N", description = {"rows per model step while other streams generate "
            + "(chunked prefill): every running stream's next token and prompt tokens up to N rows in all (8 beside a single "
            + "stream; at least 4 prompt tokens), so a long prompt is processed a chunk at a time and other streams keep going; "
            + "a prompt alone takes the whole batch, and a short one joins the next step whole (--whole-prompt) "
            + "(default ${DEFAULT-VALUE}: the few-token "
            + "kernels' limit; 3 streams + 13 prompt tokens cost ~2.3x a decode step; docs/PERFORMANCE.md)"})
    int batchChunk = dev.jemma.core.engine.EngineOptions.DEFAULT_BATCH_CHUNK;

    @Option(names = "--whole-prompt", paramLabel = "N", description = {"a prompt of at most N tokens joins the next model "
            + "step whole, beside the running streams, as llama-server admits new prompts: one longer step for the streams, "
            + "and prompts arriving together start together (up to 4N rows of them a step; -Djemma.wholeStepCost=3 lets "
            + "only one such prompt a step join running streams, more only within ~3x their decode step); longer prompts "
            + "are chunked "
            + "(--batch-chunk). 0 or -1: chunk every "
            + "prompt (default: 256, or -Djemma.wholePrompt=N)"})
    Integer wholePrompt;

    @Option(names = "--admission-window", paramLabel = "MS", description = {"the longest a short prompt reaching a model with no "
            + "stream running waits for requests the server has received and is still preparing (parsing, chat template, "
            + "tokenizer), so a wave sent together shares one step instead of each waiting for the one before; it waits "
            + "only while such a request is pending, so a lone request starts at once (0 = never wait; no wait with "
            + "--parallel 1, nor once every slot's request has come) (default ${DEFAULT-VALUE})"})
    int admissionWindow = JemmaServer.DEFAULT_ADMISSION_MILLIS;

    @Option(names = {"-t", "--threads"}, paramLabel = "THREADS", description = "compute threads (default: all cores)")
    int threads;

    @Option(names = "--exact", description = "dequantize weights exactly and compute in f32 (slow)")
    boolean exact;

    /**
     * run's and chat's sampler flags, here every served model's defaults, as llama-server takes them: a request's own
     * field wins, and a flag beats the GGUF's general.sampling.* recommendation.
     */
    @Mixin
    SamplingFlags sampling = new SamplingFlags();

    @Override
    public Integer call() throws InterruptedException {
        JemmaServer.Config c = config();
        JemmaServer server = JemmaServer.listen(c);
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "jemma-shutdown"));
        // a -m model is loaded and its kernels compiled before it is served (/health says 503 meanwhile): seconds for a
        // 1B, about half a minute for a 12B on two cores. Said once the wait is a second long; a bad file fails sooner,
        // with its one line and nothing else
        List<String> preload = server.explicitModelNames();
        // the line and the load's end take one lock, so the line never comes after the load has ended (its error line, or
        // the serving lines, would then come before it)
        Object lock = new Object();
        boolean[] ended = {false}, told = {false};
        Thread teller = Thread.ofVirtual().start(() -> {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
            synchronized (lock) {
                if (ended[0] || preload.isEmpty()) return;
                told[0] = true;
                System.err.println("jemma: loading " + String.join(", ", preload) + " and compiling its kernels (" + server.uri()
                        + "/health answers 503 until ready)");
            }
        });
        try {
            server.loadModels((name, millis) -> {
                synchronized (lock) {
                    if (told[0]) System.err.printf(java.util.Locale.ROOT, "jemma: %s ready in %.1f s%n", name, millis / 1000.0);
                }
            });
        } finally {
            synchronized (lock) {
                ended[0] = true;
            }
            teller.interrupt();
        }
        System.err.println("jemma: serving " + server.uri() + "  (Ollama API /api, OpenAI API /v1, chat page /)");
        List<String> names = server.modelNames();
        System.err.println("jemma: models: " + (names.isEmpty() ? "none yet (jemma pull NAME, or -m FILE.gguf)" : String.join(", ", names)));
        String exposed = server.exposureWarning();
        if (exposed != null) System.err.println(exposed);
        server.join();
        return 0;
    }

    /** The server's settings from the flags, each bad value refused with one line. */
    JemmaServer.Config config() {
        if (parallel < 1) throw new JemmaException("--parallel must be at least 1, got " + parallel);
        if (queue < 0) throw new JemmaException("--queue must be >= 0, got " + queue);
        if (ctx < 0) throw new JemmaException("-c must be >= 0, got " + ctx);
        if (batchChunk < 1) throw new JemmaException("--batch-chunk must be at least 1, got " + batchChunk);
        if (admissionWindow < 0 || admissionWindow > dev.jemma.core.engine.EngineOptions.MAX_ADMISSION_MILLIS) {
            throw new JemmaException("--admission-window must be 0…" + dev.jemma.core.engine.EngineOptions.MAX_ADMISSION_MILLIS + " ms, got " + admissionWindow);
        }
        if (port < 0 || port > 65535) throw new JemmaException("--port must be 0…65535, got " + port);
        // no browser sends an empty Origin: "" allowed no page, yet turned CORS on (preflights no longer refused as off)
        if (cors.stream().anyMatch(String::isBlank)) {
            throw new JemmaException("--cors: an empty origin allows no page; give one as scheme://host[:port], or '*' for any");
        }
        threads = Threads.resolve(threads, 0);
        var defaults = sampling.any() ? sampling.options() : null;
        return JemmaServer.Config.defaults().withHost(host).withPort(port).withModels(models)
                .withLimits(parallel, queue, Duration.ofMinutes(5))
                .withSecurity(apiKey == null || apiKey.isBlank() ? null : apiKey, cors)
                .withKeepAlive(parseDuration(keepAlive)).withEngine(threads, exact, ctx).withBatchChunk(batchChunk)
                .withWholePrompt(wholePromptSetting(wholePrompt)).withAdmissionWindow(admissionWindow)
                .withSampling(defaults);
    }

    /** Largest {@code --whole-prompt}: a step takes up to 4 × this many rows of whole prompts, well inside an int. */
    static final int MAX_WHOLE_PROMPT = 1 << 20;

    /**
     * {@code --whole-prompt} as the engine takes it: unset = 0 (the engine's default, which {@code -Djemma.wholePrompt}
     * may change), 0 or -1 = -1 (chunk every prompt), N > 0 = N.
     */
    static int wholePromptSetting(Integer flag) {
        if (flag == null) return 0;
        if (flag < -1 || flag > MAX_WHOLE_PROMPT) {
            throw new JemmaException("--whole-prompt must be a token count 1…" + MAX_WHOLE_PROMPT + ", or 0 or -1 to chunk every prompt, got " + flag);
        }
        return flag <= 0 ? -1 : flag;
    }

    static Duration parseDuration(String s) {
        String t = s.strip();
        try {
            if (t.matches("-\\d+.*")) return Duration.ofSeconds(-1);
            if (t.matches("\\d+")) return Duration.ofSeconds(Long.parseLong(t));
            return Duration.parse("PT" + t.toUpperCase());
        } catch (RuntimeException e) {
            throw new JemmaException("--keep-alive: cannot parse '" + s + "' (examples: 30s, 5m, 1h, -1)");
        }
    }
}
