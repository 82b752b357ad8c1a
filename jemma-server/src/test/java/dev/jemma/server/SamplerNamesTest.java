package dev.jemma.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.sampling.SamplerChain;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The names llama-server's {@code samplers} list takes, without a server. */
class SamplerNamesTest {
    private static SamplerFields.Values parse(String json) throws Exception {
        return SamplerFields.parse(new ObjectMapper().readTree(json), "");
    }

    /**
     * llama.cpp accepts each canonical name with '_' also kebab-cased and without the dash ("topk", "minp", "typp",
     * "topnsigma"), so a client sending those must not get a 400; the order is kept as sent. Mutation caught: the
     * no-dash spellings dropped from {@link dev.jemma.core.sampling.SamplerStage} (an "unknown sampler" 400).
     */
    @Test
    void takesLlamaCppsNoDashSpellings() throws Exception {
        assertThat(parse("{\"samplers\":[\"topnsigma\",\"topk\",\"typp\",\"topp\",\"minp\",\"temp\"]}").samplers().letters())
                .isEqualTo("skypmt");
        assertThat(parse("{\"samplers\":[\"Top-N-Sigma\",\"TYP-P\",\"nucleus\",\"min-p\"]}").samplers().letters()).isEqualTo("sypm");
        assertThat(parse("{\"samplers\":[\"temperature\",\"top_k\",\"top_k\"]}").samplers().letters()).isEqualTo("tkk");
        assertThat(parse("{\"samplers\":\"edskypmxt\"}").samplers()).isEqualTo(SamplerChain.DEFAULT);
        assertThat(parse("{}").samplers()).isNull();
    }

    /** The list reaches the generation options as sent; Mirostat's disregard of it is the sampler's (core's tests). */
    @Test
    void theListGoesToTheOptions() throws Exception {
        GenerationOptions.Builder b = GenerationOptions.builder().temperature(0.5f);
        parse("{\"mirostat\":2,\"samplers\":\"tk\"}").applyTo(b);
        assertThat(b.build().samplers()).isEqualTo(SamplerChain.ofLetters("tk"));
        assertThat(b.build().sampling().temperature()).isEqualTo(0.5f);
    }

    /** Unknown names and letters are a 400 naming the field and the value. */
    @Test
    void unknownNamesAreRefusedByName() {
        assertThatThrownBy(() -> parse("{\"samplers\":[\"top_k\",\"tfs_z\"]}")).isInstanceOf(HttpError.class)
                .hasMessageStartingWith("field 'samplers': unknown sampler 'tfs_z'");
        assertThatThrownBy(() -> parse("{\"samplers\":\"kq\"}")).hasMessageStartingWith("field 'samplers': unknown sampler letter 'q'");
        assertThatThrownBy(() -> parse("{\"samplers\":[\"infill\"]}")).hasMessageContaining("infill");
        assertThatThrownBy(() -> parse("{\"samplers\":[1]}")).hasMessageStartingWith("field 'samplers': 1 is not a sampler name");
        assertThatThrownBy(() -> parse("{\"samplers\":3}")).hasMessageStartingWith("field 'samplers' must be");
    }
}
