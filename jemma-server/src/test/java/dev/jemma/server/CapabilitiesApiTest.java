package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Capabilities as Ollama names them, in /api/tags and /api/show (ModelCapabilitiesTest checks the header probe /api/tags
 * uses for models not loaded): a text model completes and calls tools; a Gemma 3 model with its mmproj beside it also
 * sees; a Gemma 3n model with an mmproj holding both towers sees and hears; an embedding model only embeds. No model
 * inserts, so a {@code suffix} is refused by name.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CapabilitiesApiTest {
    @TempDir
    static Path home;
    static JemmaServer server;
    static final String TEXT = TestServers.MODEL, VISION = "gemma3-vision-tiny-F32", GEMMA3N = "gemma3n-mm-tiny-F16",
            EMB = EmbeddingApiTest.EMB;
    static final Map<String, List<String>> EXPECTED = Map.of(
            TEXT, List.of("completion", "tools"),
            VISION, List.of("completion", "vision", "tools"),
            GEMMA3N, List.of("completion", "vision", "audio", "tools"),
            EMB, List.of("embedding"));

    @BeforeAll
    static void start() {
        Path mm = MultimodalFixtures.root();
        List<String> models = List.of(TestServers.tinyModel().toString(),
                mm.resolve("gemma3-vision-tiny/" + VISION + ".gguf").toString(),
                mm.resolve("gemma3n-mm-tiny/" + GEMMA3N + ".gguf").toString(),
                Fixtures.coreResource("embedding/embgemma-tiny/" + EMB + ".gguf").toString());
        var c = JemmaServer.Config.defaults().withPort(0).withModels(models)
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(60));
        server = TestServers.start(c, home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static List<String> names(JsonNode caps) {
        List<String> out = new ArrayList<>();
        caps.forEach(n -> out.add(n.asText()));
        return out;
    }

    private static Map<String, List<String>> tags() {
        TestServers.Reply r = TestServers.get(server, "/api/tags");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        Map<String, List<String>> out = new java.util.HashMap<>();
        r.json().path("models").forEach(m -> out.put(m.path("name").asText(), names(m.path("capabilities"))));
        return out;
    }

    @Test
    @Order(1)
    void tagsAndShowReportWhatEachModelDoes() {
        assertThat(tags()).isEqualTo(EXPECTED);
        for (var e : EXPECTED.entrySet()) {
            TestServers.Reply r = TestServers.post(server, "/api/show", "{\"model\":\"" + e.getKey() + "\"}");
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            assertThat(names(r.json().path("capabilities"))).as(e.getKey()).isEqualTo(e.getValue());
        }
        assertThat(tags()).isEqualTo(EXPECTED);
    }

    @Test
    @Order(2)
    void noModelInserts() {
        TestServers.Reply r = TestServers.post(server, "/api/generate",
                "{\"model\":\"" + TEXT + "\",\"prompt\":\"def f(\",\"suffix\":\"  return x\",\"stream\":false}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().path("error").asText()).contains("'suffix'");
        r = TestServers.post(server, "/v1/completions", "{\"model\":\"" + TEXT + "\",\"prompt\":\"def f(\",\"suffix\":\"  return x\"}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.body()).contains("'suffix'");
        // an empty suffix asks for nothing (Ollama treats it so)
        r = TestServers.post(server, "/api/generate", "{\"model\":\"" + TEXT + "\",\"prompt\":\"Hi\",\"suffix\":\"\",\"stream\":false,"
                + "\"options\":{\"num_predict\":2}}");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
    }
}
