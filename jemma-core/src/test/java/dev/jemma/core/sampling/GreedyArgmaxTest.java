package dev.jemma.core.sampling;

import dev.jemma.core.tensor.VectorOps;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The greedy pick without a penalty runs {@link VectorOps#argmax} on the caller's row, uncopied: it must be the scalar
 * scan's index (the lowest on ties, -0.0 equal to 0.0, NaN never chosen past the first value) for every length and
 * offset, and a greedy sampler with a penalty must still see the penalised copy.
 */
class GreedyArgmaxTest {
    /** The scan the sampler used before: the definition. */
    private static int scalar(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
        return best;
    }

    @Test
    void vectorArgmaxIsTheScalarScanOnTiesSignedZerosInfinitiesAndNaN() {
        Random rnd = new Random(7);
        for (int n = 1; n <= 80; n++) {
            for (int trial = 0; trial < 40; trial++) {
                int off = rnd.nextInt(5);
                float[] x = new float[off + n + 3];
                // few distinct values: ties everywhere, the maximum repeated at random places
                for (int i = 0; i < x.length; i++) x[i] = rnd.nextInt(4) - 2;
                if (trial % 4 == 1) for (int i = 0; i < x.length; i++) if (x[i] == 0) x[i] = rnd.nextBoolean() ? -0f : 0f;
                if (trial % 4 == 2) for (int i = 0; i < x.length; i++) if (rnd.nextInt(3) == 0) x[i] = Float.NEGATIVE_INFINITY;
                if (trial % 4 == 3) x[off + rnd.nextInt(n)] = Float.NaN;
                if (trial % 8 == 7) x[off] = Float.NaN;
                assertThat(VectorOps.argmax(x, off, n)).as("n %d trial %d", n, trial).isEqualTo(scalar(x, off, n));
            }
        }
        // rows of several of argmax's 4,096-value blocks: the maximum tied across blocks, or only in a late one
        for (int trial = 0; trial < 30; trial++) {
            int n = 3 * 4096 + rnd.nextInt(100), off = rnd.nextInt(3);
            float[] x = new float[off + n];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            int hits = trial % 3 + 1;
            for (int h = 0; h < hits; h++) x[off + rnd.nextInt(n)] = 10f;
            if (trial % 5 == 4) x[off + n - 1 - rnd.nextInt(50)] = Float.NaN;
            assertThat(VectorOps.argmax(x, off, n)).as("long row, trial %d", trial).isEqualTo(scalar(x, off, n));
        }
        float[] masked = new float[37];
        java.util.Arrays.fill(masked, Float.NEGATIVE_INFINITY);
        assertThat(VectorOps.argmax(masked, 0, 37)).isZero();
    }

    @Test
    void aVocabularyRowGivesTheScalarScansIdAtAnyOffset() {
        Random rnd = new Random(3);
        int vocab = 262_144;
        float[] rows = new float[2 * vocab];
        for (int i = 0; i < rows.length; i++) rows[i] = (float) rnd.nextGaussian();
        rows[vocab + 5] = rows[vocab + 200_001] = 9f; // a tie in the second row: the lower id
        Sampler s = new Sampler(SamplerTest.p(0, 64, 0.95f, 0, 1, 1));
        for (int row = 0; row < 2; row++) {
            assertThat(s.sample(rows, row * vocab, vocab, new int[]{1, 2}, 2)).isEqualTo(scalar(rows, row * vocab, vocab));
        }
        assertThat(s.sample(rows, vocab, vocab, null, 0)).isEqualTo(5);
    }

    @Test
    void aPenaltyStillAppliesToTheGreedyPick() {
        float[] l = {0.1f, 3f, 2.9f, -1f};
        int[] history = {1};
        // 3 / 1.1 < 2.9: the penalised token loses
        assertThat(new Sampler(SamplerTest.p(0, 64, 0.95f, 0, 1.1f, 1)).sample(l, 0, 4, history, 1)).isEqualTo(2);
        assertThat(l).containsExactly(0.1f, 3f, 2.9f, -1f);
        assertThat(new Sampler(SamplerTest.p(0, 64, 0.95f, 0, 1f, 1)).sample(l, 0, 4, history, 1)).isEqualTo(1);
    }
}
