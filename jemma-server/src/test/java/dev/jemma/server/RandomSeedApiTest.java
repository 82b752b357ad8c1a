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

    /**
     * A whole-number seed written as a float (Python's 42.0, -1.0) is taken, as top_k's 40.0 is and as Ollama and
     * llama-server take it; 42.5 and a seed beyond 64 bits are a 400 naming the field. Mutation caught: longValue
     * accepting only JSON integers (42.0 refused as "must be an integer").
     */
    @Test
    void aWholeNumberWrittenAsAFloatIsASeed() throws Exception {
        assertThat(EngineModel.options(OllamaApi.options(JSON.readTree("{\"options\":{\"seed\":42.0}}"))).sampling().seed()).isEqualTo(42L);
        assertThat(EngineModel.options(OpenAiApi.options(JSON.readTree("{\"model\":\"m\",\"seed\":1e3}"), true)).sampling().seed()).isEqualTo(1000L);
        drawsFreshSeeds(EngineModel.options(OllamaApi.options(JSON.readTree("{\"options\":{\"seed\":-1.0}}"))));
        String[][] bad = {{"42.5", "field 'options.seed' must be an integer"},
                {"18446744073709551615", "field 'options.seed' is out of range (a 64-bit integer)"},
                {"1e19", "field 'options.seed' is out of range (a 64-bit integer)"},
                {"\"7\"", "field 'options.seed' must be an integer"}};
        for (String[] b : bad) {
            JsonNode body = JSON.readTree("{\"options\":{\"seed\":" + b[0] + "}}");
            HttpError e = null;
            try {
                OllamaApi.options(body);
            } catch (HttpError x) {
                e = x;
            }
            assertThat(e).as(b[0]).isNotNull();
            assertThat(e.status).isEqualTo(400);
            assertThat(e.getMessage()).isEqualTo(b[1]);
        }
    }
}
