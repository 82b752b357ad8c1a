package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.jemma.tools.store.HubClient;
import dev.jemma.core.repack.RepackCache;
import dev.jemma.core.store.ModelStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** /api/pull from a loopback hub-style server, then the pulled model answers, then /api/delete removes it and its weight cache. */
class PullApiTest {
    @TempDir
    Path home;

    @Test
    void pullChatDelete() throws Exception {
        byte[] gguf = Files.readAllBytes(TestServers.tinyModel());
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(gguf));
        HttpServer hub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        hub.createContext("/", ex -> {
            try (ex) {
                String p = ex.getRequestURI().getPath();
                byte[] body;
                if (p.equals("/api/models/org/tiny-GGUF/tree/main")) {
                    body = ("[{\"type\":\"file\",\"path\":\"tiny-Q8_0.gguf\",\"size\":" + gguf.length + ",\"lfs\":{\"oid\":\""
                            + sha + "\",\"size\":" + gguf.length + "}}]").getBytes(StandardCharsets.UTF_8);
                } else if (p.equals("/org/tiny-GGUF/resolve/main/tiny-Q8_0.gguf")) {
                    body = gguf;
                } else {
                    ex.sendResponseHeaders(404, -1);
                    return;
                }
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
            }
        });
        hub.start();
        JemmaServer.Config c = TestServers.config().withModels(List.of());
        HubClient client = new HubClient(URI.create("http://127.0.0.1:" + hub.getAddress().getPort()), null);
        try (JemmaServer server = JemmaServer.start(c, new ModelStore(home), EngineModel.loader(c), () -> client)) {
            String name = "hf.co/org/tiny-GGUF:Q8_0";
            TestServers.Reply pull = TestServers.post(server, "/api/pull", "{\"model\":\"" + name + "\"}");
            assertThat(pull.status()).isEqualTo(200);
            List<String> lines = pull.body().lines().toList();
            assertThat(lines.getFirst()).contains("pulling manifest");
            assertThat(lines.getLast()).contains("\"success\"");
            assertThat(pull.body()).contains("\"completed\":" + gguf.length);

            assertThat(TestServers.get(server, "/api/tags").json().path("models").get(0).path("name").asText()).isEqualTo(name);
            JsonNode answer = TestServers.post(server, "/api/chat", "{\"model\":\"" + name + "\",\"stream\":false,"
                    + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"options\":{\"num_predict\":3}}").json();
            assertThat(answer.path("done").asBoolean()).isTrue();
            assertThat(answer.path("eval_count").asInt()).isBetween(1, 3);

            // the chat built the model's weight cache copy; deleting the model deletes it too
            List<Path> copies = RepackCache.cacheFilesFor(new ModelStore(home).find(name).orElseThrow().path());
            assertThat(copies).isNotEmpty().allMatch(Files::exists);
            TestServers.Reply del = TestServers.send(server, HttpRequest.newBuilder(URI.create(server.uri() + "/api/delete"))
                    .method("DELETE", HttpRequest.BodyPublishers.ofString("{\"model\":\"" + name + "\"}")));
            assertThat(del.status()).isEqualTo(200);
            assertThat(copies).noneMatch(Files::exists);
            assertThat(TestServers.get(server, "/api/tags").json().path("models").size()).isZero();
            TestServers.Reply again = TestServers.send(server, HttpRequest.newBuilder(URI.create(server.uri() + "/api/delete"))
                    .method("DELETE", HttpRequest.BodyPublishers.ofString("{\"model\":\"" + name + "\"}")));
            assertThat(again.status()).isEqualTo(404);
            assertThat(again.json().path("error").asText()).contains("not found");
        } finally {
            hub.stop(0);
        }
    }

    /** A hub that cannot be reached is the server's trouble, not the request's: a 502 naming the host, not a 400. */
    @Test
    void anUnreachableHubIsA502() {
        JemmaServer.Config c = TestServers.config().withModels(List.of());
        HubClient client = new HubClient(URI.create("http://127.0.0.1:1"), null);
        try (JemmaServer server = JemmaServer.start(c, new ModelStore(home), EngineModel.loader(c), () -> client)) {
            TestServers.Reply r = TestServers.post(server, "/api/pull", "{\"model\":\"hf.co/org/tiny-GGUF:Q8_0\",\"stream\":false}");
            assertThat(r.status()).as(r.body()).isEqualTo(502);
            assertThat(r.json().path("error").asText()).contains("cannot reach 127.0.0.1");
            // a name that is not a model name stays the client's mistake
            assertThat(TestServers.post(server, "/api/pull", "{\"model\":\"nosuch:model\",\"stream\":false}").status()).isEqualTo(400);
        }
    }
}
