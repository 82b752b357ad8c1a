package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code GET /metrics} (issue 19): Prometheus' text exposition, parsed line by line, whose counters move with the
 * requests the test makes — requests by endpoint and status, prompt and generated tokens, steps and their batch
 * sizes, time to first token — and whose gauges show the KV pool and the running/queued requests back at rest.
 */
class MetricsApiTest {
    @TempDir
    static Path home;
    static JemmaServer server;
    static final String M = TestServers.MODEL;

    @BeforeAll
    static void start() {
        server = TestServers.start(TestServers.config().withEngine(1, false, 512).withLimits(2, 8, Duration.ofSeconds(30)), home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    /** A sample line: name, optional {labels}, value (the text format's grammar, timestamps not used here). */
    private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{[^}]*})? (\\S+)");
    private static final Pattern META = Pattern.compile("# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) .*");

    /** Every sample by "name{labels}" (labels as written); fails on any line that is not valid exposition text. */
    static Map<String, Double> scrape() {
        TestServers.Reply r = TestServers.get(server, "/metrics");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain").contains("version=0.0.4");
        Map<String, Double> out = new LinkedHashMap<>();
        for (String line : r.body().split("\n")) {
            if (line.isEmpty()) continue;
            if (line.startsWith("#")) {
                assertThat(META.matcher(line).matches()).as("comment line: %s", line).isTrue();
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            assertThat(m.matches()).as("sample line: %s", line).isTrue();
            double v = switch (m.group(3)) {
                case "+Inf" -> Double.POSITIVE_INFINITY;
                case "-Inf" -> Double.NEGATIVE_INFINITY;
                case "NaN" -> Double.NaN;
                default -> Double.parseDouble(m.group(3));
            };
            out.put(m.group(1) + (m.group(2) == null ? "" : m.group(2)), v);
        }
        return out;
    }

    static double get(Map<String, Double> s, String key) {
        return s.getOrDefault(key, 0.0);
    }

    @Test
    void countersMoveWithRequestsAndGaugesReturnToRest() {
        // the model loads with the first request
        assertThat(TestServers.post(server, "/api/generate", body("warm up", 1, false)).status()).isEqualTo(200);
        Map<String, Double> before = scrape();
        for (String name : new String[]{"jemma_requests_running", "jemma_requests_waiting", "jemma_prompt_tokens_per_second",
                "jemma_generated_tokens_per_second", "jemma_models_loaded", "process_resident_memory_bytes", "jvm_threads_current"}) {
            assertThat(before).as(name).containsKey(name);
        }
        String pool = "{model=\"" + M + "\"}";
        assertThat(get(before, "jemma_kv_slots" + pool)).isEqualTo(2);
        assertThat(get(before, "jemma_kv_slot_context_tokens" + pool)).isEqualTo(256);
        assertThat(get(before, "jemma_kv_pool_bytes" + pool)).isPositive();

        JsonNode a = TestServers.post(server, "/v1/completions",
                "{\"model\":\"" + M + "\",\"prompt\":\"the cat sat on\",\"max_tokens\":7,\"ignore_eos\":true}").json();
        JsonNode ollama = TestServers.post(server, "/api/generate", body("a dog ran", 6, false)).json();
        TestServers.Reply streamed = TestServers.post(server, "/v1/completions",
                "{\"model\":\"" + M + "\",\"prompt\":\"once upon a time\",\"max_tokens\":5,\"ignore_eos\":true,\"stream\":true}");
        assertThat(streamed.status()).isEqualTo(200);
        assertThat(TestServers.post(server, "/api/generate", "{\"model\":\"nope\",\"prompt\":\"x\"}").status()).isEqualTo(404);
        Map<String, Double> after = scrape();

        assertThat(get(after, "jemma_requests_total{code=\"200\",endpoint=\"/api/generate\"}")
                - get(before, "jemma_requests_total{code=\"200\",endpoint=\"/api/generate\"}")).isEqualTo(1);
        assertThat(get(after, "jemma_requests_total{code=\"200\",endpoint=\"/v1/completions\"}")
                - get(before, "jemma_requests_total{code=\"200\",endpoint=\"/v1/completions\"}")).isEqualTo(2);
        assertThat(get(after, "jemma_requests_total{code=\"404\",endpoint=\"/api/generate\"}")
                - get(before, "jemma_requests_total{code=\"404\",endpoint=\"/api/generate\"}")).isEqualTo(1);
        // 7 + 5 tokens generated (ignore_eos) and Ollama's eval_count (it may stop at the end of turn, which is not
        // counted); the prompts' new tokens were run (at least the first request's)
        assertThat(a.path("usage").path("completion_tokens").asInt()).as(a.toString()).isEqualTo(7);
        int o = ollama.path("eval_count").asInt();
        boolean ollamaAtLimit = ollama.path("done_reason").asText().equals("length");
        // the stream ran to its limit (its text events need not be one per token: a byte-fallback token's piece waits
        // for the rest of its UTF-8 character)
        assertThat(streamed.body()).contains("\"finish_reason\":\"length\"");
        assertThat(get(after, "jemma_generated_tokens_total") - get(before, "jemma_generated_tokens_total")).isEqualTo(12 + o);
        assertThat(get(after, "jemma_prompt_tokens_total") - get(before, "jemma_prompt_tokens_total"))
                .isGreaterThanOrEqualTo(a.path("usage").path("prompt_tokens").asInt());
        // a request's first token comes from its prompt's step and the token that ends it at the limit is never run:
        // every other generated token is a decode row
        int notRun = 2 + (ollamaAtLimit ? 1 : 0);
        double steps = get(after, "jemma_steps_total") - get(before, "jemma_steps_total");
        assertThat(steps).isGreaterThanOrEqualTo(12 + o - notRun + 3);
        assertThat(get(after, "jemma_batch_rows_count") - get(before, "jemma_batch_rows_count")).isEqualTo(steps);
        assertThat(get(after, "jemma_batch_sequences_bucket{le=\"+Inf\"}") - get(before, "jemma_batch_sequences_bucket{le=\"+Inf\"}"))
                .isEqualTo(steps);
        assertThat(get(after, "jemma_batch_rows_sum") - get(before, "jemma_batch_rows_sum"))
                .isEqualTo(get(after, "jemma_prompt_tokens_total") - get(before, "jemma_prompt_tokens_total")
                        + get(after, "jemma_generated_tokens_total") - get(before, "jemma_generated_tokens_total") - notRun);
        // every generation with text had a first token; the 404 did not
        assertThat(get(after, "jemma_time_to_first_token_seconds_count") - get(before, "jemma_time_to_first_token_seconds_count"))
                .isEqualTo(2 + (ollama.path("response").asText().isEmpty() ? 0 : 1));
        assertThat(get(after, "jemma_time_to_first_token_seconds_sum")).isGreaterThan(get(before, "jemma_time_to_first_token_seconds_sum"));
        assertThat(get(after, "jemma_generated_tokens_per_second") + get(after, "jemma_prompt_tokens_per_second")).isGreaterThanOrEqualTo(0);
        // at rest: nothing running, queued or holding a KV slot
        assertThat(get(after, "jemma_requests_running")).isZero();
        assertThat(get(after, "jemma_requests_waiting")).isZero();
        assertThat(get(after, "jemma_kv_slots_busy" + pool)).isZero();
        assertThat(after).containsKey("jemma_streams_open" + pool).containsKey("jemma_scheduler_queued" + pool);
        assertThat(get(after, "jemma_streams_open" + pool)).isZero();
        assertThat(get(after, "jemma_scheduler_queued" + pool)).isZero();
        assertThat(get(after, "jemma_kv_slots_waiting" + pool)).isZero();
        assertThat(get(after, "jemma_kv_slots_allocated" + pool)).isBetween(1.0, 2.0);
    }

    @Test
    void theRateIsTheMeanOfTheLastFinishedSeconds() {
        ServerMetrics.TokenRate r = new ServerMetrics.TokenRate();
        r.add(30, 100);
        r.add(20, 105);
        r.add(7, 106);   // the current second: not finished, not counted
        assertThat(r.perSecond(106)).isEqualTo(5.0);
        // seconds older than the window drop out, also after the ring wrapped around
        assertThat(r.perSecond(111)).isEqualTo(2.7);
        assertThat(r.perSecond(200)).isZero();
        r.add(10, 300);
        assertThat(r.perSecond(301)).isEqualTo(1.0);
    }

    private static String body(String prompt, int n, boolean stream) {
        return "{\"model\":\"" + M + "\",\"prompt\":\"" + prompt + "\",\"raw\":true,\"stream\":" + stream
                + ",\"options\":{\"num_predict\":" + n + ",\"ignore_eos\":true}}";
    }
}
