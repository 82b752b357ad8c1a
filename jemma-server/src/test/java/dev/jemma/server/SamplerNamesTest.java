package dev.jemma.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.EnumSet;

import static org.assertj.core.api.Assertions.assertThat;

/** The names llama-server's {@code samplers} list takes, without a server. */
class SamplerNamesTest {
    private static SamplerFields.Values parse(String json) throws Exception {
        return SamplerFields.parse(new ObjectMapper().readTree(json));
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
}
