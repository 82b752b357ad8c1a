package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Many streaming clients at once, some hanging up mid-stream; overload answers 503; nothing leaks. */
class ConcurrencyTest {
    @TempDir
    Path home;

    private static String chat(int i, int n) {
        return "{\"model\":\"" + TestServers.MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"client " + i
                + " says hello\"}],\"options\":{\"num_predict\":" + n + ",\"temperature\":0.8,\"seed\":" + i + "}}";
    }

    @Test
    void thirtyTwoStreamingClientsSomeDisconnecting() throws Exception {
        try (JemmaServer server = TestServers.start(TestServers.config().withLimits(2, 40, Duration.ofSeconds(60)), home)) {
            int idleBusy = server.busyHttpThreads(); // acceptor and selectors count as busy pool threads
            ExecutorService clients = Executors.newFixedThreadPool(32);
            List<Future<String>> results = new ArrayList<>();
            try {
                for (int i = 0; i < 32; i++) {
                    int id = i;
                    results.add(clients.submit(() -> {
                        HttpClient http = HttpClient.newHttpClient();
                        try {
                            HttpRequest req = HttpRequest.newBuilder(URI.create(server.uri() + "/api/chat"))
                                    .timeout(Duration.ofSeconds(90))
                                    .POST(HttpRequest.BodyPublishers.ofString(chat(id, 48))).build();
                            HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
                            if (r.statusCode() != 200) return "status " + r.statusCode();
                            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                                if (id % 3 == 0) {
                                    in.readLine(); // read one chunk, then hang up
                                    return "disconnected";
                                }
                                String line, last = null;
                                while ((line = in.readLine()) != null) last = line;
                                JsonNode fin = new TestServers.Reply(200, last, null).json();
                                return fin.path("done").asBoolean() ? "done" : "truncated";
                            }
                        } finally {
                            http.shutdownNow();
                        }
                    }));
                }
                int done = 0, disconnected = 0;
                for (Future<String> f : results) {
                    String s = f.get(120, TimeUnit.SECONDS);
                    if (s.equals("done")) done++;
                    else if (s.equals("disconnected")) disconnected++;
                    else throw new AssertionError("client failed: " + s);
                }
                assertThat(done).isEqualTo(21);
                assertThat(disconnected).isEqualTo(11);
            } finally {
                clients.shutdownNow();
            }
            // Everything finished or was cancelled: no slot stays taken, and the server still answers.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while ((server.scheduler.running() > 0 || server.scheduler.waiting() > 0) && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(server.scheduler.running()).isZero();
            assertThat(server.scheduler.waiting()).isZero();
            JsonNode after = TestServers.post(server, "/api/chat", chat(99, 4).replace("}}", "},\"stream\":false}")).json();
            assertThat(after.path("done").asBoolean()).isTrue();
            // No request thread stays stuck in a generation, and the HTTP pool has no busy thread left.
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while ((server.busyHttpThreads() > idleBusy || generating() > 0) && System.nanoTime() < deadline) Thread.sleep(50);
            assertThat(generating()).isZero();
            assertThat(server.busyHttpThreads()).isEqualTo(idleBusy);
            // Memory stays bounded: 33 conversations shared the KV pool's 2 slots, and none is left taken.
            EngineModel model = (EngineModel) server.models.loaded().getFirst().model;
            assertThat(model.sessions()).isBetween(1, 2);
            dev.jemma.core.engine.KvPoolStatus pool = model.kvPool();
            assertThat(pool.slots()).isEqualTo(2);
            assertThat(pool.allocated()).isBetween(1, 2);
            assertThat(pool.busy()).isZero();
            assertThat(pool.waiting()).isZero();
        }
        // After close every server thread is gone (HTTP pool and selectors, keep-alive sweeper).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (serverThreads() > 0 && System.nanoTime() < deadline) Thread.sleep(50);
        assertThat(serverThreads()).isZero();
    }

    /** Threads currently inside a generation. */
    private static long generating() {
        return Thread.getAllStackTraces().values().stream().filter(st -> java.util.Arrays.stream(st)
                .anyMatch(f -> f.getClassName().equals(EngineModel.class.getName()) && f.getMethodName().equals("run"))).count();
    }

    private static long serverThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("jemma-http")
                || t.getName().startsWith("jemma-keepalive")).count();
    }

    @Test
    void overloadIsRefusedWith503() throws Exception {
        // a paced stand-in model: the real tiny one ends this 100 000-token request by itself (its end of turn, or the
        // full context) within a second once warm, and the busy request below raced that
        JemmaServer.Config c = TestServers.config().withLimits(1, 0, Duration.ofSeconds(30));
        try (JemmaServer server = JemmaServer.start(c, new dev.jemma.core.store.ModelStore(home), e -> new PacedModel(),
                dev.jemma.tools.store.HubClient::fromEnvironment)) {
            HttpClient http = HttpClient.newHttpClient();
            try {
                // A long streaming generation holds the only slot…
                HttpRequest longReq = HttpRequest.newBuilder(URI.create(server.uri() + "/api/chat"))
                        .POST(HttpRequest.BodyPublishers.ofString(chat(1, 100000))).build();
                HttpResponse<InputStream> running = http.send(longReq, HttpResponse.BodyHandlers.ofInputStream());
                try (InputStream body = running.body()) {
                    new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8)).readLine();
                    assertThat(server.scheduler.running()).isEqualTo(1);
                    // …so the next one is refused at once.
                    TestServers.Reply busy = TestServers.post(server, "/v1/chat/completions", "{\"model\":\"" + TestServers.MODEL
                            + "\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":2}");
                    assertThat(busy.status()).isEqualTo(503);
                    assertThat(busy.json().path("error").path("message").asText()).contains("busy");
                    assertThat(busy.headers().firstValue("Retry-After")).hasValue("1");
                }
                // Closing the stream cancels the generation and frees the slot.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (server.scheduler.running() > 0 && System.nanoTime() < deadline) Thread.sleep(20);
                assertThat(server.scheduler.running()).isZero();
                assertThat(TestServers.post(server, "/api/generate", "{\"model\":\"" + TestServers.MODEL
                        + "\",\"prompt\":\"x\",\"stream\":false,\"options\":{\"num_predict\":2}}").status()).isEqualTo(200);
            } finally {
                http.shutdownNow();
            }
        }
    }

    @Test
    void apiKeyAndCors() throws Exception {
        JemmaServer.Config c = TestServers.config().withSecurity("sekret", List.of("http://app.example"));
        try (JemmaServer server = TestServers.start(c, home)) {
            assertThat(TestServers.get(server, "/api/tags").status()).isEqualTo(401);
            assertThat(TestServers.get(server, "/v1/models").json().path("error").path("message").asText()).contains("API key");
            TestServers.Reply ok = TestServers.send(server, HttpRequest.newBuilder(URI.create(server.uri() + "/v1/models"))
                    .header("Authorization", "Bearer sekret").header("Origin", "http://app.example"));
            assertThat(ok.status()).isEqualTo(200);
            assertThat(ok.headers().firstValue("Access-Control-Allow-Origin")).contains("http://app.example");
            TestServers.Reply other = TestServers.send(server, HttpRequest.newBuilder(URI.create(server.uri() + "/v1/models"))
                    .header("Authorization", "Bearer sekret").header("Origin", "http://evil.example"));
            assertThat(other.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
            // A browser's preflight from the allowed origin gets 204 with the allowed methods and headers.
            TestServers.Reply preflight = TestServers.send(server, HttpRequest.newBuilder(URI.create(server.uri() + "/v1/chat/completions"))
                    .header("Origin", "http://app.example").header("Access-Control-Request-Method", "POST")
                    .method("OPTIONS", HttpRequest.BodyPublishers.noBody()));
            assertThat(preflight.status()).isEqualTo(204);
            assertThat(preflight.headers().firstValue("Access-Control-Allow-Methods").orElse("")).contains("POST");
            assertThat(preflight.headers().firstValue("Access-Control-Allow-Headers").orElse("")).contains("Authorization");
            // The page itself needs no key (it asks for one when the API refuses).
            assertThat(TestServers.get(server, "/").status()).isEqualTo(200);
        }
        try (JemmaServer server = TestServers.start(TestServers.config(), home)) {
            // CORS is opt-in, and a foreign page's request (a cross-site POST needs no preflight) is refused.
            TestServers.Reply r = TestServers.send(server, HttpRequest.newBuilder(URI.create(server.uri() + "/api/pull"))
                    .header("Origin", "http://evil.example").POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gemma3:1b\"}")));
            assertThat(r.status()).isEqualTo(403);
            assertThat(r.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
            // A preflight is refused the same way, as JSON that says how to allow an origin.
            TestServers.Reply preflight = TestServers.send(server, HttpRequest.newBuilder(URI.create(server.uri() + "/api/chat"))
                    .header("Access-Control-Request-Method", "POST").method("OPTIONS", HttpRequest.BodyPublishers.noBody()));
            assertThat(preflight.status()).isEqualTo(403);
            assertThat(preflight.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
            assertThat(preflight.json().path("error").asText()).contains("--cors");
            // The server's own page (same origin) and non-browser clients (no Origin) are served.
            assertThat(TestServers.send(server, HttpRequest.newBuilder(URI.create(server.uri() + "/api/tags"))
                    .header("Origin", "http://127.0.0.1:" + server.port())).status()).isEqualTo(200);
            assertThat(TestServers.get(server, "/api/tags").status()).isEqualTo(200);
            // DNS rebinding: a loopback server answers no request addressed to another host name.
            try (java.net.Socket sock = new java.net.Socket("127.0.0.1", server.port())) {
                sock.getOutputStream().write("GET /api/tags HTTP/1.1\r\nHost: rebind.example:11434\r\nConnection: close\r\n\r\n"
                        .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                String status = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                assertThat(status).contains(" 403 ");
            }
        }
    }
}
