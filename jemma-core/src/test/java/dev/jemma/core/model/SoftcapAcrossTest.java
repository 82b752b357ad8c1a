package dev.jemma.core.model;

import dev.jemma.core.tensor.ThreadPool;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The final soft-cap split across the pool gives {@link Ops#softcap}'s bits on every logit, whatever the length (from
 * {@code 16 * 8192} floats on it is split; below, it runs on the caller).
 */
class SoftcapAcrossTest {
    @ParameterizedTest(name = "{0} logits")
    @ValueSource(ints = {1, 8191, 8192, 8193, 3 * 8192 + 17, 16 * 8192 + 5, 262144 + 256})
    void splitAcrossThePoolGivesTheSameBits(int n) {
        Random rnd = new Random(n);
        float[] x = new float[n + 3];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 40);
        float[] expected = x.clone(), actual = x.clone();
        Ops.softcap(expected, 0, n, 30f);
        try (ThreadPool pool = new ThreadPool(2)) {
            DecoderBlocks.softcapAcross(pool, actual, n, 30f);
        }
        // every capped value, and nothing past n
        assertThat(actual).containsExactly(expected);
    }
}
