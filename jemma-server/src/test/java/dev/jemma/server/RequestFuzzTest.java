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
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Fuzzes the request parsers and validators of {@code /api/chat}, {@code /api/generate} and
 * {@code /v1/chat/completions} (and {@code /v1/completions}): any body is answered 200 or with a 4xx whose JSON names
 * the problem — never a 500, which is how the server reports an exception escaping a handler. The model behind the
 * server is a stand-in that answers at once, so the fuzzer spends its time on parsing, not on generating.
 *
 * <p>Input: the first byte picks the endpoint, the rest is the body (the seeds in {@code RequestFuzzTestInputs} are
 * real clients' requests).
 */
class RequestFuzzTest {
    private static final String[] PATHS = {"/api/chat", "/api/generate", "/v1/chat/completions", "/v1/completions"};
    private static JemmaServer server;
    private static HttpClient client;

    private static synchronized JemmaServer server() {
        if (server == null) {
            try {
                JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0).withModels(List.of(TestServers.tinyModel().toString()))
                        .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(30));
                server = JemmaServer.start(c, new ModelStore(Files.createTempDirectory("jemma-fuzz-store")), e -> new StandIn(),
                        HubClient::fromEnvironment);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        }
        return server;
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
        server = null;
    }

    @FuzzTest(maxDuration = "30s")
    void requestBodies(byte[] input) throws Exception {
        if (input.length == 0) return;
        JemmaServer s = server();
        String path = PATHS[(input[0] & 0xff) % PATHS.length];
        byte[] body = Arrays.copyOfRange(input, 1, input.length);
        HttpRequest r = HttpRequest.newBuilder(URI.create(s.uri() + path)).POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .header("Content-Type", "application/json").timeout(Duration.ofSeconds(30)).build();
        HttpResponse<String> resp = client.send(r, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        int status = resp.statusCode();
        if (status >= 500) throw new AssertionError(path + " answered " + status + ": " + resp.body());
        if (status >= 400) {
            // an error body is JSON naming the problem
            var json = Exchange.JSON.readTree(resp.body());
            if (json == null || !json.has("error")) throw new AssertionError(path + " answered " + status + " without an error: " + resp.body());
        }
    }

    /** Answers every request at once with one piece of text; checks what the parsers handed it. */
    private static final class StandIn implements ServedModel {
        @Override
        public Result run(Request request, Listener listener) {
            if (request.options() == null) throw new AssertionError("a request without options");
            if (request.messages() == null && request.prompt() == null) throw new AssertionError("a request with neither messages nor prompt");
            if (request.messages() != null) {
                for (Message m : request.messages()) {
                    if (m.role() == null || m.content() == null) throw new AssertionError("a message with a null field: " + m);
                }
            }
            listener.onText("ok");
            return new Result(1, 1, 1, 1, 1, "stop", new int[]{2, 5});
        }

        @Override
        public Info info() {
            return new Info("gemma3", "1M", "Q8_0", 128, 1000, "{{ messages }}", Map.of(),
                    new dev.jemma.core.engine.ModelCapabilities(true, false, false));
        }

        @Override
        public void close() {
        }
    }
}
