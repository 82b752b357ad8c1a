package dev.jemma.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.URI;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code jemma loadtest}: drives a running server — {@code jemma serve}, {@code llama-server}, Ollama — with C concurrent
 * streaming clients sending M requests of a P-token prompt and G generated tokens each, and reports aggregate generated
 * tokens/s, requests/s, time to first token and inter-token latency percentiles. One client for every server, so a
 * comparison measures the servers, not the clients ({@link LoadRun} does the work).
 */
@Command(name = "loadtest", mixinStandardHelpOptions = true,
        description = {"Load-test a running server with concurrent streaming clients (OpenAI /v1/completions or Ollama /api/generate).",
                "Works against jemma serve, llama-server and Ollama alike: aggregate tokens/s, requests/s, TTFT and inter-token p50/p95/p99."})
final class LoadTestCommand implements Callable<Integer> {
    @Option(names = "--url", paramLabel = "URL", description = "the server (default ${DEFAULT-VALUE})")
    String url = "http://127.0.0.1:11434";

    @Option(names = "--api", paramLabel = "API", description = "openai (/v1/completions, SSE) or ollama (/api/generate, NDJSON) (default ${DEFAULT-VALUE})")
    String api = "openai";

    @Option(names = {"-m", "--model"}, paramLabel = "NAME", description = "model name sent with each request (default ${DEFAULT-VALUE}; llama-server takes any)")
    String model = "default";

    @Option(names = {"-C", "--concurrency"}, paramLabel = "C", description = "concurrent clients (default ${DEFAULT-VALUE})")
    int concurrency = 4;

    @Option(names = {"-n", "--requests"}, paramLabel = "M", description = "requests in all (default ${DEFAULT-VALUE})")
    int requests = 32;

    @Option(names = {"-p", "--prompt-tokens"}, paramLabel = "P", description = "prompt tokens per request (default ${DEFAULT-VALUE}; exact with --tokenizer, else about)")
    int promptTokens = 128;

    @Option(names = {"--prompt-tokens-max"}, paramLabel = "P2", description = "draw each prompt's length uniformly from P..P2 (default: all P)")
    int promptTokensMax;

    @Option(names = {"-g", "--gen-tokens"}, paramLabel = "G", description = "tokens generated per request (default ${DEFAULT-VALUE}; ignore_eos is sent so every request makes G)")
    int genTokens = 128;

    @Option(names = "--tokenizer", paramLabel = "GGUF", description = "a GGUF whose tokenizer sizes the prompts exactly (the served model file)")
    Path tokenizer;

    @Option(names = "--no-ignore-eos", description = "do not send ignore_eos (a server that refuses the field; requests may then end early)")
    boolean noIgnoreEos;

    @Option(names = "--disconnect", paramLabel = "FRACTION", description = "this share of the requests hangs up half-way through its answer (a soak test; default ${DEFAULT-VALUE})")
    double disconnect;

    @Option(names = "--duration", paramLabel = "SECONDS", description = "keep sending requests for this long instead of stopping after M")
    double duration;

    @Option(names = "--intruder-tokens", paramLabel = "N", description = "also send one request with an N-token prompt (1 token generated) while the others run; "
            + "it is reported apart, the others' latencies show what it did to them")
    int intruderTokens;

    @Option(names = "--intruder-after", paramLabel = "SECONDS", description = "when the intruding request starts (default ${DEFAULT-VALUE})")
    double intruderAfter = 2;

    @Option(names = "--warmup", paramLabel = "N", description = "untimed requests first, one client (default ${DEFAULT-VALUE})")
    int warmup = 1;

    @Option(names = "--seed", paramLabel = "S", description = "prompt text and lengths (default ${DEFAULT-VALUE})")
    long seed = 1;

    @Option(names = "--json", description = "print one JSON object instead of a table")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (concurrency < 1) throw new JemmaException("--concurrency must be at least 1, got " + concurrency);
        if (requests < 1 && duration <= 0) throw new JemmaException("--requests must be at least 1, got " + requests);
        if (promptTokens < 1) throw new JemmaException("--prompt-tokens must be at least 1, got " + promptTokens);
        if (promptTokensMax != 0 && promptTokensMax < promptTokens) {
            throw new JemmaException("--prompt-tokens-max " + promptTokensMax + " is below --prompt-tokens " + promptTokens);
        }
        if (genTokens < 1) throw new JemmaException("--gen-tokens must be at least 1, got " + genTokens);
        if (disconnect < 0 || disconnect > 1) throw new JemmaException("--disconnect must be between 0 and 1, got " + disconnect);
        if (warmup < 0) throw new JemmaException("--warmup must be >= 0, got " + warmup);
        if (intruderTokens < 0 || intruderAfter < 0) throw new JemmaException("--intruder-tokens and --intruder-after must be >= 0");
        LoadRun.Api a = switch (api.toLowerCase(Locale.ROOT)) {
            case "openai" -> LoadRun.Api.OPENAI;
            case "ollama" -> LoadRun.Api.OLLAMA;
            default -> throw new JemmaException("--api must be openai or ollama, got " + api);
        };
        URI base;
        try {
            base = URI.create(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
            if (base.getScheme() == null || base.getHost() == null) throw new IllegalArgumentException();
        } catch (IllegalArgumentException e) {
            throw new JemmaException("--url: not an http URL: " + url);
        }
        Tokenizer tok = null;
        if (tokenizer != null) {
            try (GgufFile f = GgufFile.open(ModelPaths.resolve(tokenizer.toString()))) {
                tok = Tokenizer.fromGguf(f);
            }
        }
        LoadRun.Settings s = new LoadRun.Settings(base, a, model, concurrency, requests, promptTokens,
                promptTokensMax == 0 ? promptTokens : promptTokensMax, genTokens, !noIgnoreEos, disconnect, duration, warmup, seed,
                intruderTokens, intruderAfter);
        LoadRun.Report r = new LoadRun(s, tok).run();
        // with nothing answered every figure is NaN: the error alone says what happened
        if (r.ok() == 0) throw new JemmaException("no request succeeded; first error: " + r.firstError());
        if (json) {
            System.out.println(new ObjectMapper().writeValueAsString(r.toJson()));
        } else {
            System.out.print(r.table());
        }
        return 0;
    }

}
