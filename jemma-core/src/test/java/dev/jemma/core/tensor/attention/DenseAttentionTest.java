package dev.jemma.core.tensor.attention;

import dev.jemma.core.tensor.ThreadPool;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The GEMM-shaped dense attention against the per-head reference {@link Attention#attendOne} (bidirectional, no cache). */
class DenseAttentionTest {
    @ParameterizedTest
    // SigLIP's heads of 72 (no whole number of vectors at any width), the fixtures' 32, odd sizes and token counts that
    // leave partial row tiles, blocks and key tiles
    @CsvSource({"1024, 2, 72, 2", "300, 16, 72, 2", "256, 4, 32, 1", "37, 3, 20, 2", "5, 2, 72, 3", "1, 1, 8, 1"})
    void matchesTheReference(int n, int heads, int headDim, int threads) {
        Random r = new Random(n * 31L + heads * 7L + headDim);
        int dim = heads * headDim;
        float[] q = new float[n * dim], k = new float[n * dim], v = new float[n * dim];
        // scores spread over several units, so the softmax is neither flat nor one-hot
        float scale = (float) (2.0 / Math.sqrt(headDim));
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) r.nextGaussian() * scale;
            k[i] = (float) r.nextGaussian();
            v[i] = (float) r.nextGaussian();
        }
        float[] got = new float[n * dim], want = new float[n * dim], scores = new float[n];
        try (ThreadPool pool = new ThreadPool(threads)) {
            new DenseAttention(n, heads, headDim, threads).attend(pool, q, k, v, got);
        }
        // only a sample of rows for the long input: the reference is slow
        int stride = n > 512 ? 97 : 1;
        double worst = 0;
        for (int t = 0; t < n; t += stride) {
            for (int h = 0; h < heads; h++) {
                int o = t * dim + h * headDim;
                Attention.attendOne(Visibility.BIDIRECTIONAL, q, o, t, n - 1, KvView.none(), k, v, 0, dim, h, headDim, scores, want, o);
                for (int d = 0; d < headDim; d++) worst = Math.max(worst, Math.abs(got[o + d] - want[o + d]));
            }
        }
        // the same sums in another order: float rounding only (outputs are O(1))
        assertThat(worst).isLessThan(2e-5);
    }
}
