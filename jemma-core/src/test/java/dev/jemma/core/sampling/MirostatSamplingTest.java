package dev.jemma.core.sampling;

import org.junit.jupiter.api.Test;

import static dev.jemma.core.sampling.SamplerTest.histogram;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class MirostatSamplingTest {
    static SamplingParams mirostat(int version, float tau, float eta, long seed) {
        return new SamplingParams(1f, 64, 0.95f, 0f, 1f, 64, 0f, 0f, seed).withMirostat(new MirostatParams(version, tau, eta));
    }

    /** Eight tokens, one slightly ahead: about 3 bits of surprise each. */
    static final float[] FLAT = {0.1f, 0, 0, 0, 0, 0, 0, 0};

    /**
     * μ starts at 2τ = 2: version 1 estimates k = 1, version 2 keeps only tokens of at most 2 bits (none: the best); the
     * token drawn has probability 1 among the kept, surprise 0, so μ = 2 − η·(0 − τ) = 3. Mutations caught: μ not
     * updated (2), the update's sign flipped (1).
     */
    @Test
    void muMovesByEtaTimesTheSurpriseError() {
        for (int version : new int[]{1, 2}) {
            Sampler s = new Sampler(mirostat(version, 1f, 1f, 1));
            assertThat(s.mirostatMu()).isEqualTo(2.0);
            assertThat(s.sample(FLAT, 0, 8, null, 0)).isEqualTo(0);
            assertThat(s.mirostatMu()).as("version %d", version).isCloseTo(3.0, within(1e-9));
        }
    }

    /**
     * With μ moving, the cut opens once the surprise stays below τ, and the other tokens get drawn; with μ stuck at 2τ
     * only the best token ever is (mutation caught: μ not updated).
     */
    @Test
    void theCutFollowsTheTarget() {
        for (int version : new int[]{1, 2}) {
            var h = histogram(new Sampler(mirostat(version, 1f, 1f, 2)), FLAT, 400);
            assertThat(h.keySet().size()).as("version %d: %s", version, h).isGreaterThan(4);
            // a high target keeps every token from the start
            var wide = histogram(new Sampler(mirostat(version, 10f, 0.1f, 3)), FLAT, 400);
            assertThat(wide.keySet()).as("version %d", version).hasSize(8);
        }
    }

    /** A low target draws the best token far more often than a high one (the purpose of the feedback). */
    @Test
    void aLowerTargetIsLessSurprising() {
        float[] l = {3f, 2f, 1.5f, 1f, 0.5f, 0f, 0f, 0f, 0f, 0f};
        for (int version : new int[]{1, 2}) {
            int low = histogram(new Sampler(mirostat(version, 0.5f, 0.5f, 4)), l, 2000).getOrDefault(0, 0);
            int high = histogram(new Sampler(mirostat(version, 4f, 0.5f, 4)), l, 2000).getOrDefault(0, 0);
            assertThat(low).as("version %d", version).isGreaterThan(high + 400);
        }
    }

    /** Each generation's sampler starts from 2τ, whatever the one before it reached (mutation caught: μ carried over). */
    @Test
    void muIsPerGeneration() {
        Sampler first = new Sampler(mirostat(2, 1f, 1f, 5));
        for (int i = 0; i < 5; i++) first.sample(FLAT, 0, 8, null, 0);
        assertThat(first.mirostatMu()).isNotEqualTo(2.0);
        assertThat(new Sampler(mirostat(2, 1f, 1f, 5), first).mirostatMu()).isEqualTo(2.0);
    }

    /** Mirostat replaces top-k: with top-k 1 and a high target, every token is still drawn. */
    @Test
    void replacesTopK() {
        SamplingParams p = new SamplingParams(1f, 1, 1f, 0f, 1f, 64, 0f, 0f, 6).withMirostat(new MirostatParams(2, 10f, 0.1f));
        assertThat(histogram(new Sampler(p), FLAT, 400).keySet()).hasSize(8);
    }

    @Test
    void greedyStaysGreedy() {
        SamplingParams p = new SamplingParams(0f, 64, 0.95f, 0f, 1f, 64, 0f, 0f, 7).withMirostat(new MirostatParams(2, 10f, 0.1f));
        assertThat(histogram(new Sampler(p), FLAT, 50)).containsOnlyKeys(0);
    }

    /** The first token of fresh generations (μ = 2τ each time), one sampler per draw. */
    private static java.util.Map<Integer, Integer> firstTokens(int version, float tau, float[] l, int n) {
        java.util.Map<Integer, Integer> h = new java.util.HashMap<>();
        for (int seed = 0; seed < n; seed++) {
            h.merge(new Sampler(mirostat(version, tau, 0.1f, seed)).sample(l, 0, l.length, null, 0), 1, Integer::sum);
        }
        return h;
    }

    /**
     * Mirostat 1 against the paper's formula: over a Zipf distribution p_i ∝ 1/i² of N = 1000 tokens the estimated
     * exponent is s = 2, so with τ = 3 (μ = 6) k = (ε·2^μ / (1 − N^−ε))^(1/s) = √(64 / 0.999) = 8.004: the first draw
     * is among the 8 best and reaches the 8th (p ≈ 1 %). Mutations caught: μ starting at τ (k = 2), 2^μ read as e^μ
     * (k = 20), the exponent s instead of 1/s (k = N), k rounded up (9).
     */
    @Test
    void version1KeepsThePapersTopK() {
        float[] zipf = new float[1000];
        for (int i = 0; i < zipf.length; i++) zipf[i] = (float) (-2 * Math.log(i + 1));
        var h = firstTokens(1, 3f, zipf, 3000);
        assertThat(h.keySet()).as("%s", h).allMatch(t -> t < 8).contains(7);
    }

    /**
     * Mirostat 2 keeps the tokens of at most μ bits of surprise: probabilities 0.4, 0.3, 0.15, 0.1, 0.05 are 1.32,
     * 1.74, 2.74, 3.32 and 4.32 bits, so μ = 2τ = 3 keeps the first three, renormalised (token 2: 0.15 / 0.85).
     * Mutations caught: surprise in nats (all five kept), μ starting at τ (two kept).
     */
    @Test
    void version2KeepsTheTokensWithinMuBits() {
        float[] l = TypicalSamplingTest.logits(0.4, 0.3, 0.15, 0.1, 0.05);
        var h = firstTokens(2, 1.5f, l, 3000);
        assertThat(h).containsOnlyKeys(0, 1, 2);
        assertThat(h.get(2)).isBetween(430, 630); // 3000 · 0.176 = 529
    }
}
