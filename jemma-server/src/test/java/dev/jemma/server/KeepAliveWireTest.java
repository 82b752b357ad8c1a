package dev.jemma.server;

import dev.jemma.core.store.ModelStore;
import dev.jemma.tools.store.HubClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * On a kept-alive connection, nothing may follow a complete response: not a second response, a late error body, a
 * {@code 100 Continue}, bytes beyond a Content-Length, or a stream's tail after its terminating chunk. A client that
 * pools connections takes such bytes for the start of its next answer, or (the JDK's HttpClient) drops the connection,
 * and fails the request that was just being sent on it: issue 22's server campaign stopped once on "Data received while
 * in pool". Each case sends its request on a raw socket, reads exactly the one response its framing declares, checks
 * that no byte arrives for {@link #QUIET}, then sends a second request on the same connection and reads its answer.
 */
class KeepAliveWireTest {
    private static final Duration QUIET = Duration.ofMillis(500);
    /**
     * How long an answer that announced {@code Connection: close} is given to close (the wait ends at the close): QUIET
     * alone took a close that a loaded machine delays past 500 ms for a connection kept open.
     */
    private static final Duration CLOSING = Duration.ofSeconds(10);

    /** What arrives after {@code r} on {@code c}: for QUIET, or until the close that {@code r} announced. */
    private static byte[] strayAfter(WireConnection c, WireConnection.Response r) throws IOException {
        return c.stray(r.closes() ? CLOSING : QUIET);
    }
    private static final String M = TestServers.MODEL;

    @TempDir
    static Path home;
    /** The tiny model behind the full server: generation, streaming and every endpoint as served. */
    static JemmaServer real;
    /** The fuzz harness's server: a stand-in model that answers at once. */
    static JemmaServer standIn;

    @BeforeAll
    static void start() throws IOException {
        real = TestServers.start(TestServers.config(), home);
        standIn = standInServer(e -> new StandInModel());
    }

    @AfterAll
    static void stop() {
        if (real != null) real.close();
        if (standIn != null) standIn.close();
    }

    static JemmaServer standInServer(java.util.function.Function<ModelManager.Entry, ServedModel> loader) throws IOException {
        JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0).withModels(List.of(TestServers.tinyModel().toString()))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(30));
        return JemmaServer.start(c, new ModelStore(Files.createTempDirectory(home, "store")), loader, HubClient::fromEnvironment);
    }

    /** A request as a test sends it: method, path, extra headers, body (null: none). */
    record Req(String method, String path, Map<String, String> headers, byte[] body) {
        static Req get(String path) {
            return new Req("GET", path, Map.of(), null);
        }

        static Req of(String method, String path, String body) {
            return new Req(method, path, json(), body == null ? null : body.getBytes(StandardCharsets.UTF_8));
        }

        static Map<String, String> json() {
            return Map.of("Content-Type", "application/json");
        }

        Req withHeaders(Map<String, String> more) {
            Map<String, String> h = new LinkedHashMap<>(headers);
            h.putAll(more);
            return new Req(method, path, h, body);
        }

        @Override
        public String toString() {
            return method + " " + path + (body == null ? "" : " " + WireConnection.printable(body.length > 200
                    ? java.util.Arrays.copyOf(body, 200) : body)) + (headers.isEmpty() ? "" : " " + headers);
        }
    }

    @Test
    void everyEndpointEndsItsResponseWhereItSays() throws Exception {
        String gen = "{\"model\":\"" + M + "\",\"prompt\":\"hi\",\"options\":{\"num_predict\":3}";
        String chat = "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"options\":{\"num_predict\":3}";
        String oaChat = "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3";
        String oaText = "{\"model\":\"" + M + "\",\"prompt\":\"hi\",\"max_tokens\":3";
        List<Req> cases = new ArrayList<>(List.of(
                Req.get("/"), new Req("HEAD", "/", Map.of(), null), Req.get("/static/app.js"), Req.get("/favicon.ico"),
                Req.get("/health"), new Req("HEAD", "/health", Map.of(), null), Req.of("POST", "/health", "{}"),
                Req.get("/metrics"), new Req("HEAD", "/metrics", Map.of(), null),
                Req.get("/api/version"), new Req("HEAD", "/api/version", Map.of(), null), Req.get("/api/tags"), Req.get("/api/ps"),
                Req.of("POST", "/api/show", "{\"model\":\"" + M + "\"}"), Req.of("POST", "/api/show", "{\"model\":\"nope\"}"),
                Req.of("POST", "/api/generate", gen + ",\"stream\":false}"), Req.of("POST", "/api/generate", gen + "}"),
                Req.of("POST", "/api/chat", chat + ",\"stream\":false}"), Req.of("POST", "/api/chat", chat + "}"),
                Req.of("POST", "/api/generate", "{\"model\":\"" + M + "\"}"),
                Req.of("POST", "/v1/chat/completions", oaChat + "}"), Req.of("POST", "/v1/chat/completions", oaChat + ",\"stream\":true}"),
                Req.of("POST", "/v1/chat/completions", oaChat + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}"),
                Req.of("POST", "/v1/completions", oaText + "}"), Req.of("POST", "/v1/completions", oaText + ",\"stream\":true}"),
                Req.get("/v1/models"), Req.get("/v1/models/" + M), Req.get("/v1/models/nope"),
                Req.of("POST", "/api/embed", "{\"model\":\"" + M + "\",\"input\":\"hi\"}"),
                Req.of("POST", "/v1/embeddings", "{\"model\":\"" + M + "\",\"input\":\"hi\"}"),
                // 4xx answers: malformed, wrong types, unknown fields and models, wrong methods and paths
                Req.of("POST", "/api/generate", "{not json"), Req.of("POST", "/api/chat", "[]"), Req.of("POST", "/api/chat", ""),
                Req.of("POST", "/api/chat", "{\"model\":\"nope\",\"messages\":[]}"),
                Req.of("POST", "/api/generate", gen + ",\"tools\":[{}]}"), Req.of("POST", "/v1/chat/completions", "{\"model\":1}"),
                Req.of("POST", "/api/generate", gen + ",\"stream\":true,\"options\":{\"num_thread\":4}}"),
                Req.of("POST", "/api/pull", "{\"model\":\"../../etc\"}"), Req.of("DELETE", "/api/delete", "{\"model\":\"nope\"}"),
                Req.of("PUT", "/api/chat", "{}"), Req.get("/api/chat"), Req.get("/nope"), Req.of("OPTIONS", "/api/chat", null),
                // a body where none is expected
                Req.of("GET", "/api/version", "{\"x\":1}"), Req.of("GET", "/api/tags", "{}"), Req.of("HEAD", "/health", "{}"),
                Req.of("DELETE", "/health", "x"),
                // paths Jetty itself refuses before the handler sees them
                Req.get("/static/../../etc/passwd"), Req.get("/static/%2e%2e/%2e%2e/etc/passwd"), Req.get("/api/%00tags"),
                Req.get("/static//app.js"), Req.get("/api/tags?x=%zz"), Req.get("/api/tags;jsessionid=1")));
        // each also as the JDK's HttpClient sends it: with its h2c upgrade offer
        List<Req> all = new ArrayList<>(cases);
        for (Req r : cases) all.add(r.withHeaders(WireConnection.JDK_CLIENT_HEADERS));
        assertClean(real, all);
    }

    @Test
    void fuzzCorpusLeavesEveryConnectionQuiet() throws Exception {
        Path dir = Path.of(RequestFuzzTest.class.getResource("RequestFuzzTestInputs/requestBodies").toURI());
        List<Req> reqs = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.sorted().toList()) {
                byte[] input = Files.readAllBytes(f);
                if (input.length == 0) continue;
                String path = RequestFuzzTest.PATHS[(input[0] & 0xff) % RequestFuzzTest.PATHS.length];
                reqs.add(new Req("POST", path, Req.json(), java.util.Arrays.copyOfRange(input, 1, input.length))
                        .withHeaders(WireConnection.JDK_CLIENT_HEADERS));
            }
        }
        assertThat(reqs).hasSizeGreaterThan(100);
        assertClean(standIn, reqs);
    }

    @Test
    void expectContinueSendsOneInterimResponseThenTheAnswer() throws Exception {
        byte[] body = ("{\"model\":\"" + M + "\",\"prompt\":\"hi\",\"stream\":false,\"options\":{\"num_predict\":2}}").getBytes(StandardCharsets.UTF_8);
        try (WireConnection c = new WireConnection(real.port())) {
            Map<String, String> h = new LinkedHashMap<>(Req.json());
            h.put("Expect", "100-continue");
            c.sendHead("POST", "/api/generate", h, body.length);
            // the server asks for the body when the handler reads it: wait for the interim response before sending
            WireConnection.Response interim = c.read(false, true);
            assertThat(interim.status()).as(c.transcript()).isEqualTo(100);
            c.sendBody(body);
            WireConnection.Response answer = c.read(false, false);
            assertThat(answer.status()).as(c.transcript()).isEqualTo(200);
            assertThat(answer.interim()).as("a second 100 Continue\n" + c.transcript()).isEmpty();
            assertThat(c.stray(QUIET)).as("bytes after the answer\n" + c.transcript()).isEmpty();
            assertThat(c.closedByServer()).as(c.transcript()).isFalse();
            assertThat(c.exchange("GET", "/api/version", Map.of(), null).status()).as(c.transcript()).isEqualTo(200);
        }
    }

    @Test
    void pipelinedRequestsGetTheirAnswersInOrderAndNothingMore() throws Exception {
        try (WireConnection c = new WireConnection(standIn.port())) {
            byte[] chat = ("{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").getBytes(StandardCharsets.UTF_8);
            // three requests in one write: a stream, a 400, a plain answer
            c.send("POST", "/api/chat", Req.json(), chat);
            c.send("POST", "/api/chat", Req.json(), "{".getBytes(StandardCharsets.UTF_8));
            c.send("GET", "/api/version", Map.of(), null);
            assertThat(c.read(false, false).status()).as(c.transcript()).isEqualTo(200);
            assertThat(c.read(false, false).status()).as(c.transcript()).isEqualTo(400);
            assertThat(c.read(false, false).text()).as(c.transcript()).contains("version");
            assertThat(c.stray(QUIET)).as("bytes after the third answer\n" + c.transcript()).isEmpty();
            assertThat(c.closedByServer()).as(c.transcript()).isFalse();
        }
    }

    @Test
    void chunkedRequestBodyIsReadToItsEnd() throws Exception {
        try (WireConnection c = new WireConnection(standIn.port())) {
            String body = "{\"model\":\"" + M + "\",\"prompt\":\"hi\",\"stream\":false}";
            Map<String, String> h = new LinkedHashMap<>(Req.json());
            h.put("Transfer-Encoding", "chunked");
            c.sendHead("POST", "/api/generate", h, -1);
            c.sendBody((Integer.toHexString(10) + "\r\n" + body.substring(0, 10) + "\r\n" + Integer.toHexString(body.length() - 10)
                    + "\r\n" + body.substring(10) + "\r\n0\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            assertThat(c.read(false, false).status()).as(c.transcript()).isEqualTo(200);
            assertThat(c.stray(QUIET)).as(c.transcript()).isEmpty();
            assertThat(c.exchange("GET", "/api/version", Map.of(), null).status()).as(c.transcript()).isEqualTo(200);
        }
    }

    /** A body larger than the limit is refused from its Content-Length, before it is sent: then the connection ends. */
    @Test
    void refusedLargeBodyEndsTheConnectionAfterOneAnswer() throws Exception {
        try (WireConnection c = new WireConnection(standIn.port())) {
            c.sendHead("POST", "/api/chat", Req.json(), 9_000_000);
            WireConnection.Response r = c.read(false, false);
            assertThat(r.status()).as(c.transcript()).isEqualTo(413);
            assertThat(strayAfter(c, r)).as("bytes after the 413\n" + c.transcript()).isEmpty();
            // the unread body cannot be told from a next request: the server must not wait for one on this connection
            assertThat(r.closes()).as("connection not announced as closing after an unread body\n" + c.transcript()).isTrue();
        }
    }

    /**
     * A request refused from its headers (a foreign Origin, no API key) is answered before its body arrives; the
     * body that follows must not be taken for a next request, and a connection the server then ends must have been
     * announced as ending ({@code Connection: close}), or a pooling client's next request fails on it.
     */
    @Test
    void requestRefusedBeforeItsBodyArrivesEndsWithAnnouncedClose() throws Exception {
        byte[] body = "{\"model\":\"x\"}".getBytes(StandardCharsets.UTF_8);
        try (JemmaServer s = TestServers.start(TestServers.config().withSecurity("sekret", List.of()), home)) {
            for (String origin : new String[] {"http://evil.example", null}) {
                try (WireConnection c = new WireConnection(s.port())) {
                    Map<String, String> headers = new java.util.LinkedHashMap<>(Req.json());
                    if (origin != null) headers.put("Origin", origin);
                    c.sendHead("POST", "/api/chat", headers, body.length);
                    WireConnection.Response r = c.read(false, false);
                    assertThat(r.status()).as(c.transcript()).isEqualTo(origin != null ? 403 : 401);
                    Thread.sleep(300); // a body that arrives late (a slow client, or one that waited for an answer)
                    try {
                        c.sendBody(body); // the client goes on sending what it announced
                    } catch (IOException closed) {
                        // the server may have closed already; what matters is that it said so
                    }
                    assertThat(strayAfter(c, r)).as("bytes after the " + r.status() + "\n" + c.transcript()).isEmpty();
                    if (c.closedByServer()) {
                        assertThat(r.closes()).as("closed without Connection: close\n" + c.transcript()).isTrue();
                    } else {
                        assertThat(c.exchange("GET", "/api/version", Map.of("Authorization", "Bearer sekret"), null).status())
                                .as(c.transcript()).isEqualTo(200);
                    }
                }
            }
        }
    }

    /** A body that stops half-way is answered 408 once its time is up, and the connection closed. */
    @Test
    void stalledBodyGetsOne408ThenTheConnectionCloses() throws Exception {
        JemmaServer.Config cfg = JemmaServer.Config.defaults().withPort(0).withModels(List.of(TestServers.tinyModel().toString()))
                .withEngine(1, false, 0).withNet(new JemmaServer.Net(Duration.ofSeconds(30), Duration.ofSeconds(1), 64, 64));
        try (JemmaServer s = JemmaServer.start(cfg, new ModelStore(Files.createTempDirectory(home, "store")), e -> new StandInModel(),
                HubClient::fromEnvironment); WireConnection c = new WireConnection(s.port())) {
            c.sendHead("POST", "/api/chat", Req.json(), 100);
            c.sendBody("{\"model\":".getBytes(StandardCharsets.UTF_8));
            WireConnection.Response r = c.read(false, false);
            assertThat(r.status()).as(c.transcript()).isEqualTo(408);
            assertThat(r.closes()).as(c.transcript()).isTrue();
            assertThat(strayAfter(c, r)).as("bytes after the 408\n" + c.transcript()).isEmpty();
            assertThat(c.closedByServer()).as(c.transcript()).isTrue();
        }
    }

    /**
     * A model that fails after its answer has started: the status is out already, so the stream cannot turn into an
     * error; it must end without its terminating chunk (the client sees a broken stream, not a complete answer) and
     * nothing may follow it.
     */
    @Test
    void streamThatFailsMidwayIsCutOffNotCompletedOrFollowed() throws Exception {
        try (JemmaServer s = standInServer(e -> StandInModel.failingAfterText())) {
            for (String path : List.of("/api/chat", "/v1/chat/completions")) {
                try (WireConnection c = new WireConnection(s.port())) {
                    String body = "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}";
                    c.send("POST", path, Req.json(), body.getBytes(StandardCharsets.UTF_8));
                    WireConnection.Response r;
                    try {
                        r = c.read(false, false);
                    } catch (IOException cutOff) {
                        assertThat(c.closedByServer()).as(c.transcript()).isTrue();
                        continue;
                    }
                    // a complete response: then it must be an error, and nothing may follow
                    assertThat(r.status()).as(path + " completed a failed stream\n" + c.transcript()).isGreaterThanOrEqualTo(500);
                    assertThat(c.stray(QUIET)).as(c.transcript()).isEmpty();
                }
            }
        }
    }

    /** Sends each request on one of several kept-alive connections, checking the wire after each answer. */
    private static void assertClean(JemmaServer server, List<Req> reqs) throws Exception {
        int lanes = Math.min(16, reqs.size());
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(lanes);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int lane = 0; lane < lanes; lane++) {
                int first = lane;
                done.add(pool.submit(() -> {
                    WireConnection c = null;
                    try {
                        for (int i = first; i < reqs.size(); i += lanes) {
                            if (c == null) c = new WireConnection(server.port());
                            String problem = check(c, reqs.get(i));
                            if (problem != null) problems.add(problem);
                            if (c.closedByServer()) {
                                c.close();
                                c = null;
                            }
                        }
                    } catch (IOException e) {
                        problems.add("lane " + first + ": " + e);
                    } finally {
                        try {
                            if (c != null) c.close();
                        } catch (IOException ignored) {
                            // closing a test socket
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get();
        } finally {
            pool.shutdownNow();
        }
        assertThat(problems).as("requests whose connection was not left clean").isEmpty();
    }

    /** Null when a 4xx with a body carries JSON naming the problem, as every API answer does; else what is wrong. */
    private static String jsonError(WireConnection.Response resp) {
        if (resp.status() < 400 || resp.body().length == 0) return null;
        try {
            var json = Exchange.JSON.readTree(resp.body());
            return json != null && json.has("error") ? null : resp.status() + " without a JSON error: " + resp.text();
        } catch (IOException e) {
            return resp.status() + " not JSON (" + resp.headers().get("content-type") + "): " + resp.text();
        }
    }

    /**
     * Requests Jetty refuses before the API sees them: one JSON error each, and the connection either kept usable or
     * closed with {@code Connection: close} said first — never closed unannounced, which fails a pooling client's next
     * request (the JDK's HttpClient does not resend a POST).
     */
    @Test
    void malformedRequestsGetJsonAndAnnouncedClose() throws Exception {
        List<String> raw = List.of(
                "GET /static/../../etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n",
                "GET /static/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n",
                "GET /api/%00tags HTTP/1.1\r\nHost: h\r\n\r\n",
                "GET /v1/%2e%2e/%2e%2e/x HTTP/1.1\r\nHost: h\r\n\r\n",
                "GET /api/version HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n",
                "GET /api/version HTTP/1.1\r\nHost: h\r\nX-Big: " + "x".repeat(20_000) + "\r\n\r\n",
                "GET /api/" + "a".repeat(20_000) + " HTTP/1.1\r\nHost: h\r\n\r\n",
                "POST /api/chat HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n",
                "POST /api/chat HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
                "POST /api/chat HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
                "GET /api/version HTTP/7.0\r\nHost: h\r\n\r\n");
        List<String> problems = new ArrayList<>();
        for (String req : raw) {
            String shown = WireConnection.printable(req.substring(0, Math.min(80, req.length()))
                    .getBytes(StandardCharsets.ISO_8859_1));
            try (WireConnection c = new WireConnection(real.port())) {
                c.sendRaw(req);
                WireConnection.Response resp;
                try {
                    resp = c.read(req.startsWith("HEAD"), false);
                } catch (IOException e) {
                    problems.add(shown + ": " + e.getMessage() + "\n" + c.transcript());
                    continue;
                }
                String jsonProblem = resp.status() >= 400 ? jsonError(resp) : null;
                if (resp.status() < 400) problems.add(shown + ": accepted (" + resp.status() + ")");
                if (jsonProblem != null) problems.add(shown + ": " + jsonProblem);
                byte[] stray = strayAfter(c, resp);
                if (stray.length > 0) problems.add(shown + ": bytes after the answer: " + WireConnection.printable(stray));
                if (c.closedByServer() && !resp.closes()) problems.add(shown + ": closed without Connection: close\n" + c.transcript());
                if (!c.closedByServer()) {
                    WireConnection.Response next = c.exchange("GET", "/api/version", Map.of(), null);
                    if (next.status() != 200) problems.add(shown + ": then GET /api/version: " + next.status());
                }
            }
        }
        assertThat(problems).isEmpty();
    }

    /** One request and a follow-up on its connection; null when all was clean, else what went wrong and the bytes. */
    private static String check(WireConnection c, Req r) throws IOException {
        WireConnection.Response resp;
        try {
            resp = c.exchange(r.method(), r.path(), r.headers(), r.body());
        } catch (IOException e) {
            return r + ": " + e.getMessage() + "\n" + c.transcript();
        }
        if (resp.status() >= 500) return r + ": answered " + resp.status() + "\n" + c.transcript();
        String jsonProblem = jsonError(resp);
        if (jsonProblem != null) return r + ": " + jsonProblem + "\n" + c.transcript();
        if (!resp.interim().isEmpty()) return r + ": interim responses " + resp.interim() + " without Expect\n" + c.transcript();
        byte[] stray = strayAfter(c, resp);
        if (stray.length > 0) {
            return r + ": " + stray.length + " bytes after the complete response: " + WireConnection.printable(stray) + "\n" + c.transcript();
        }
        if (c.closedByServer()) {
            return resp.closes() ? null : r + ": the server closed the connection without Connection: close\n" + c.transcript();
        }
        if (resp.closes()) return r + ": Connection: close, yet the server kept the connection open\n" + c.transcript();
        // the connection is still good for the next request
        WireConnection.Response next;
        try {
            next = c.exchange("GET", "/api/version", Map.of(), null);
        } catch (IOException e) {
            return r + ", then GET /api/version on the same connection: " + e.getMessage() + "\n" + c.transcript();
        }
        if (next.status() != 200 || !next.text().contains("version")) {
            return r + ", then GET /api/version: " + next.status() + " " + next.text() + "\n" + c.transcript();
        }
        byte[] after = c.stray(Duration.ZERO);
        return after.length == 0 ? null : r + ", then GET /api/version: bytes after it: " + WireConnection.printable(after) + "\n" + c.transcript();
    }
}
