package dev.jemma.core.engine;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A seed of -1 asks for a random one, as llama.cpp's LLAMA_DEFAULT_SEED does (and Ollama, which passes it on): each
 * generation's sampler gets a freshly drawn seed, never -1 itself, and the engine's default seed does not fill it in.
 * Tested on the seed the sampler is given, not on two answers. Mutation caught: {@code sampling()} taking any set seed
 * literally (the old behaviour: the sampler's seed is -1 every time, so two generations draw the same tokens).
 */
class RandomSeedTest {
    @Test
    void seedMinusOneDrawsAFreshSeedForEachGeneration() {
        GenerationOptions o = GenerationOptions.builder().temperature(1f).seed(GenerationOptions.RANDOM_SEED).build();
        long first = o.sampling().seed();
        long second = o.sampling().seed();
        assertThat(first).isNotEqualTo(-1L);
        assertThat(second).isNotEqualTo(-1L).isNotEqualTo(first);
    }

    @Test
    void aRequestsMinusOneIsNotFilledFromTheEnginesDefaultSeed() {
        GenerationOptions engine = GenerationOptions.builder().seed(42L).build();
        GenerationOptions request = GenerationOptions.builder().seed(-1L).build().orElse(engine);
        assertThat(request.sampling().seed()).isNotIn(-1L, 42L);
    }

    @Test
    void anyOtherSeedIsTakenAsIs() {
        for (long s : new long[]{0, 42, -2, Long.MIN_VALUE, Long.MAX_VALUE, 0xFFFFFFFFL}) {
            assertThat(GenerationOptions.builder().seed(s).build().sampling().seed()).isEqualTo(s);
        }
    }
}
