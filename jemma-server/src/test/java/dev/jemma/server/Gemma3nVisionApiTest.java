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
 * A Gemma 3n model (gemma3n-mm-tiny, its mmproj found beside it) sees images through both HTTP APIs: Ollama's base64
 * {@code images} and OpenAI {@code image_url} data: URLs answer what the engine answers for the same message, and
 * /api/show reports the vision capability.
 */
class Gemma3nVisionApiTest {
    @TempDir
    static Path home;
    static JemmaServer server;
    static Path png;
    static final String M = "gemma3n-mm-tiny-F16", TEXT = "What is in the image?";
    static String expected;

    @BeforeAll
    static void start() {
        Path dir = MultimodalFixtures.root().resolve("gemma3n-mm-tiny");
        Path model = dir.resolve(M + ".gguf");
        png = dir.resolve("media/square-224x224.png");
        GenerationOptions greedy = GenerationOptions.builder().temperature(0f).maxTokens(12).build();
        try (Engine e = Engine.load(model, EngineOptions.builder().threads(1).build()); Session s = e.newSession()) {
            assertThat(e.supportsImages()).isTrue();
            expected = s.generate(List.of(ChatMessage.user(TEXT, List.of(ChatImage.read(png)))), greedy, TokenListener.NONE).text();
        }
        JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0).withModels(List.of(model.toString()))
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

    @Test
    void ollamaAndOpenAiImagesAnswerAsTheEngine() throws IOException {
        ObjectNode chat = Exchange.JSON.createObjectNode();
        chat.put("model", M).put("stream", false);
        chat.putObject("options").put("temperature", 0).put("num_predict", 12);
        ObjectNode msg = chat.putArray("messages").addObject();
        msg.put("role", "user").put("content", TEXT);
        msg.putArray("images").add(b64());
        TestServers.Reply r = TestServers.post(server, "/api/chat", chat.toString());
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().path("message").path("content").asText()).isEqualTo(expected);
        // boi + 256 soft tokens + eoi are counted
        assertThat(r.json().path("prompt_eval_count").asInt()).isGreaterThan(258);

        ObjectNode b = Exchange.JSON.createObjectNode();
        b.put("model", M).put("temperature", 0).put("max_tokens", 12);
        ArrayNode parts = b.putArray("messages").addObject().put("role", "user").putArray("content");
        parts.addObject().put("type", "image_url").putObject("image_url").put("url", "data:image/png;base64," + b64());
        parts.addObject().put("type", "text").put("text", TEXT);
        r = TestServers.post(server, "/v1/chat/completions", b.toString());
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().path("choices").get(0).path("message").path("content").asText()).isEqualTo(expected);

        var caps = TestServers.post(server, "/api/show", "{\"model\":\"" + M + "\"}").json().path("capabilities");
        assertThat(caps.toString()).contains("vision");
    }
}
