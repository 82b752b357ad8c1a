package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.engine.GenerationOptions;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code seed: -1} in Ollama's options and on /v1 (chat and completions) means a random seed, as in llama-server and
 * Ollama: the options the engine gets draw a fresh seed for each generation, never -1. Mutation caught:
 * GenerationOptions.sampling() taking -1 literally (every request with seed -1 then samples with the same seed).
 */
class RandomSeedApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void ollamaOptionsSeedMinusOneIsRandom() throws Exception {
        JsonNode body = JSON.readTree("{\"options\":{\"temperature\":0.8,\"seed\":-1}}");
        drawsFreshSeeds(EngineModel.options(OllamaApi.options(body)));
    }

    @Test
    void openAiSeedMinusOneIsRandom() throws Exception {
        JsonNode body = JSON.readTree("{\"model\":\"m\",\"temperature\":0.8,\"seed\":-1}");
        for (boolean chat : new boolean[]{true, false}) drawsFreshSeeds(EngineModel.options(OpenAiApi.options(body, chat)));
    }

    private static void drawsFreshSeeds(GenerationOptions o) {
        long a = o.sampling().seed(), b = o.sampling().seed();
        assertThat(a).isNotEqualTo(-1L);
        assertThat(b).isNotEqualTo(-1L).isNotEqualTo(a);
    }
}
