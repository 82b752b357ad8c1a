package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.store.ModelStore;
import dev.jemma.tools.store.HubClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * /api/show's {@code parameters} lists a GGUF's general.sampling.* recommendations (which Jemma applies) under Ollama's
 * option names, in Ollama's "%-30s %v" lines, as Ollama lists a Modelfile's PARAMETERs; none: "". Mutation caught:
 * show's parameters left "" (the demo model's repeat_penalty 1.3 applied to every answer but shown nowhere).
 */
class ShowParametersApiTest {
    @TempDir
    Path home;

    @Test
    void showListsTheFilesSamplingParametersAsOllamaDoes() throws Exception {
        Map<String, Object> md = new LinkedHashMap<>();
        md.put("general.architecture", "gemma3");
        md.put("general.sampling.penalty_repeat", 1.3f);
        md.put("general.sampling.top_k", 40);
        md.put("general.sampling.temp", 1.0f);
        md.put("general.sampling.sequence", "top_k;temperature");
        ServedModel withParams = new StandInModel() {
            @Override
            public Info info() {
                Info i = super.info();
                return new Info(i.family(), i.parameterSize(), i.quantization(), i.contextLength(), i.sizeBytes(), i.chatTemplate(), md,
                        i.capabilities());
            }
        };
        JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0).withModels(List.of(TestServers.tinyModel().toString()))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(30));
        try (JemmaServer s = JemmaServer.start(c, new ModelStore(Files.createTempDirectory(home, "store")), e -> withParams,
                HubClient::fromEnvironment)) {
            JsonNode show = TestServers.post(s, "/api/show", "{\"model\":\"" + TestServers.MODEL + "\"}").json();
            assertThat(show.path("parameters").asText()).isEqualTo(
                    "temperature                    1\ntop_k                          40\nrepeat_penalty                 1.3");
        }
        assertThat(OllamaApi.parameters(Map.of("general.architecture", "gemma3"))).isEmpty();
    }

    /**
     * {@code jemma serve --temp 0.5 --seed 7}: show lists the defaults answers start from, the flag over the file's value
     * in its place, and the seed after. Mutation caught: show listing the file's parameters only.
     */
    @Test
    void showListsServesSamplingFlagsOverTheFiles() throws Exception {
        Map<String, Object> md = new LinkedHashMap<>();
        md.put("general.architecture", "gemma3");
        md.put("general.sampling.temp", 1.0f);
        md.put("general.sampling.top_k", 40);
        ServedModel withParams = new StandInModel() {
            @Override
            public Info info() {
                Info i = super.info();
                return new Info(i.family(), i.parameterSize(), i.quantization(), i.contextLength(), i.sizeBytes(), i.chatTemplate(), md,
                        i.capabilities());
            }
        };
        JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0).withModels(List.of(TestServers.tinyModel().toString()))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(30))
                .withSampling(dev.jemma.core.engine.GenerationOptions.builder().temperature(0.5f).seed(7L).build());
        try (JemmaServer s = JemmaServer.start(c, new ModelStore(Files.createTempDirectory(home, "store")), e -> withParams,
                HubClient::fromEnvironment)) {
            JsonNode show = TestServers.post(s, "/api/show", "{\"model\":\"" + TestServers.MODEL + "\"}").json();
            assertThat(show.path("parameters").asText()).isEqualTo(
                    "temperature                    0.5\ntop_k                          40\nseed                           7");
        }
    }
}
