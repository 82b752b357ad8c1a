package dev.jemma.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.engine.GenerationOptions;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;

import static org.assertj.core.api.Assertions.assertThat;

/** The names llama-server's {@code samplers} list takes, without a server. */
class SamplerNamesTest {
    private static SamplerFields.Values parse(String json) throws Exception {
        return SamplerFields.parse(new ObjectMapper().readTree(json), "");
    }

    /**
     * llama.cpp accepts each canonical name with '_' also kebab-cased and without the dash ("topk", "minp", "typp",
     * "topnsigma"), so a client sending those must not get a 400. Mutation caught: the no-dash spellings dropped from
     * {@link SamplerFields.Stage} (an "unknown sampler" 400).
     */
    @Test
    void takesLlamaCppsNoDashSpellings() throws Exception {
        assertThat(parse("{\"samplers\":[\"topnsigma\",\"topk\",\"typp\",\"topp\",\"minp\",\"temp\"]}").omitted())
                .isEqualTo(EnumSet.of(SamplerFields.Stage.PENALTIES, SamplerFields.Stage.DRY, SamplerFields.Stage.XTC));
        assertThat(parse("{\"samplers\":[\"Top-N-Sigma\",\"TYP-P\",\"nucleus\",\"min-p\"]}").omitted())
                .isEqualTo(EnumSet.of(SamplerFields.Stage.PENALTIES, SamplerFields.Stage.DRY, SamplerFields.Stage.TOP_K,
                        SamplerFields.Stage.XTC, SamplerFields.Stage.TEMPERATURE));
    }

    /**
     * With Mirostat on, llama.cpp ignores the samplers list: a list without "temperature" leaves the temperature as
     * sent, where without Mirostat it turns it off (1). Mutation caught: the list applied under Mirostat too.
     */
    @Test
    void theListIsIgnoredUnderMirostat() throws Exception {
        GenerationOptions.Builder b = GenerationOptions.builder().temperature(0.5f);
        parse("{\"mirostat\":2,\"samplers\":[\"top_k\"]}").applyTo(b);
        assertThat(b.build().sampling().temperature()).isEqualTo(0.5f);
        GenerationOptions.Builder plain = GenerationOptions.builder().temperature(0.5f);
        parse("{\"mirostat\":0,\"samplers\":[\"top_k\"]}").applyTo(plain);
        assertThat(plain.build().sampling().temperature()).isEqualTo(1f);
    }
}
