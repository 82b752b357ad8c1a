package dev.jemma.core.sampling;

import org.junit.jupiter.api.Test;

import static dev.jemma.core.sampling.SamplerTest.histogram;
import static org.assertj.core.api.Assertions.assertThat;

class TopNSigmaSamplingTest {
    /** Mean 0.6, standard deviation 1.02: one σ below the best is 1.98, two are 0.96. */
    static final float[] LOGITS = {3, 2, 1, 0, 0, 0, 0, 0, 0, 0};

    static SamplingParams sigma(float n, long seed) {
        return new SamplingParams(5f, 0, 1f, 0f, 1f, 64, 0f, 0f, seed).withTopNSigma(n);
    }

    /**
     * At a temperature of 5 every token would be drawn; n σ below the best keeps the first two, then three (mutation
     * caught: the cut n σ below the mean keeps all ten).
     */
    @Test
    void keepsTheTokensWithinNSigmaOfTheBest() {
        assertThat(histogram(new Sampler(sigma(1f, 1)), LOGITS, 1000)).containsOnlyKeys(0, 1);
        assertThat(histogram(new Sampler(sigma(2f, 2)), LOGITS, 1000)).containsOnlyKeys(0, 1, 2);
        assertThat(histogram(new Sampler(sigma(-1f, 3)), LOGITS, 1000)).hasSize(10);
    }

    /** Mirostat in llama.cpp runs alone: top-n-sigma does not cut then. */
    @Test
    void offUnderMirostat() {
        SamplingParams p = sigma(1f, 4).withMirostat(new MirostatParams(2, 20f, 0.1f));
        assertThat(histogram(new Sampler(p), LOGITS, 1000)).hasSize(10);
    }
}
