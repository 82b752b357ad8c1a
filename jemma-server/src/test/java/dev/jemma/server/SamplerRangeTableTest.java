package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.engine.SamplerSetting;
import dev.jemma.core.engine.SamplerSettingProbes;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

/**
 * Both APIs take every sampling setting within {@link SamplerSetting}'s range, bounds included (and so does the engine:
 * its own checks, whose messages name no field, are never reached), and refuse the values
 * just outside with a 400 naming the field as the client sent it ({@code options.X} in Ollama's options, {@code X} on
 * /v1) and the value; the CLI's flags are held to the same table (SamplerRangeTableFlagsTest). Mutations caught: a
 * literal bound in OllamaApi or OpenAiApi that differs from the table (top_p's max as 1.5: 1.0000001 taken), a field
 * read without the table's check, an Ollama error naming {@code X} rather than {@code options.X}.
 */
class SamplerRangeTableTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (Exception e) {
            throw new AssertionError(text, e);
        }
    }

    @Test
    void ollamaOptionsTakeTheTablesRanges() {
        for (SamplerSetting s : SamplerSetting.values()) {
            for (String v : SamplerSettingProbes.accepted(s, s.max())) {
                JsonNode body = json("{\"options\":{\"" + s.apiName() + "\":" + v + "}}");
                assertThatCode(() -> EngineModel.options(OllamaApi.options(body))).as(body.toString()).doesNotThrowAnyException();
            }
            for (String v : SamplerSettingProbes.refused(s, s.max())) {
                JsonNode body = json("{\"options\":{\"" + s.apiName() + "\":" + v + "}}");
                refused(() -> OllamaApi.options(body), body, "options." + s.apiName(), s.rule());
            }
        }
    }

    @Test
    void openAiFieldsTakeTheTablesRanges() {
        for (SamplerSetting s : SamplerSetting.values()) {
            if (s == SamplerSetting.NUM_PREDICT) continue; // /v1 has OpenAI's max_tokens instead
            // temperature keeps OpenAI's own 0…2 there
            double max = s == SamplerSetting.TEMPERATURE ? SamplerSetting.OPENAI_MAX_TEMPERATURE : s.max();
            String rule = s == SamplerSetting.TEMPERATURE ? "between 0 and 2 (OpenAI's range; 0 = greedy)" : s.rule();
            for (boolean chat : new boolean[]{true, false}) {
                for (String v : SamplerSettingProbes.accepted(s, max)) {
                    JsonNode body = json("{\"model\":\"m\",\"" + s.apiName() + "\":" + v + "}");
                    assertThatCode(() -> EngineModel.options(OpenAiApi.options(body, chat))).as(body.toString()).doesNotThrowAnyException();
                }
                for (String v : SamplerSettingProbes.refused(s, max)) {
                    JsonNode body = json("{\"model\":\"m\",\"" + s.apiName() + "\":" + v + "}");
                    refused(() -> OpenAiApi.options(body, chat), body, s.apiName(), rule);
                }
            }
        }
    }

    private static void refused(Runnable parse, JsonNode body, String as, String rule) {
        HttpError e = null;
        try {
            parse.run();
        } catch (HttpError x) {
            e = x;
        }
        assertThat(e).as(body + " must be refused").isNotNull();
        assertThat(e.status).isEqualTo(400);
        assertThat(e.getMessage()).as(body.toString()).isEqualTo("field '" + as + "' must be " + rule + ", got " + body.findValue(as.substring(as.lastIndexOf('.') + 1)));
    }

    /**
     * repeat_penalty 0 is refused by name, not by the engine's "repeat penalty must be > 0": llama.cpp divides the
     * logits of seen tokens by it (1 is its "off"), so 0 would make them certain, not turn the penalty off. Mutation
     * caught: the table's REPEAT_PENALTY taking its lower bound (v >= 0).
     */
    @Test
    void repeatPenaltyZeroIsA400NamingTheField() {
        JsonNode ollama = json("{\"options\":{\"repeat_penalty\":0}}");
        refused(() -> OllamaApi.options(ollama), ollama, "options.repeat_penalty", "above 0 and at most 100 (1 = off)");
        JsonNode openAi = json("{\"model\":\"m\",\"repeat_penalty\":0.0}");
        refused(() -> OpenAiApi.options(openAi, true), openAi, "repeat_penalty", "above 0 and at most 100 (1 = off)");
        JsonNode ctx = json("{\"options\":{\"num_ctx\":0}}");
        HttpError e = null;
        try {
            OllamaApi.options(ctx);
        } catch (HttpError x) {
            e = x;
        }
        assertThat(e).isNotNull();
        assertThat(e.getMessage()).isEqualTo("field 'options.num_ctx' must be >= 1, got 0");
    }

    /**
     * A value is checked as the float the engine gets, as the CLI's flags are: repeat_penalty 1e-50 (0 as a float) is a
     * 400 naming the field and the value sent, not the engine's nameless "repeat penalty must be > 0, got 0.0"; top_p
     * 1.00000001 and typical_p 1.00000001 (1 as a float) are taken, as --top-p and --typical take them and llama.cpp,
     * which reads them as floats. Mutation caught: Params.setting checking the double sent (1e-50 passes the check and
     * the engine refuses it; 1.00000001 is refused).
     */
    @Test
    void valuesAreCheckedAsTheFloatTheEngineGets() {
        JsonNode tiny = json("{\"options\":{\"repeat_penalty\":1e-50}}");
        refused(() -> EngineModel.options(OllamaApi.options(tiny)), tiny, "options.repeat_penalty", "above 0 and at most 100 (1 = off)");
        JsonNode tinyV1 = json("{\"model\":\"m\",\"repeat_penalty\":1e-50}");
        refused(() -> EngineModel.options(OpenAiApi.options(tinyV1, true)), tinyV1, "repeat_penalty", "above 0 and at most 100 (1 = off)");
        JsonNode one = json("{\"options\":{\"top_p\":1.00000001,\"typical_p\":1.00000001}}");
        assertThat(EngineModel.options(OllamaApi.options(one)).sampling().topP()).isEqualTo(1f);
        JsonNode oneV1 = json("{\"model\":\"m\",\"top_p\":1.00000001}");
        assertThat(EngineModel.options(OpenAiApi.options(oneV1, true)).sampling().topP()).isEqualTo(1f);
    }
}
