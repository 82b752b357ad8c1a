package dev.jemma.server;

import dev.jemma.core.testing.MultimodalFixtures;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.chat.ChatImage;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.engine.TokenListener;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Images through both HTTP APIs on the multimodal fixture model (its mmproj found beside it): Ollama's base64
 * {@code images} in /api/chat and /api/generate, OpenAI {@code image_url} data: URLs, each answering what the engine
 * answers for the same conversation; remote URLs, bad base64, bad images and text-only models get a 400 naming the
 * field.
 */
class VisionApiTest {
    @TempDir
    static Path home;
    static JemmaServer server;
    static Path dir, model, png;
    static final String M = "gemma3-vision-tiny-F32";
    static String expected;

    @BeforeAll
    static void start() {
        dir = MultimodalFixtures.root().resolve("gemma3-vision-tiny");
        model = dir.resolve(M + ".gguf");
        png = dir.resolve("media/square-224x224.png");
        GenerationOptions greedy = GenerationOptions.builder().temperature(0f).maxTokens(12).build();
        try (Engine e = Engine.load(model, EngineOptions.builder().threads(1).build()); Session s = e.newSession()) {
            assertThat(e.supportsImages()).isTrue();
            expected = s.generate(List.of(ChatMessage.user("Describe this picture in one short sentence.", List.of(ChatImage.read(png)))),
                    greedy, TokenListener.NONE).text();
        }
        JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0)
                .withModels(List.of(model.toString(), TestServers.tinyModel().toString()))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(60));
        server = TestServers.start(c, home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static String b64() throws IOException {
        return Base64.getEncoder().encodeToString(Files.readAllBytes(png));
    }

    private static ObjectNode body(String model) {
        ObjectNode b = Exchange.JSON.createObjectNode();
        b.put("model", model).put("stream", false);
        b.putObject("options").put("temperature", 0).put("num_predict", 12);
        return b;
    }

    @Test
    void ollamaChatAndGenerateTakeBase64Images() throws IOException {
        ObjectNode chat = body(M);
        ObjectNode msg = chat.putArray("messages").addObject();
        msg.put("role", "user").put("content", "Describe this picture in one short sentence.");
        msg.putArray("images").add(b64());
        TestServers.Reply r = TestServers.post(server, "/api/chat", chat.toString());
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().path("message").path("content").asText()).isEqualTo(expected);
        // the image's 16 soft tokens and the markers around them are counted
        assertThat(r.json().path("prompt_eval_count").asInt()).isGreaterThan(16);

        ObjectNode gen = body(M);
        gen.put("prompt", "Describe this picture in one short sentence.");
        gen.putArray("images").add(b64());
        r = TestServers.post(server, "/api/generate", gen.toString());
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().path("response").asText()).isEqualTo(expected);
    }

    @Test
    void showSaysWhichModelsSee() {
        var caps = TestServers.post(server, "/api/show", "{\"model\":\"" + M + "\"}").json().path("capabilities");
        assertThat(caps.toString()).contains("vision");
        caps = TestServers.post(server, "/api/show", "{\"model\":\"" + TestServers.MODEL + "\"}").json().path("capabilities");
        assertThat(caps.toString()).doesNotContain("vision");
    }

    @Test
    void openAiTakesDataUrlImagePartsAndRefusesRemoteUrls() throws IOException {
        ObjectNode b = Exchange.JSON.createObjectNode();
        b.put("model", M).put("temperature", 0).put("max_tokens", 12);
        ArrayNode parts = b.putArray("messages").addObject().put("role", "user").putArray("content");
        parts.addObject().put("type", "image_url").putObject("image_url").put("url", "data:image/png;base64," + b64());
        parts.addObject().put("type", "text").put("text", "Describe this picture in one short sentence.");
        TestServers.Reply r = TestServers.post(server, "/v1/chat/completions", b.toString());
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().path("choices").get(0).path("message").path("content").asText()).isEqualTo(expected);

        ((ObjectNode) parts.get(0).get("image_url")).put("url", "https://example.com/cat.png");
        r = TestServers.post(server, "/v1/chat/completions", b.toString());
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.body()).contains("messages[0].content[0].image_url.url").contains("only data: URLs");
    }

    @Test
    void badImagesAndTextOnlyModelsGet400NamingTheField() throws IOException {
        ObjectNode chat = body(M);
        ObjectNode msg = chat.putArray("messages").addObject();
        msg.put("role", "user").put("content", "hi");
        msg.putArray("images").add("!!!not base64!!!");
        TestServers.Reply r = TestServers.post(server, "/api/chat", chat.toString());
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.body()).contains("messages[0].images[0]").contains("base64");

        ((ArrayNode) msg.get("images")).removeAll().add(Base64.getEncoder().encodeToString("plain text".getBytes()));
        r = TestServers.post(server, "/api/chat", chat.toString());
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.body()).contains("messages[0].images[0]: not a supported image");

        ObjectNode text = body(TestServers.MODEL);
        ObjectNode m2 = text.putArray("messages").addObject();
        m2.put("role", "user").put("content", "hi");
        m2.putArray("images").add(b64());
        r = TestServers.post(server, "/api/chat", text.toString());
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.body()).contains("messages[0].images").contains("takes no images");
    }
}
