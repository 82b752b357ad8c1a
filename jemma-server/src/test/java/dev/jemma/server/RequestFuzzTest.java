package dev.jemma.server;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jemma.tools.store.HubClient;
import dev.jemma.core.store.ModelStore;
import org.junit.jupiter.api.AfterAll;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Fuzzes the request parsers and validators of {@code /api/chat}, {@code /api/generate} and
 * {@code /v1/chat/completions} (and {@code /v1/completions}): any body is answered 200 or with a 4xx whose JSON names
 * the problem — never a 500, which is how the server reports an exception escaping a handler. The model behind the
 * server is a stand-in that answers at once, so the fuzzer spends its time on parsing, not on generating.
 *
 * <p>Each input goes twice to the server: through the JDK's HttpClient (a real client, on its pooled kept-alive
 * connection), and on a kept-alive connection driven by hand ({@link WireConnection}), which reads exactly the response
 * its framing declares and, before the next input, checks that no byte came after it. The JDK client cannot be relied
 * on for that: it drops a pooled connection on which bytes arrive, silently, and once in a long campaign its own race
 * fails a request as if bytes had arrived (docs/RELIABILITY.md, the server campaign). On a failure the message carries
 * the last inputs sent, the raw bytes of the last exchanges, and a replay of those inputs on a fresh connection.
 *
 * <p>Input: the first byte picks the endpoint, the rest is the body (the seeds in {@code RequestFuzzTestInputs} are
 * real clients' requests).
 */
class RequestFuzzTest {
    static final String[] PATHS = {"/api/chat", "/api/generate", "/v1/chat/completions", "/v1/completions"};
    /** Inputs remembered for a failure's report (the requests that came before it on the same connections). */
    private static final int RECENT = 8;
    /** How long the replay waits for stray bytes after each answer. */
    private static final Duration QUIET = Duration.ofMillis(500);
    private static JemmaServer server;
    private static HttpClient client;
    private static WireConnection wire;
    private static final Deque<Sent> recent = new ArrayDeque<>();
    /** Requests the JDK client failed on its pool race and that were sent again (reported by tools/fuzz). */
    private static long poolRaces;

    private record Sent(String path, byte[] body) {
        @Override
        public String toString() {
            return "POST " + path + " " + WireConnection.printable(body);
        }
    }

    private static synchronized JemmaServer server() {
        if (server == null) {
            try {
                JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0).withModels(List.of(TestServers.tinyModel().toString()))
                        .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(30));
                server = JemmaServer.start(c, new ModelStore(Files.createTempDirectory("jemma-fuzz-store")), e -> new StandInModel(),
                        HubClient::fromEnvironment);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        }
        return server;
    }

    @AfterAll
    static void stop() throws IOException {
        if (poolRaces > 0) System.err.println("fuzz: JDK HttpClient pool races retried: " + poolRaces);
        if (wire != null) wire.close();
        wire = null;
        if (server != null) server.close();
        server = null;
    }

    @FuzzTest(maxDuration = "30s")
    void requestBodies(byte[] input) throws Exception {
        if (input.length == 0) return;
        JemmaServer s = server();
        String path = PATHS[(input[0] & 0xff) % PATHS.length];
        byte[] body = Arrays.copyOfRange(input, 1, input.length);
        remember(path, body);
        HttpResponse<String> resp = viaJdkClient(s, path, body);
        checkAnswer(path, resp.statusCode(), resp.body(), () -> report(s));
        // the same request on the hand-driven connection, after checking that nothing came since its last answer
        byte[] stray = wire == null ? new byte[0] : wire.stray(Duration.ZERO);
        if (stray.length > 0) {
            throw new AssertionError(stray.length + " bytes arrived after the complete answer to the previous request: "
                    + WireConnection.printable(stray) + report(s));
        }
        WireConnection.Response w;
        try {
            if (wire != null && wire.closedByServer()) dropWire();
            if (wire == null) wire = new WireConnection(s.port());
            w = wire.exchange("POST", path, headers(), body);
        } catch (IOException e) {
            throw new AssertionError("raw connection: " + path + ": " + e.getMessage() + report(s), e);
        }
        if (!w.interim().isEmpty()) throw new AssertionError(path + ": interim responses " + w.interim() + " unasked" + report(s));
        checkAnswer(path, w.status(), w.text(), () -> report(s));
        if (w.closes()) dropWire();
    }

    private static HttpResponse<String> viaJdkClient(JemmaServer s, String path, byte[] body) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create(s.uri() + path)).POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .header("Content-Type", "application/json").timeout(Duration.ofSeconds(30)).build();
        try {
            return client.send(r, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // what came on the hand-driven connection after its answer to the previous request (it carried the same ones)
            byte[] stray = wire == null ? new byte[0] : wire.stray(QUIET);
            String report = (stray.length == 0 ? "" : "\n--- on the hand-driven connection, " + stray.length + " " + STRAY
                    + " to the previous request: " + WireConnection.printable(stray)) + report(s);
            // The JDK client's pool race: bytes of this request's own answer handed to the pool's watcher of the
            // connection it had just taken out of the pool. Only believed when the hand-driven connection got nothing
            // stray after the previous answer, and a replay of the last inputs shows nothing either.
            if (poolRace(e) && !report.contains(STRAY)) {
                poolRaces++;
                System.err.println("fuzz: JDK HttpClient pool race (" + chain(e) + "), nothing stray on the wire; sent again" + report);
                return client.send(r, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            }
            throw new AssertionError("JDK HttpClient: " + path + ": " + chain(e) + report, e);
        }
    }

    private static final String STRAY = "bytes after the complete answer";

    /** Whether the JDK client's failure is its race of a pooled connection ("Data received while in pool"). */
    static boolean poolRace(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if ("Data received while in pool".equals(t.getMessage())) return true;
        }
        return false;
    }

    private static String chain(Throwable e) {
        StringBuilder s = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) s.append(s.isEmpty() ? "" : " <- ").append(t);
        return s.toString();
    }

    private static void checkAnswer(String path, int status, String body, Supplier<String> report) throws IOException {
        if (status >= 500) throw new AssertionError(path + " answered " + status + ": " + body + report.get());
        if (status >= 400) {
            // an error body is JSON naming the problem
            var json = Exchange.JSON.readTree(body);
            if (json == null || !json.has("error")) throw new AssertionError(path + " answered " + status + " without an error: " + body + report.get());
        }
    }

    /** The headers the JDK client sends, so both connections carry the same requests. */
    private static Map<String, String> headers() {
        Map<String, String> h = new LinkedHashMap<>(WireConnection.JDK_CLIENT_HEADERS);
        h.put("Content-Type", "application/json");
        return h;
    }

    private static void remember(String path, byte[] body) {
        recent.addLast(new Sent(path, body));
        while (recent.size() > RECENT) recent.removeFirst();
    }

    private static void dropWire() throws IOException {
        if (wire != null) wire.close();
        wire = null;
    }

    /**
     * What a failure's message needs to find the cause: this input and those sent before it, the raw bytes of the last exchanges
     * on the hand-driven connection, and those inputs replayed on a fresh connection, waiting {@link #QUIET} after each
     * answer for anything more.
     */
    private static String report(JemmaServer s) {
        StringBuilder r = new StringBuilder("\n--- the last ").append(recent.size()).append(" inputs, oldest first (the last is this one):");
        for (Sent x : recent) r.append("\n  ").append(x);
        if (wire != null) r.append("\n--- raw bytes of the last exchanges on the hand-driven connection:\n").append(wire.transcript());
        r.append("\n--- replayed on a fresh connection:");
        try (WireConnection c = new WireConnection(s.port())) {
            for (Sent x : recent) {
                WireConnection.Response resp = c.exchange("POST", x.path(), headers(), x.body());
                byte[] stray = c.stray(QUIET);
                r.append("\n  ").append(resp.status()).append(stray.length > 0 ? ", then " + stray.length + " " + STRAY + ": "
                        + WireConnection.printable(stray) : c.closedByServer() ? ", then the server closed the connection" : ", nothing after it");
                if (c.closedByServer()) break;
            }
        } catch (IOException e) {
            r.append("\n  failed: ").append(e.getMessage());
        }
        return r.toString();
    }
}
