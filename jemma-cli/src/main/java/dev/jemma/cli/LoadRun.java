package dev.jemma.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.JemmaException;
import dev.jemma.core.tokenizer.Tokenizer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One load test: {@code concurrency} client threads take requests from a shared counter (or until a deadline), each
 * streaming one completion at a time, and record per request the time to the first generated text, the gaps between
 * later pieces, and the tokens generated (the server's own count when it reports one, else the pieces received).
 * Aggregate throughput is all generated tokens over the wall time from the first request sent to the last answer.
 */
final class LoadRun {
    enum Api {OPENAI, OLLAMA}

    record Settings(URI base, Api api, String model, int concurrency, int requests, int promptMin, int promptMax, int gen,
                    boolean ignoreEos, double disconnect, double durationSeconds, int warmup, long seed, int intruderTokens,
                    double intruderAfterSeconds) {
    }

    /**
     * What one request measured; {@code error} null when it succeeded (a planned disconnect counts as success).
     * {@code index} is the request's number (-1 for warm-up and intruding requests), {@code client} the client thread that
     * sent it, {@code sentNanos} / {@code endNanos} when it was sent and answered, from the run's start: with them a
     * report names the requests behind its TTFT percentiles and shows which arrived together.
     */
    record Sample(int index, int client, long sentNanos, long endNanos, long ttftNanos, long[] gapsNanos, int tokens,
                  int promptTokens, boolean disconnected, String error) {
        Sample at(int index, int client, long t0) {
            return new Sample(index, client, sentNanos - t0, endNanos - t0, ttftNanos, gapsNanos, tokens, promptTokens,
                    disconnected, error);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Everyday words: one token each for Gemma's tokenizer, mostly, so prompts are near P tokens without one. */
    private static final String[] WORDS = ("time year people way day man thing woman life child world school state family student group "
            + "country problem hand part place case week company system program question work government number night point home "
            + "water room mother area money story fact month lot right study book eye job word business issue side kind head house "
            + "service friend father power hour game line end member law car city community name president team minute idea kid "
            + "body information back parent face others level office door health person art war history party result change morning "
            + "reason research girl guy moment air teacher force education").split(" ");

    /** Last resorts when every word would overshoot by one token. */
    private static final String[] FILLERS = {".", ",", " a", "!", "?", ";", ":"};

    private final Settings s;
    private final Tokenizer tokenizer;
    private final HttpClient http;

    LoadRun(Settings s, Tokenizer tokenizer) {
        this.s = s;
        this.tokenizer = tokenizer;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    }

    /**
     * The prompt of request {@code i}: a distinct opening (so no server can reuse another request's cached prefix) and
     * then words up to its length, {@code P} tokens exactly with a tokenizer (BOS included), else one word per token.
     */
    String prompt(int i) {
        SplittableRandom r = new SplittableRandom(s.seed() * 1_000_003L + i);
        int target = s.promptMin() + (s.promptMax() > s.promptMin() ? r.nextInt(s.promptMax() - s.promptMin() + 1) : 0);
        return prompt(i, target, r);
    }

    private String prompt(int i, int target, SplittableRandom r) {
        StringBuilder sb = new StringBuilder("Request ").append(i).append(':');
        if (tokenizer == null) {
            for (int w = 3; w < target; w++) sb.append(' ').append(WORDS[r.nextInt(WORDS.length)]);
            return sb.toString();
        }
        int have = tokenizer.encode(sb.toString()).length;
        while (have < target) {
            // the next word that does not overshoot (a word can take two tokens, or merge with what precedes it)
            int from = r.nextInt(WORDS.length), len = sb.length();
            boolean grew = false;
            for (int k = 0; k < WORDS.length + FILLERS.length && !grew; k++) {
                String w = k < WORDS.length ? " " + WORDS[(from + k) % WORDS.length] : FILLERS[k - WORDS.length];
                sb.append(w);
                int n = tokenizer.encode(sb.toString()).length;
                if (n > have && n <= target) {
                    have = n;
                    grew = true;
                } else {
                    sb.setLength(len);
                }
            }
            if (!grew) break; // nothing adds a single token: stay just short
        }
        return sb.toString();
    }

    /** How long a run waits at most for a server that says it is still loading its model ({@link #awaitReady}). */
    static final Duration READY_LIMIT = Duration.ofMinutes(10);

    /**
     * Waits while {@code base} says it is loading — {@code /health} answering 503, as {@code jemma serve} and llama-server
     * do until their models are loaded — polling every {@code poll}, at most {@code limit}; any other answer (200, or a
     * 404 from a server without /health, such as Ollama) or no answer goes on. A refused connection ends the run at once
     * with one line naming the URL: every request would only have been refused too, and a report of them was a table
     * of NaNs. Without the wait a run started beside a loading server timed the load into its first requests.
     *
     * @return the 503 answers seen
     */
    static int awaitReady(HttpClient http, URI base, Duration limit, Duration poll) throws InterruptedException {
        long until = System.nanoTime() + limit.toNanos();
        for (int loading = 0; ; loading++) {
            int status;
            try {
                status = http.send(HttpRequest.newBuilder(URI.create(base + "/health")).timeout(Duration.ofSeconds(30)).GET().build(),
                        HttpResponse.BodyHandlers.discarding()).statusCode();
            } catch (java.net.ConnectException e) {
                throw new JemmaException(describe(e, base));
            } catch (IOException e) {
                return loading;
            }
            if (status != 503) return loading;
            if (loading == 0) System.err.println("jemma loadtest: " + base + " is loading its model (/health: 503); waiting");
            if (System.nanoTime() - until > 0) {
                throw new JemmaException(base + " still loading after " + limit.toSeconds() + " s (/health: 503)");
            }
            Thread.sleep(poll.toMillis());
        }
    }

    Report run() throws Exception {
        awaitReady(http, s.base(), READY_LIMIT, Duration.ofMillis(250));
        for (int i = 0; i < s.warmup(); i++) one(prompt(-1 - i), s.gen(), false);
        // a fixed number of requests: every prompt built before the clock starts. Sized with the tokenizer, a 128-token
        // prompt takes ~130 encodings to build; built by each client just before sending, the first wave's 8 sends were
        // spread over 36 and 160 ms (per_request's sent_ms, loaded 2-core host), which measured the client and split a
        // wave that a server would have batched together
        String[] prompts = s.durationSeconds() > 0 ? null : new String[s.requests()];
        if (prompts != null) for (int i = 0; i < prompts.length; i++) prompts[i] = prompt(i);
        AtomicInteger next = new AtomicInteger();
        List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(s.concurrency() + 1);
        Future<Sample> intruder = null;
        // The clients start together: each takes its first request and builds it, then all send at once. Started one by
        // one as threads came up, the first wave's sends spread over 10-44 ms on a quiet 2-core host (per_request's
        // sent_ms: one client's request queued and its prompt step took the cores while the others were still being
        // scheduled), which measured the client's start and split a wave the server would have batched.
        CountDownLatch ready = new CountDownLatch(s.concurrency()), go = new CountDownLatch(1);
        // one long prompt arriving while the others stream (what it does to their inter-token latency), built beforehand
        String longPrompt = s.intruderTokens() > 0 ? prompt(-1_000_000, s.intruderTokens(), new SplittableRandom(s.seed())) : null;
        // the common start and a timed run's end, written before the clients are let go (the latch publishes them)
        long[] clock = new long[2];
        try {
            List<Future<?>> clients = new ArrayList<>();
            for (int c = 0; c < s.concurrency(); c++) {
                int client = c;
                clients.add(pool.submit(() -> {
                    boolean first = true;
                    while (true) {
                        int i = next.getAndIncrement();
                        boolean last = s.durationSeconds() <= 0 && i >= s.requests();
                        HttpRequest req;
                        try {
                            req = last ? null : request(prompts != null ? prompts[i] : prompt(i), s.gen());
                        } finally {
                            if (first) ready.countDown(); // counted even if building failed: the run then reports it
                        }
                        if (first) {
                            first = false;
                            go.await();
                        }
                        if (last || (s.durationSeconds() > 0 && System.nanoTime() >= clock[1])) return null;
                        boolean hangUp = s.disconnect() > 0 && new Random(s.seed() ^ (i * 0x9E3779B97F4A7C15L)).nextDouble() < s.disconnect();
                        samples.add(send(req, s.gen(), hangUp).at(i, client, clock[0]));
                    }
                }));
            }
            ready.await();
            long t0 = System.nanoTime();
            clock[0] = t0;
            clock[1] = s.durationSeconds() > 0 ? t0 + (long) (s.durationSeconds() * 1e9) : Long.MAX_VALUE;
            go.countDown();
            if (longPrompt != null) {
                intruder = pool.submit(() -> {
                    Thread.sleep((long) (s.intruderAfterSeconds() * 1000));
                    return one(longPrompt, 1, false).at(-1, -1, t0);
                });
            }
            for (Future<?> f : clients) f.get();
            long wall = System.nanoTime() - t0;
            return new Report(s, List.copyOf(samples), wall, intruder == null ? null : intruder.get());
        } finally {
            pool.shutdownNow();
        }
    }

    /** Sends one request; with {@code hangUp} closes the stream after half the answer. Never throws. */
    Sample one(String prompt, int gen, boolean hangUp) {
        return send(request(prompt, gen), gen, hangUp);
    }

    /** A streaming request for {@code prompt} generating {@code gen} tokens, in the chosen API. */
    private HttpRequest request(String prompt, int gen) {
        ObjectNode body = JSON.createObjectNode().put("model", s.model()).put("prompt", prompt).put("stream", true);
        String path;
        if (s.api() == Api.OPENAI) {
            path = "/v1/completions";
            body.put("max_tokens", gen).put("temperature", 0);
            if (s.ignoreEos()) body.put("ignore_eos", true);
            body.putObject("stream_options").put("include_usage", true);
        } else {
            path = "/api/generate";
            body.put("raw", true);
            ObjectNode options = body.putObject("options").put("num_predict", gen).put("temperature", 0);
            // jemma serve applies it on /api/generate too; Ollama itself warns about an unknown option and goes on
            if (s.ignoreEos()) options.put("ignore_eos", true);
        }
        return HttpRequest.newBuilder(s.base().resolve(path)).timeout(Duration.ofMinutes(30))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
    }

    /** Sends a request built by {@link #request}; with {@code hangUp} closes the stream after half the answer. Never throws. */
    private Sample send(HttpRequest req, int gen, boolean hangUp) {
        long sent = System.nanoTime(), first = -1, last = -1;
        long[] gaps = new long[Math.max(16, gen)];
        int nGaps = 0, pieces = 0, reported = -1, promptCount = -1;
        try {
            HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                if (r.statusCode() != 200) {
                    String text = in.lines().limit(5).reduce("", (a, b) -> a + b);
                    return failed(sent, "HTTP " + r.statusCode() + ": " + text.substring(0, Math.min(200, text.length())));
                }
                String line;
                while ((line = in.readLine()) != null) {
                    String data = line;
                    if (s.api() == Api.OPENAI) {
                        if (!line.startsWith("data:")) continue;
                        data = line.substring(5).strip();
                        if (data.equals("[DONE]")) break;
                    }
                    if (data.isBlank()) continue;
                    JsonNode j = JSON.readTree(data);
                    if (j.has("error")) return failed(sent, "server error: " + j.get("error"));
                    String text = s.api() == Api.OPENAI ? j.path("choices").path(0).path("text").asText("") : j.path("response").asText("");
                    JsonNode usage = s.api() == Api.OPENAI ? j.path("usage") : j;
                    if (usage.has("completion_tokens")) reported = usage.get("completion_tokens").asInt();
                    if (usage.has("eval_count")) reported = usage.get("eval_count").asInt();
                    if (usage.has("prompt_tokens")) promptCount = usage.get("prompt_tokens").asInt();
                    if (usage.has("prompt_eval_count")) promptCount = usage.get("prompt_eval_count").asInt();
                    if (text.isEmpty()) continue;
                    long now = System.nanoTime();
                    if (first < 0) {
                        first = now;
                    } else {
                        if (nGaps == gaps.length) gaps = Arrays.copyOf(gaps, gaps.length * 2);
                        gaps[nGaps++] = now - last;
                    }
                    last = now;
                    pieces++;
                    if (hangUp && pieces >= Math.max(1, gen / 2)) {
                        return new Sample(-1, -1, sent, System.nanoTime(), first - sent, Arrays.copyOf(gaps, nGaps), pieces, promptCount, true, null);
                    }
                }
            }
        } catch (IOException e) {
            return failed(sent, describe(e, s.base()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return failed(sent, "interrupted");
        }
        if (first < 0) return failed(sent, "no text generated");
        return new Sample(-1, -1, sent, System.nanoTime(), first - sent, Arrays.copyOf(gaps, nGaps), reported >= 0 ? reported : pieces,
                promptCount, false, null);
    }

    private static Sample failed(long sent, String why) {
        return new Sample(-1, -1, sent, System.nanoTime(), 0, new long[0], 0, -1, false, why);
    }

    /** A failed request's cause in a user's words: the JDK's HttpClient reports a refused connection with no message. */
    static String describe(IOException e, URI base) {
        if (e instanceof java.net.ConnectException) {
            return "cannot connect to " + base + " (" + (e.getMessage() != null ? e.getMessage() : "connection refused: is the server running?") + ")";
        }
        return e.getClass().getSimpleName() + ": " + (e.getMessage() != null ? e.getMessage() : "(no message)");
    }

    /** The samples of a run, its wall time (and the intruding request's sample, or null), summarised. */
    record Report(Settings s, List<Sample> samples, long wallNanos, Sample intruder) {
        int ok() {
            return (int) samples.stream().filter(x -> x.error() == null).count();
        }

        String firstError() {
            return samples.stream().filter(x -> x.error() != null).map(Sample::error).findFirst().orElse("none");
        }

        long tokens() {
            return samples.stream().filter(x -> x.error() == null).mapToLong(Sample::tokens).sum();
        }

        double seconds() {
            return wallNanos / 1e9;
        }

        double[] ttftMs() {
            return samples.stream().filter(x -> x.error() == null).mapToDouble(x -> x.ttftNanos() / 1e6).sorted().toArray();
        }

        double[] gapMs() {
            return samples.stream().filter(x -> x.error() == null).flatMapToLong(x -> Arrays.stream(x.gapsNanos()))
                    .mapToDouble(g -> g / 1e6).sorted().toArray();
        }

        private static double round(double ms) {
            return Math.round(ms * 10) / 10.0;
        }

        /** Nearest-rank percentile of sorted values (NaN when there are none). */
        static double percentile(double[] sorted, double p) {
            if (sorted.length == 0) return Double.NaN;
            int rank = (int) Math.ceil(p / 100 * sorted.length);
            return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
        }

        ObjectNode toJson() {
            ObjectNode o = JSON.createObjectNode();
            o.put("url", s.base().toString()).put("api", s.api().name().toLowerCase(Locale.ROOT)).put("model", s.model())
                    .put("concurrency", s.concurrency()).put("prompt_tokens", s.promptMin()).put("prompt_tokens_max", s.promptMax())
                    .put("gen_tokens", s.gen());
            o.put("requests", samples.size()).put("ok", ok()).put("failed", samples.size() - ok())
                    .put("disconnected", samples.stream().filter(Sample::disconnected).count());
            o.put("wall_seconds", seconds()).put("generated_tokens", tokens())
                    .put("tokens_per_s", tokens() / seconds()).put("requests_per_s", ok() / seconds());
            double[] t = ttftMs(), g = gapMs();
            for (int p : new int[]{50, 95, 99}) {
                o.put("ttft_ms_p" + p, percentile(t, p));
                o.put("itl_ms_p" + p, percentile(g, p));
            }
            // what the server counted for the prompts (null when it reports nothing): checks -p / --tokenizer
            samples.stream().filter(x -> x.error() == null && x.promptTokens() >= 0).mapToInt(Sample::promptTokens).average()
                    .ifPresent(m -> o.put("server_prompt_tokens_mean", m));
            if (intruder != null) {
                o.put("intruder_tokens", s.intruderTokens());
                if (intruder.error() == null) o.put("intruder_ttft_ms", intruder.ttftNanos() / 1e6);
                else o.put("intruder_error", intruder.error());
            }
            if (ok() < samples.size()) o.put("first_error", firstError());
            // every request in the order sent: which ones make the TTFT p95, and whether they arrived with others
            var each = o.putArray("per_request");
            samples.stream().sorted(java.util.Comparator.comparingInt(Sample::index)).forEach(x -> {
                ObjectNode r = each.addObject().put("i", x.index()).put("client", x.client())
                        .put("sent_ms", round(x.sentNanos() / 1e6)).put("done_ms", round(x.endNanos() / 1e6));
                if (x.error() == null) {
                    r.put("ttft_ms", round(x.ttftNanos() / 1e6)).put("tokens", x.tokens());
                    long[] gaps = x.gapsNanos().clone();
                    Arrays.sort(gaps);
                    if (gaps.length > 0) r.put("itl_ms_max", round(gaps[gaps.length - 1] / 1e6));
                } else {
                    r.put("error", x.error());
                }
            });
            return o;
        }

        String table() {
            double[] t = ttftMs(), g = gapMs();
            StringBuilder b = new StringBuilder();
            b.append(String.format(Locale.ROOT, "loadtest %s (%s) model %s: C=%d P=%s G=%d%n", s.base(), s.api().name().toLowerCase(Locale.ROOT),
                    s.model(), s.concurrency(), s.promptMax() > s.promptMin() ? s.promptMin() + "-" + s.promptMax() : String.valueOf(s.promptMin()), s.gen()));
            b.append(String.format(Locale.ROOT, "requests %d: %d ok, %d failed, %d disconnected on purpose%n", samples.size(), ok(),
                    samples.size() - ok(), samples.stream().filter(Sample::disconnected).count()));
            b.append(String.format(Locale.ROOT, "wall %.2f s, generated %d tokens: %.2f tokens/s aggregate, %.3f requests/s%n",
                    seconds(), tokens(), tokens() / seconds(), ok() / seconds()));
            b.append(String.format(Locale.ROOT, "TTFT ms         p50 %8.1f  p95 %8.1f  p99 %8.1f%n", percentile(t, 50), percentile(t, 95), percentile(t, 99)));
            b.append(String.format(Locale.ROOT, "inter-token ms  p50 %8.1f  p95 %8.1f  p99 %8.1f%n", percentile(g, 50), percentile(g, 95), percentile(g, 99)));
            if (intruder != null) {
                b.append(intruder.error() == null
                        ? String.format(Locale.ROOT, "intruding %d-token prompt: TTFT %.1f ms%n", s.intruderTokens(), intruder.ttftNanos() / 1e6)
                        : "intruding prompt failed: " + intruder.error() + "\n");
            }
            if (ok() < samples.size()) b.append("first error: ").append(firstError()).append('\n');
            return b.toString();
        }
    }
}
