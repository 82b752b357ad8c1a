package dev.jemma.server;

import dev.jemma.core.chat.ChatAudio;
import dev.jemma.core.chat.ChatImage;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.TokenListener;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tool-call round trips with the official {@code openai} and {@code ollama} JavaScript clients (pinned in
 * tools/clients/package-lock.json, installed by {@code .ci/run} with {@code npm ci}) against {@code jemma serve} on
 * loopback: tools/clients/tool-roundtrip.mjs sends tools with each client, checks the tool_calls parse and validate,
 * sends the result back as a tool message and checks the answer. The OpenAI client asks for a call with tool_choice
 * "required" on the tiny Gemma model (Gemma's prompt format). Ollama's API has no tool_choice and a random-weight model
 * seldom starts a call by itself (no greedy prompt among 672 tried made the FunctionGemma test model call), so the
 * ollama client sends Jemma's /api/chat extension {@code tool_choice: "required"} (the client posts a request's fields
 * as given) to the FunctionGemma test model (its own markup, through the Ollama API), with a fixed seed. Without node or
 * the installed clients the test reports itself skipped, unless JEMMA_REQUIRE_NODE_CLIENTS is set (as {@code .ci/run}
 * sets it): then it fails. Images and audio go through both clients too, on the multimodal fixture models (each mmproj
 * beside its model).
 */
class OfficialClientsTest {
    static final Path CLIENTS = Path.of("../tools/clients");
    static final String VISION = "gemma3-vision-tiny-F32";
    static final Path VISION_DIR = MultimodalFixtures.root().resolve("gemma3-vision-tiny");
    static final String AUDIO = "gemma3n-mm-tiny-F16";
    static final Path AUDIO_DIR = MultimodalFixtures.root().resolve("gemma3n-mm-tiny");

    @TempDir
    static Path home;
    static JemmaServer server;

    @BeforeAll
    static void start() {
        boolean installed = Files.isDirectory(CLIENTS.resolve("node_modules/openai")) && Files.isDirectory(CLIENTS.resolve("node_modules/ollama"));
        String why = !installed ? "the official clients are not installed: run 'npm ci' in tools/clients (.ci/run does)"
                : !nodeRuns() ? "node is not on the PATH" : null;
        if (why != null && System.getenv("JEMMA_REQUIRE_NODE_CLIENTS") != null) {
            throw new AssertionError("JEMMA_REQUIRE_NODE_CLIENTS is set but " + why);
        }
        Assumptions.assumeTrue(why == null, why);
        server = TestServers.start(TestServers.config().withModels(List.of(TestServers.tinyModel().toString(),
                FunctionGemmaApiTest.model().toString(), VISION_DIR.resolve(VISION + ".gguf").toString(),
                AUDIO_DIR.resolve(AUDIO + ".gguf").toString())), home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static boolean nodeRuns() {
        try {
            Process p = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Test
    void toolCallsRoundTripWithTheOfficialClients() throws Exception {
        String out = runClient("tool-roundtrip.mjs", TestServers.MODEL, FunctionGemmaApiTest.MODEL);
        // every check printed its line: the four round trips and their answers
        assertThat(out).contains("ok openai plain:", "ok openai streamed:", "ok ollama plain:", "ok ollama streamed:",
                "ok openai plain result sent back", "ok ollama streamed result sent back", "all tool-call round trips passed");
    }

    /**
     * Images with the official clients (tools/clients/image-roundtrip.mjs): OpenAI's image_url data: URL, plain and
     * streamed, and Ollama's images in /api/chat (base64, and bytes streamed) and /api/generate (a file path the client
     * reads) each answer exactly what the engine answers for the same image and question.
     */
    @Test
    void imagesThroughTheOfficialClientsAnswerAsTheEngine() throws Exception {
        Path png = VISION_DIR.resolve("media/square-224x224.png").toRealPath();
        String question = "Describe this picture in one short sentence.";
        String expected = engineAnswer(VISION_DIR.resolve(VISION + ".gguf"),
                ChatMessage.user(question, List.of(ChatImage.read(png))));
        Map<String, String> answers = answersOf(runClient("image-roundtrip.mjs", VISION, png.toString(), question));
        assertThat(answers.keySet()).containsExactly("openai", "openai streamed", "ollama chat", "ollama chat streamed", "ollama generate");
        answers.forEach((via, answer) -> assertThat(answer).as(via).isEqualTo(expected));
    }

    /**
     * Audio with the official clients (tools/clients/audio-roundtrip.mjs): OpenAI's input_audio part, plain and
     * streamed, and Ollama's chat with the message's {@code audio} field, plain and streamed, each answer exactly what
     * the engine answers for the same clip and question on the Gemma 3n fixture.
     */
    @Test
    void audioThroughTheOfficialClientsAnswersAsTheEngine() throws Exception {
        Path wav = AUDIO_DIR.resolve("media/mix-2.5s-16k.wav").toRealPath();
        String question = "Transcribe this.";
        String expected = engineAnswer(AUDIO_DIR.resolve(AUDIO + ".gguf"),
                ChatMessage.user(question, List.of(), List.of(ChatAudio.read(wav))));
        Map<String, String> answers = answersOf(runClient("audio-roundtrip.mjs", AUDIO, wav.toString(), question));
        assertThat(answers.keySet()).containsExactly("openai", "openai streamed", "ollama chat", "ollama chat streamed");
        answers.forEach((via, answer) -> assertThat(answer).as(via).isEqualTo(expected));
    }

    /** The engine's own greedy answer (12 tokens), what every client must get back through the server. */
    private static String engineAnswer(Path model, ChatMessage message) throws IOException {
        var greedy = GenerationOptions.builder().temperature(0f).maxTokens(12).build();
        try (var e = Engine.load(model, EngineOptions.builder().threads(1).build()); var s = e.newSession()) {
            String text = s.generate(List.of(message), greedy, TokenListener.NONE).text();
            assertThat(text).as("the engine's answer").isNotBlank();
            return text;
        }
    }

    /** Runs one tools/clients script against the server (its base URL first), and returns its output once it exited 0. */
    private static String runClient(String script, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("node", script, server.uri().toString().replaceAll("/$", "")));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(CLIENTS.toFile()).redirectErrorStream(true).start();
        boolean done = p.waitFor(Duration.ofMinutes(4).toSeconds(), TimeUnit.SECONDS);
        if (!done) p.destroyForcibly();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        System.out.println(out);
        assertThat(done).as("node finished: %s", out).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    /** The scripts print one JSON line per route: {"via": …, "answer": …}. */
    private static Map<String, String> answersOf(String out) throws IOException {
        Map<String, String> answers = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            if (!line.startsWith("{")) continue;
            var n = Exchange.JSON.readTree(line);
            answers.put(n.path("via").asText(), n.path("answer").asText());
        }
        return answers;
    }
}
