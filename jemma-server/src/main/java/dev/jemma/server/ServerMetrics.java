package dev.jemma.server;

import dev.jemma.core.engine.KvPoolStatus;
import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMemoryMetrics;
import io.prometheus.metrics.instrumentation.jvm.JvmThreadsMetrics;
import io.prometheus.metrics.instrumentation.jvm.ProcessMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Set;

/**
 * {@code GET /metrics}: the server's counters in Prometheus' text format, as llama-server {@code --metrics} and vLLM
 * expose theirs — requests by endpoint and status, requests running and queued, the engine's steps (batch size in rows
 * and sequences, prompt and generated tokens, as totals and as the rate over the last {@value #RATE_SECONDS} s), time
 * to first token, each loaded model's KV pool and its scheduler's open streams and queued work (all 0 at rest: what a
 * soak's leak check reads), and the process' memory, threads and CPU (Prometheus' own collectors).
 * One registry per server, so several servers in one JVM (the tests) keep their own counts.
 */
final class ServerMetrics {
    /** Seconds the tokens-per-second gauges average over. */
    static final int RATE_SECONDS = 10;
    /** Endpoints counted under their own label; anything else is "other", so clients cannot grow the label set. */
    private static final Set<String> ENDPOINTS = Set.of("/api/generate", "/api/chat", "/api/embed", "/api/embeddings",
            "/api/tags", "/api/ps", "/api/show", "/api/pull", "/api/delete", "/api/version", "/v1/chat/completions",
            "/v1/completions", "/v1/embeddings", "/v1/models", "/health", "/metrics", "/");

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Counter requests, promptTokens, generatedTokens, steps;
    private final Histogram batchRows, batchSequences, ttft, stepSeconds;
    private final TokenRate promptRate = new TokenRate(), generatedRate = new TokenRate();

    ServerMetrics(JemmaServer server) {
        requests = Counter.builder().name("jemma_requests_total").help("HTTP requests answered, by endpoint and status code")
                .labelNames("endpoint", "code").register(registry);
        promptTokens = Counter.builder().name("jemma_prompt_tokens_total")
                .help("Prompt tokens run through the model (cached prefixes are not run again)").register(registry);
        generatedTokens = Counter.builder().name("jemma_generated_tokens_total").help("Tokens generated").register(registry);
        steps = Counter.builder().name("jemma_steps_total").help("Model steps (one forward over every sequence in the batch)")
                .register(registry);
        batchRows = Histogram.builder().name("jemma_batch_rows").help("Rows per model step: decode tokens plus prompt-chunk tokens")
                .classicOnly().classicUpperBounds(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256, 512).withoutExemplars()
                .register(registry);
        batchSequences = Histogram.builder().name("jemma_batch_sequences").help("Sequences (requests) served by one model step")
                .classicOnly().classicUpperBounds(1, 2, 3, 4, 6, 8, 12, 16, 32).withoutExemplars().register(registry);
        stepSeconds = Histogram.builder().name("jemma_step_seconds").help("Duration of one model step")
                .classicOnly().classicUpperBounds(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5)
                .withoutExemplars().register(registry);
        ttft = Histogram.builder().name("jemma_time_to_first_token_seconds")
                .help("From a generation request's arrival to its first generated text (queueing and prompt included)")
                .classicOnly().classicUpperBounds(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120).withoutExemplars()
                .register(registry);
        GaugeWithCallback.builder().name("jemma_prompt_tokens_per_second")
                .help("Prompt tokens per second over the last " + RATE_SECONDS + " s").callback(cb -> cb.call(promptRate.perSecond()))
                .register(registry);
        GaugeWithCallback.builder().name("jemma_generated_tokens_per_second")
                .help("Generated tokens per second over the last " + RATE_SECONDS + " s").callback(cb -> cb.call(generatedRate.perSecond()))
                .register(registry);
        GaugeWithCallback.builder().name("jemma_requests_running").help("Generation requests holding a slot")
                .callback(cb -> cb.call(server.scheduler.running())).register(registry);
        GaugeWithCallback.builder().name("jemma_requests_waiting").help("Generation requests queued for a slot (queue depth)")
                .callback(cb -> cb.call(server.scheduler.waiting())).register(registry);
        GaugeWithCallback.builder().name("jemma_models_loaded").help("Models loaded now")
                .callback(cb -> cb.call(server.models.loaded().size())).register(registry);
        kvGauge(server, "jemma_kv_slots", "KV caches the model's pool may hold (--parallel)", KvPoolStatus::slots);
        kvGauge(server, "jemma_kv_slots_allocated", "KV caches allocated so far (reused, never freed)", KvPoolStatus::allocated);
        kvGauge(server, "jemma_kv_slots_busy", "KV caches in a generation now", KvPoolStatus::busy);
        kvGauge(server, "jemma_kv_slots_idle", "KV caches an idle conversation keeps for its next turn", KvPoolStatus::idle);
        kvGauge(server, "jemma_kv_slots_waiting", "Generations waiting for a KV cache", KvPoolStatus::waiting);
        kvGauge(server, "jemma_kv_slot_context_tokens", "Positions per KV cache", KvPoolStatus::contextLength);
        kvGauge(server, "jemma_kv_pool_bytes", "Bytes of the whole pool once every slot is allocated", p -> p.totalBytes());
        batchGauge(server, "jemma_streams_open", "Sessions in their decode loop (each adds a row to every step)",
                dev.jemma.core.engine.BatchStatus::streams);
        batchGauge(server, "jemma_scheduler_queued", "Forwards waiting for a model step", dev.jemma.core.engine.BatchStatus::queued);
        ProcessMetrics.builder().register(registry);
        JvmThreadsMetrics.builder().register(registry);
        JvmMemoryMetrics.builder().register(registry);
    }

    private void kvGauge(JemmaServer server, String name, String help, java.util.function.ToDoubleFunction<KvPoolStatus> f) {
        GaugeWithCallback.builder().name(name).help(help).labelNames("model").callback(cb -> {
            for (ModelManager.Loaded l : server.models.loaded()) {
                KvPoolStatus p = l.model.kvPool();
                if (p != null) cb.call(f.applyAsDouble(p), l.entry.name());
            }
        }).register(registry);
    }

    private void batchGauge(JemmaServer server, String name, String help,
                            java.util.function.ToDoubleFunction<dev.jemma.core.engine.BatchStatus> f) {
        GaugeWithCallback.builder().name(name).help(help).labelNames("model").callback(cb -> {
            for (ModelManager.Loaded l : server.models.loaded()) {
                dev.jemma.core.engine.BatchStatus b = l.model.batchStatus();
                if (b != null) cb.call(f.applyAsDouble(b), l.entry.name());
            }
        }).register(registry);
    }

    /** A model step ran (the engine's {@link dev.jemma.core.engine.StepObserver}). */
    void onStep(int promptRows, int decodeRows, int sequences, long nanos) {
        steps.inc();
        batchRows.observe(promptRows + decodeRows);
        batchSequences.observe(sequences);
        stepSeconds.observe(nanos / 1e9);
        if (promptRows > 0) {
            promptTokens.inc(promptRows);
            promptRate.add(promptRows);
        }
    }

    /** A token was generated. */
    void onToken() {
        generatedTokens.inc();
        generatedRate.add(1);
    }

    /** A generation request that arrived at {@code receivedNanos} ({@link System#nanoTime}) produced its first text. */
    void firstToken(long receivedNanos) {
        ttft.observe((System.nanoTime() - receivedNanos) / 1e9);
    }

    /** A request was answered (or given up) with {@code code}. */
    void onRequest(String path, int code) {
        requests.labelValues(ENDPOINTS.contains(path) ? path : "other", Integer.toString(code)).inc();
    }

    /** The exposition text. */
    byte[] scrape() {
        var out = new ByteArrayOutputStream();
        try {
            PrometheusTextFormatWriter.create().write(out, registry.scrape(), EscapingScheme.DEFAULT);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    static String contentType() {
        return PrometheusTextFormatWriter.CONTENT_TYPE;
    }

    /** Counts per whole second in a ring; the rate is the mean of the last {@value #RATE_SECONDS} finished seconds. */
    static final class TokenRate {
        private final long[] counts = new long[RATE_SECONDS + 2];
        private final long[] second = new long[RATE_SECONDS + 2];

        synchronized void add(long n) {
            add(n, System.nanoTime() / 1_000_000_000L);
        }

        synchronized void add(long n, long now) {
            int i = (int) (now % counts.length);
            if (second[i] != now) {
                second[i] = now;
                counts[i] = 0;
            }
            counts[i] += n;
        }

        synchronized double perSecond() {
            return perSecond(System.nanoTime() / 1_000_000_000L);
        }

        synchronized double perSecond(long now) {
            long sum = 0;
            for (int k = 1; k <= RATE_SECONDS; k++) {
                long s = now - k;
                int i = (int) (Math.floorMod(s, (long) counts.length));
                if (second[i] == s) sum += counts[i];
            }
            return sum / (double) RATE_SECONDS;
        }
    }
}
