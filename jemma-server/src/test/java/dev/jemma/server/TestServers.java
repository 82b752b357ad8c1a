package dev.jemma.server;

import dev.jemma.core.testing.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.tools.store.HubClient;
import dev.jemma.core.store.ModelStore;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Starts loopback servers on the tiny fixture model (bundled in test resources) and talks to them. */
final class TestServers {
    static final String MODEL = "gemma3-tiny-Q8_0";

    private TestServers() {
    }

    /** jemma-core's bundled gemma3-tiny fixture (from its test-jar). */
    static Path tinyModel() {
        return Fixtures.coreResource("fixtures/gemma3-tiny/" + MODEL + ".gguf");
    }

    static JemmaServer.Config config() {
        // One compute thread: the test machines have few cores and the tiny model gains nothing from more.
        return JemmaServer.Config.defaults().withPort(0).withModels(List.of(tinyModel().toString()))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(30));
    }

    static JemmaServer start(JemmaServer.Config c, Path storeHome) {
        return JemmaServer.start(c, new ModelStore(storeHome), EngineModel.loader(c), HubClient::fromEnvironment);
    }

    /**
     * One client per server: test classes start servers on ephemeral ports, and a client shared across classes can
     * hand a new server's request to a pooled keep-alive connection of a closed server that had the same port.
     */
    private static final java.util.Map<JemmaServer, HttpClient> CLIENTS = java.util.Collections.synchronizedMap(new java.util.WeakHashMap<>());

    static HttpClient client(JemmaServer s) {
        return CLIENTS.computeIfAbsent(s, k -> HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build());
    }

    record Reply(int status, String body, java.net.http.HttpHeaders headers) {
        JsonNode json() {
            try {
                return Exchange.JSON.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + body, e);
            }
        }
    }

    static Reply post(JemmaServer s, String path, String body) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(s.uri() + path)).POST(HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        // A large body the server refuses (413 from Content-Length) is answered and the connection closed while the
        // client may still be writing it: a broken pipe instead of the status, at random. Real clients (curl) ask
        // first with "Expect: 100-continue" for large bodies; so does this one.
        if (body.length() > (1 << 20)) b.expectContinue(true);
        return send(s, b);
    }

    static Reply get(JemmaServer s, String path) {
        return send(s, HttpRequest.newBuilder(URI.create(s.uri() + path)).GET());
    }

    static Reply send(JemmaServer s, HttpRequest.Builder b) {
        try {
            HttpResponse<String> r = client(s).send(b.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
            return new Reply(r.statusCode(), r.body(), r.headers());
        } catch (IOException e) {
            CLIENTS.remove(s); // its pooled connection may be the broken one: the next request gets a fresh client
            throw new AssertionError(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
