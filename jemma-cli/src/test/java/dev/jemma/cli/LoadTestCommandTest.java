package dev.jemma.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.server.JemmaServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jemma loadtest} against a loopback {@code jemma serve} on the tiny model, through both APIs: every request
 * answered with G tokens (ignore_eos), prompts of exactly P tokens with --tokenizer, percentiles reported, planned
 * disconnects counted and leaving no slot taken; bad flags are one line.
 */
class LoadTestCommandTest {
    static JemmaServer server;
    static final String NAME = "gemma3-tiny-Q4_0";

    @BeforeAll
    static void start() {
        server = JemmaServer.start(JemmaServer.Config.defaults().withPort(0).withModels(List.of(RunCommandTest.TINY))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(60)));
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    static JsonNode loadtest(String... extra) throws Exception {
        String[] base = {"loadtest", "--url", server.uri().toString(), "-m", NAME, "--json", "--warmup", "0"};
        String[] args = new String[base.length + extra.length];
        System.arraycopy(base, 0, args, 0, base.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        var r = CliTestSupport.run(null, args);
        assertThat(r.exitCode()).as(r.err()).isZero();
        return new ObjectMapper().readTree(r.out());
    }

    @Test
    void openAiApiConcurrentClients() throws Exception {
        JsonNode j = loadtest("-C", "2", "-n", "5", "-p", "24", "-g", "8", "--tokenizer", RunCommandTest.TINY);
        assertThat(j.path("ok").asInt()).isEqualTo(5);
        assertThat(j.path("failed").asInt()).isZero();
        assertThat(j.path("generated_tokens").asInt()).isEqualTo(5 * 8);
        assertThat(j.path("server_prompt_tokens_mean").asDouble()).isEqualTo(24.0);
        assertThat(j.path("tokens_per_s").asDouble()).isPositive();
        assertThat(j.path("requests_per_s").asDouble()).isPositive();
        assertThat(j.path("ttft_ms_p50").asDouble()).isPositive();
        assertThat(j.path("ttft_ms_p95").asDouble()).isGreaterThanOrEqualTo(j.path("ttft_ms_p50").asDouble());
        assertThat(j.path("itl_ms_p99").asDouble()).isGreaterThanOrEqualTo(j.path("itl_ms_p50").asDouble());
        // every request named, in order, each sent by one of the two clients, answered after it was sent; the TTFT p95
        // of five is the slowest of them (nearest rank), so the report names the request behind it
        JsonNode each = j.path("per_request");
        assertThat(each.size()).isEqualTo(5);
        double slowest = 0;
        for (int i = 0; i < 5; i++) {
            JsonNode r = each.path(i);
            assertThat(r.path("i").asInt()).isEqualTo(i);
            assertThat(r.path("client").asInt()).isBetween(0, 1);
            assertThat(r.path("tokens").asInt()).isEqualTo(8);
            assertThat(r.path("done_ms").asDouble()).isGreaterThan(r.path("sent_ms").asDouble() + r.path("ttft_ms").asDouble() - 0.2);
            slowest = Math.max(slowest, r.path("ttft_ms").asDouble());
        }
        assertThat(slowest).isCloseTo(j.path("ttft_ms_p95").asDouble(), org.assertj.core.data.Offset.offset(0.051));
    }

    @Test
    void ollamaApiAndPlannedDisconnects() throws Exception {
        JsonNode j = loadtest("--api", "ollama", "-C", "3", "-n", "6", "-p", "16", "--prompt-tokens-max", "40", "-g", "12", "--disconnect", "0.5");
        assertThat(j.path("ok").asInt()).isEqualTo(6);
        assertThat(j.path("disconnected").asInt()).isBetween(1, 5);
        assertThat(j.path("generated_tokens").asInt()).isPositive();
        // the hung-up streams were cancelled: no KV slot stays busy
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        JsonNode pool;
        do {
            Thread.sleep(50);
            var ps = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(server.uri().resolve("/api/ps")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            pool = new ObjectMapper().readTree(ps.body()).path("models").path(0).path("kv_pool");
        } while (pool.path("busy").asInt() > 0 && System.nanoTime() < deadline);
        assertThat(pool.path("busy").asInt()).isZero();
        assertThat(pool.path("allocated").asInt()).isBetween(1, 2);
    }

    @Test
    void anIntruderIsReportedApart() throws Exception {
        JsonNode j = loadtest("-C", "2", "-n", "2", "-p", "8", "-g", "40", "--tokenizer", RunCommandTest.TINY,
                "--intruder-tokens", "100", "--intruder-after", "0");
        assertThat(j.path("ok").asInt()).isEqualTo(2);
        assertThat(j.path("generated_tokens").asInt()).isEqualTo(2 * 40);
        assertThat(j.path("intruder_tokens").asInt()).isEqualTo(100);
        assertThat(j.path("intruder_ttft_ms").asDouble()).isPositive();
    }

    @Test
    void tableAndBadFlags() {
        var r = CliTestSupport.run(null, "loadtest", "--url", server.uri().toString(), "-m", NAME, "-C", "1", "-n", "1", "-p", "8", "-g", "4");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("tokens/s aggregate").contains("TTFT ms").contains("inter-token ms").contains("1 ok, 0 failed");
        var bad = CliTestSupport.run(null, "loadtest", "--api", "grpc");
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err().strip()).isEqualTo("jemma: --api must be openai or ollama, got grpc");
        var none = CliTestSupport.run(null, "loadtest", "--url", server.uri().toString(), "-m", "no-such-model", "-n", "1", "--warmup", "0");
        assertThat(none.exitCode()).isNotZero();
        assertThat(none.err()).contains("no request succeeded").contains("404");
        assertThat(none.out()).as("no table of NaNs when nothing answered").isEmpty();
    }

    @Test
    void aServerThatIsNotThereIsNamed() throws Exception {
        int port;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        // one line naming the URL, before any request is sent, and no table of NaNs (table or --json)
        for (List<String> format : List.of(List.<String>of(), List.of("--json"))) {
            List<String> args = new java.util.ArrayList<>(List.of("loadtest", "--url", "http://127.0.0.1:" + port, "-C", "1", "-n", "3"));
            args.addAll(format);
            var r = CliTestSupport.run(null, args.toArray(String[]::new));
            assertThat(r.exitCode()).isNotZero();
            assertThat(r.err().strip()).startsWith("jemma: cannot connect to http://127.0.0.1:" + port + " (").doesNotContain("\n");
            assertThat(r.out()).isEmpty();
        }
    }

    /**
     * A run waits while the server answers /health with 503 (loading its model, as jemma serve and llama-server do),
     * goes on at its first other answer, and gives up after its limit naming the server.
     */
    @Test
    void aRunWaitsForAServerThatIsStillLoading() throws Exception {
        java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger loadingFor = new java.util.concurrent.atomic.AtomicInteger(3);
        com.sun.net.httpserver.HttpServer probe = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        probe.createContext("/health", x -> {
            asked.incrementAndGet();
            x.sendResponseHeaders(loadingFor.getAndDecrement() > 0 ? 503 : 200, -1);
            x.close();
        });
        probe.start();
        try {
            java.net.URI base = java.net.URI.create("http://127.0.0.1:" + probe.getAddress().getPort());
            var http = java.net.http.HttpClient.newHttpClient();
            assertThat(LoadRun.awaitReady(http, base, Duration.ofSeconds(30), Duration.ofMillis(10))).as("503 answers waited out").isEqualTo(3);
            assertThat(asked.get()).as("/health asked until it said 200").isEqualTo(4);
            loadingFor.set(Integer.MAX_VALUE);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> LoadRun.awaitReady(http, base, Duration.ofSeconds(1), Duration.ofMillis(10)))
                    .hasMessage(base + " still loading after 1 s (/health: 503)");
        } finally {
            probe.stop(0);
        }
        // a server that is ready (jemma serve after its load) is not waited for
        assertThat(LoadRun.awaitReady(java.net.http.HttpClient.newHttpClient(), server.uri(), Duration.ofSeconds(30), Duration.ofMillis(10))).isZero();
    }
}
