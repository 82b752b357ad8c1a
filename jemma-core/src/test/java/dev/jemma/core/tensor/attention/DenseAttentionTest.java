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

    @ParameterizedTest
    // MobileNet-V5's multi-query attention (8 heads of 64 over a quarter as many down-sampled keys), grouped heads, more
    // keys than queries, and counts that leave partial row tiles and key tiles
    @CsvSource({"2304, 576, 8, 1, 64, 2", "576, 576, 4, 1, 64, 1", "37, 10, 6, 2, 20, 2", "5, 70, 2, 1, 72, 3", "1, 1, 1, 1, 8, 1"})
    void queriesOverSharedKeysMatchAPlainSoftmax(int queries, int keys, int heads, int kvHeads, int headDim, int threads) {
        Random r = new Random(queries * 31L + keys * 7L + heads);
        int dim = heads * headDim, kvDim = kvHeads * headDim, group = heads / kvHeads;
        float[] q = new float[queries * dim], k = new float[keys * kvDim], v = new float[keys * kvDim];
        float scale = (float) (2.0 / Math.sqrt(headDim));
        for (int i = 0; i < q.length; i++) q[i] = (float) r.nextGaussian() * scale;
        for (int i = 0; i < k.length; i++) {
            k[i] = (float) r.nextGaussian();
            v[i] = (float) r.nextGaussian();
        }
        float[] got = new float[queries * dim];
        try (ThreadPool pool = new ThreadPool(threads)) {
            new DenseAttention(queries, keys, heads, kvHeads, headDim, threads).attend(pool, q, k, v, got);
        }
        int stride = queries > 512 ? 53 : 1;
        double worst = 0;
        double[] p = new double[keys];
        for (int t = 0; t < queries; t += stride) {
            for (int h = 0; h < heads; h++) {
                int g = h / group;
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < keys; j++) {
                    double s = 0;
                    for (int d = 0; d < headDim; d++) s += (double) q[t * dim + h * headDim + d] * k[j * kvDim + g * headDim + d];
                    p[j] = s;
                    max = Math.max(max, s);
                }
                for (int j = 0; j < keys; j++) sum += p[j] = Math.exp(p[j] - max);
                for (int d = 0; d < headDim; d++) {
                    double o = 0;
                    for (int j = 0; j < keys; j++) o += p[j] / sum * v[j * kvDim + g * headDim + d];
                    worst = Math.max(worst, Math.abs(got[t * dim + h * headDim + d] - o));
                }
            }
        }
        assertThat(worst).isLessThan(2e-5);
    }
}
