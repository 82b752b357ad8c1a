package dev.jemma.server;

import dev.jemma.core.testing.MultimodalFixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.chat.ChatAudio;
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

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Audio over HTTP on the Gemma 3n fixture (its mmproj beside it): OpenAI's {@code input_audio} content part and
 * Jemma's Ollama {@code messages[i].audio} give the answer the Java API gives, also beside an image in the same
 * message; bad requests are 400s naming the field.
 */
class AudioApiTest {
    @TempDir
    static Path home;
    static JemmaServer server;
    static Path model, wav;
    static String name, b64;

    @BeforeAll
    static void start() throws Exception {
        Path dir = MultimodalFixtures.root().resolve("gemma3n-mm-tiny");
        model = dir.resolve("gemma3n-mm-tiny-F16.gguf");
        wav = dir.resolve("media/mix-2.5s-16k.wav");
        name = "gemma3n-mm-tiny-F16";
        b64 = Base64.getEncoder().encodeToString(Files.readAllBytes(wav));
        JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0).withModels(List.of(model.toString(), TestServers.tinyModel().toString()))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(60));
        server = TestServers.start(c, home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    /** What the Java API answers for the clip then the text, greedy, 8 tokens. */
    private static String javaApiAnswer() {
        try (Engine e = Engine.load(model, EngineOptions.builder().threads(1).build()); Session s = e.newSession()) {
            return s.generate(List.of(ChatMessage.user("Transcribe this audio clip.", List.of(), List.of(ChatAudio.read(wav)))),
                    GenerationOptions.builder().temperature(0f).maxTokens(8).build(), TokenListener.NONE).text();
        }
    }

    private static ObjectNode openAiRequest(String model, JsonNode audioPart) {
        ObjectNode body = Exchange.JSON.createObjectNode().put("model", model).put("temperature", 0).put("max_tokens", 8);
        ArrayNode content = body.putArray("messages").addObject().put("role", "user").putArray("content");
        content.add(audioPart);
        content.addObject().put("type", "text").put("text", "Transcribe this audio clip.");
        return body;
    }

    private static ObjectNode inputAudio(String data, String format) {
        ObjectNode part = Exchange.JSON.createObjectNode().put("type", "input_audio");
        part.putObject("input_audio").put("data", data).put("format", format);
        return part;
    }

    @Test
    void openAiInputAudioAndOllamaAudioAnswerAsTheJavaApi() {
        String expected = javaApiAnswer();
        var r = TestServers.post(server, "/v1/chat/completions", openAiRequest(name, inputAudio(b64, "wav")).toString());
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().path("choices").get(0).path("message").path("content").asText()).isEqualTo(expected);

        ObjectNode ollama = Exchange.JSON.createObjectNode().put("model", name).put("stream", false);
        ollama.putObject("options").put("temperature", 0).put("num_predict", 8);
        ObjectNode msg = ollama.putArray("messages").addObject().put("role", "user").put("content", "Transcribe this audio clip.");
        msg.putArray("audio").add(b64);
        r = TestServers.post(server, "/api/chat", ollama.toString());
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().path("message").path("content").asText()).isEqualTo(expected);
    }

    @Test
    void anImageAndAClipInOneMessageAnswerAsTheJavaApi() throws Exception {
        Path png = model.getParent().resolve("media/square-224x224.png");
        String text = "Describe what you see and hear.", image = Base64.getEncoder().encodeToString(Files.readAllBytes(png));
        String expected;
        try (Engine e = Engine.load(model, EngineOptions.builder().threads(1).build()); Session s = e.newSession()) {
            expected = s.generate(List.of(ChatMessage.user(text, List.of(dev.jemma.core.chat.ChatImage.read(png)), List.of(ChatAudio.read(wav)))),
                    GenerationOptions.builder().temperature(0f).maxTokens(8).build(), TokenListener.NONE).text();
        }
        // OpenAI: the parts where they stand (image, clip, text: the Java API's order)
        ObjectNode body = Exchange.JSON.createObjectNode().put("model", name).put("temperature", 0).put("max_tokens", 8);
        ArrayNode content = body.putArray("messages").addObject().put("role", "user").putArray("content");
        content.addObject().put("type", "image_url").putObject("image_url").put("url", "data:image/png;base64," + image);
        content.add(inputAudio(b64, "wav"));
        content.addObject().put("type", "text").put("text", text);
        var r = TestServers.post(server, "/v1/chat/completions", body.toString());
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().path("choices").get(0).path("message").path("content").asText()).isEqualTo(expected);
        // Ollama: images and audio beside the text
        ObjectNode ollama = Exchange.JSON.createObjectNode().put("model", name).put("stream", false);
        ollama.putObject("options").put("temperature", 0).put("num_predict", 8);
        ObjectNode msg = ollama.putArray("messages").addObject().put("role", "user").put("content", text);
        msg.putArray("images").add(image);
        msg.putArray("audio").add(b64);
        r = TestServers.post(server, "/api/chat", ollama.toString());
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().path("message").path("content").asText()).isEqualTo(expected);
    }

    @Test
    void badAudioRequestsAre400sNamingTheField() {
        String[][] cases = {
                {openAiRequest(name, inputAudio(b64, "mp3")).toString(), "messages[0].content[0].input_audio.format 'mp3' is not supported; supported: wav"},
                {openAiRequest(name, inputAudio("@@not base64@@", "wav")).toString(), "messages[0].content[0].input_audio.data is not valid base64"},
                {openAiRequest(name, inputAudio(Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(Base64.getDecoder().decode(b64), 4000)), "wav")).toString(),
                        "messages[0].content[0].input_audio: truncated WAV file"},
                {openAiRequest(name, inputAudio(Base64.getEncoder().encodeToString("hello".getBytes()), "wav")).toString(),
                        "messages[0].content[0].input_audio: too short to be a WAV file"},
                {openAiRequest(TestServers.MODEL, inputAudio(b64, "wav")).toString(), "this model takes no audio"},
                {"{\"model\":\"" + name + "\",\"prompt\":\"hi\",\"audio\":[\"" + b64.substring(0, 8) + "\"]}", "field 'audio': send audio with /api/chat"},
        };
        for (String[] c : cases) {
            var r = TestServers.post(server, c[1].startsWith("field 'audio'") ? "/api/generate" : "/v1/chat/completions", c[0]);
            assertThat(r.status()).as(r.body()).isEqualTo(400);
            assertThat(r.body()).contains(c[1]);
        }
    }
}
