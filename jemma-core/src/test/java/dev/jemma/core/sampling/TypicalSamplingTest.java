package dev.jemma.core.sampling;

import org.junit.jupiter.api.Test;

import static dev.jemma.core.sampling.SamplerTest.histogram;
import static org.assertj.core.api.Assertions.assertThat;

class TypicalSamplingTest {
    /**
     * Probabilities 0.6, 0.2, 0.1, 0.05, 0.05: entropy 1.158 nats; the surprises' distances from it are 0.647, 0.451,
     * 1.144, 1.838, 1.838, so the typical order is 1, 0, 2, then 3 and 4.
     */
    static final float[] LOGITS = logits(0.6, 0.2, 0.1, 0.05, 0.05);

    static float[] logits(double... probs) {
        float[] l = new float[probs.length];
        for (int i = 0; i < l.length; i++) l[i] = (float) Math.log(probs[i]);
        return l;
    }

    static SamplingParams typical(float p, int topK, long seed) {
        return new SamplingParams(1f, topK, 1f, 0f, 1f, 64, 0f, 0f, seed).withTypicalP(p);
    }

    /** Mutation caught: the typical order reversed (farthest from the entropy first) keeps 3, 4 and 2 instead. */
    @Test
    void keepsTheTokensClosestToTheEntropyNotTheMostLikely() {
        for (int topK : new int[]{0, 5, 64}) {
            assertThat(histogram(new Sampler(typical(0.15f, topK, 1)), LOGITS, 300)).as("top-k %d", topK).containsOnlyKeys(1);
        }
    }

    /**
     * Typical comes after top-k, over its candidates: top-k 3 leaves 0.667, 0.222, 0.111 (entropy 0.848 nats), where
     * token 0's surprise is the closest to it (mutation caught: typical over the whole vocabulary keeps token 1).
     */
    @Test
    void comesAfterTopK() {
        assertThat(histogram(new Sampler(typical(0.15f, 3, 1)), LOGITS, 300)).containsOnlyKeys(0);
    }

    /**
     * The token that takes the sum past p is kept: 0.2 < 0.5, then 0.2 + 0.6 > 0.5. Mutation caught: stopping before
     * that token (keeping while the sum stays below p) leaves token 1 alone.
     */
    @Test
    void keepsTokensUntilTheirProbabilityExceedsP() {
        var h = histogram(new Sampler(typical(0.5f, 0, 2)), LOGITS, 2000);
        assertThat(h).containsOnlyKeys(0, 1);
        assertThat(h.get(0)).isBetween(1350, 1650); // 0.6 / 0.8 = 0.75
    }

    @Test
    void oneIsOff() {
        SamplingParams plain = new SamplingParams(1f, 0, 1f, 0f, 1f, 64, 0f, 0f, 3);
        Sampler a = new Sampler(plain), b = new Sampler(plain.withTypicalP(1f));
        for (int i = 0; i < 200; i++) assertThat(b.sample(LOGITS, 0, 5, null, 0)).isEqualTo(a.sample(LOGITS, 0, 5, null, 0));
    }
}
