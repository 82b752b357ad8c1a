package dev.jemma.core.model;

import dev.jemma.core.JemmaException;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The Gemma 3n building blocks against hand-worked values or a naive double-precision recomputation. */
class Gemma3nPartsTest {
    static ThreadPool pool;
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @BeforeAll
    static void setUp() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void tearDown() {
        pool.close();
    }

    /** An F32 weight of {@code rows} rows of {@code cols} from row-major values. */
    static WeightMatrix f32(String name, float[] w, int rows, int cols) {
        MemorySegment seg = Arena.ofAuto().allocate(4L * w.length, 4);
        for (int i = 0; i < w.length; i++) seg.setAtIndex(F32, i, w[i]);
        return new WeightMatrix(name, seg, GgmlType.F32, rows, cols);
    }

    static float[] random(Random r, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * scale);
        return x;
    }

    static double[] rmsNorm(double[] x, float[] w, double eps) {
        double ss = 0;
        for (double v : x) ss += v * v;
        double inv = 1 / Math.sqrt(ss / x.length + eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * inv * (w == null ? 1 : w[i]);
        return y;
    }

    // ---- activation sparsity -------------------------------------------------------------------------------

    @Test
    void gaussianTopKUsesPopulationStd() {
        float[] x = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 100, 1, 2, 3, 4, 5, 6, 7, 8};
        // worked: mean 14.05, population variance 827.0475 (std 28.7584...; numpy x.std()), cutoff = mean + std
        float[] y = x.clone();
        Gemma3nModel.gaussianTopK(y, 0, y.length, 1f);
        double mean = 14.05, std = Math.sqrt(827.0475);
        assertThat(y[10]).isCloseTo((float) (100 - (mean + std)), within(1e-4f));
        for (int i = 0; i < y.length; i++) if (x[i] < 50) assertThat(y[i]).isZero();
        // with n−1 (llama.cpp) the cutoff would be higher by std·(√(n/(n−1)) − 1)
        double unbiased = Math.sqrt(827.0475 * 20 / 19);
        assertThat((double) y[10]).isGreaterThan(100 - (mean + unbiased) + 0.5);
    }

    @Test
    void gaussianTopKKeepsAboutFivePercentOfGaussianValues() {
        float[] x = random(new Random(1), 16384, 3.0);
        for (int i = 0; i < x.length; i++) x[i] += 0.7f;
        Gemma3nModel.gaussianTopK(x, 0, x.length, Gemma3nConfig.DEFAULT_SPARSITY_SCALE);
        long nonZero = 0;
        for (float v : x) {
            assertThat(v).isGreaterThanOrEqualTo(0f);
            if (v > 0) nonZero++;
        }
        assertThat(nonZero / (double) x.length).isBetween(0.04, 0.06);
    }

    @Test
    void gaussianTopKOnlyTouchesItsRow() {
        float[] x = {9, 1, 2, 3, 4, 9};
        Gemma3nModel.gaussianTopK(x, 1, 4, 0f);            // mean 2.5 → relu(x − 2.5)
        assertThat(x).containsExactly(9f, 0f, 0f, 0.5f, 1.5f, 9f);
    }

    // ---- AltUp -----------------------------------------------------------------------------------------------

    @Test
    void altUpPredictMixesRowIOfTheReshapedCoefficientsIntoStreamI() {
        float[][] s = {{1, 2}, {10, 20}};
        float[][] pred = new float[2][2];
        // C = [[0.1, 0.2], [0.3, 0.4]] (router outputs reshaped row-major, HF reshape(A, A) then permute)
        AltUp.predict(s, 0, 2, new float[]{0.1f, 0.2f, 0.3f, 0.4f}, pred);
        // pred[0] = 0.1·s0 + 0.2·s1 + s0;  pred[1] = 0.3·s0 + 0.4·s1 + s1
        assertThat(pred[0][0]).isCloseTo(3.1f, within(1e-5f));
        assertThat(pred[0][1]).isCloseTo(6.2f, within(1e-5f));
        assertThat(pred[1][0]).isCloseTo(14.3f, within(1e-5f));
        assertThat(pred[1][1]).isCloseTo(28.6f, within(1e-5f));
    }

    @Test
    void altUpCoefficientsAreRowsOfTheGgufMatrixTimesRouter() {
        // altup_predict_coef is stored {A, A²}: A² rows of A inputs
        float[] w = {1, 0, 0, 2, 0, 1, 3, 0};    // 4 rows of A = 2
        float[] out = new float[4];
        AltUp.coefficients(w, 4, new float[]{9, 0.5f, -1}, 1, 2, out);   // r = (0.5, -1)
        assertThat(out).containsExactly(0.5f, -2f, -1f, 1.5f);
    }

    @Test
    void altUpCorrectAddsScaledInnovationToEveryStream() {
        float[][] pred = {{1, 1}, {2, 3}, {4, 5}};
        float[] activated = {3, 0};                         // innovation = activated − pred[0] = (2, −1)
        float[][] out = new float[3][2];
        AltUp.correct(pred, activated, 0, 2, 0, new float[]{1.0f, 0.5f, 2.0f}, out);
        assertThat(out[0]).containsExactly(3f, 0f);         // the active stream becomes the activation when c = 1
        assertThat(out[1]).containsExactly(3f, 2.5f);
        assertThat(out[2]).containsExactly(8f, 3f);
    }

    @Test
    void altUpMagnitudeMatchingAndRouterInput() {
        float[] x = {3, 4};
        assertThat(AltUp.rms(x, 0, 2)).isCloseTo((float) Math.sqrt(12.5), within(1e-6f));
        AltUp.matchMagnitude(x, 0, 2, 1f);
        assertThat(AltUp.rms(x, 0, 2)).isCloseTo(1f, within(1e-6f));
        float[] tiny = {1e-4f, 0};
        AltUp.matchMagnitude(tiny, 0, 2, 1f);               // RMS floored at √1e-5 as in HF
        assertThat(tiny[0]).isCloseTo((float) (1e-4 / Math.sqrt(1e-5)), within(1e-6f));

        float[] in = {1, -1, 1, -1}, dst = new float[5];
        AltUp.routerInput(in, 0, 4, new float[]{1, 2, 3, 4}, 0f, dst, 1);
        assertThat(dst).containsExactly(0f, 0.25f, -0.5f, 0.75f, -1f);
    }

    // ---- LAuReL ----------------------------------------------------------------------------------------------

    @Test
    void laurelIsInputPlusNormedLowRankProduct() {
        Random rnd = new Random(7);
        int dim = 8, rank = 3, count = 2;
        float[] l = random(rnd, rank * dim, 0.5), rr = random(rnd, dim * rank, 0.5), norm = random(rnd, dim, 1), x = random(rnd, count * dim, 1);
        Laurel laurel = new Laurel(f32("l", l, rank, dim), f32("r", rr, dim, rank), norm);
        float[] out = new float[count * dim], mid = new float[count * rank];
        laurel.apply(x, count, 1e-6f, mid, out, MatMul.EXACT, pool);
        for (int t = 0; t < count; t++) {
            double[] m = new double[rank], y = new double[dim];
            for (int i = 0; i < rank; i++) for (int e = 0; e < dim; e++) m[i] += l[i * dim + e] * (double) x[t * dim + e];
            for (int e = 0; e < dim; e++) for (int i = 0; i < rank; i++) y[e] += rr[e * rank + i] * m[i];
            double[] n = rmsNorm(y, norm, 1e-6);
            for (int e = 0; e < dim; e++) assertThat((double) out[t * dim + e]).isCloseTo(x[t * dim + e] + n[e], within(1e-5));
        }
    }

    // ---- per-layer embeddings ------------------------------------------------------------------------------

    @Test
    void perLayerEmbeddingMixesTableRowAndNormedProjectionOfKeptLayers() {
        Random rnd = new Random(11);
        int fileLayers = 3, p = 4, dim = 6, vocab = 5, count = 3;
        int[] kept = {0, 2};                                // a MatFormer slice that skips layer 1
        float[] table = random(rnd, vocab * fileLayers * p, 0.5), proj = random(rnd, fileLayers * p * dim, 0.3),
                norm = random(rnd, p, 1), h0 = random(rnd, count * dim, 2);
        PerLayerEmbedding ple = new PerLayerEmbedding(f32("tok", table, vocab, fileLayers * p), f32("proj", proj, fileLayers * p, dim),
                norm, kept, p, dim, 1e-6f);
        int[] tokens = {99, 4, 1, 7};                       // 7 is outside the table: HF uses row 0
        float[] out = new float[count * kept.length * p];
        ple.compute(tokens, 1, count, h0, out, MatMul.EXACT, pool);
        for (int t = 0; t < count; t++) {
            int row = tokens[1 + t] < vocab ? tokens[1 + t] : 0;
            for (int li = 0; li < kept.length; li++) {
                int fl = kept[li];
                double[] pr = new double[p];
                for (int i = 0; i < p; i++) {
                    for (int e = 0; e < dim; e++) pr[i] += proj[(fl * p + i) * dim + e] * (double) h0[t * dim + e];
                    pr[i] /= Math.sqrt(dim);
                }
                double[] n = rmsNorm(pr, norm, 1e-6);
                for (int i = 0; i < p; i++) {
                    double tok = table[row * fileLayers * p + fl * p + i] * Math.sqrt(p);
                    double want = (n[i] + tok) / Math.sqrt(2);
                    assertThat((double) out[(t * kept.length + li) * p + i]).isCloseTo(want, within(1e-5));
                }
            }
        }
    }

    // ---- KV sharing ------------------------------------------------------------------------------------------

    static boolean[] period5(int n) {
        boolean[] s = new boolean[n];
        for (int l = 0; l < n; l++) s[l] = l % 5 != 4;
        return s;
    }

    @Test
    void kvSharingMapOfTheFixtureE2bAndE4b() {
        // gemma3n-tiny: 22 layers, 2 shared, both sliding → layer 18
        int[] tiny = Gemma3nConfig.kvSourceMap(period5(22), 2);
        for (int l = 0; l < 20; l++) assertThat(tiny[l]).isEqualTo(l);
        assertThat(tiny[20]).isEqualTo(18);
        assertThat(tiny[21]).isEqualTo(18);
        // E2B: 30 layers, 10 shared; full-attention layers 24 and 29 reuse 19, sliding ones 18
        int[] e2b = Gemma3nConfig.kvSourceMap(period5(30), 10);
        for (int l = 20; l < 30; l++) assertThat(e2b[l]).isEqualTo(l % 5 == 4 ? 19 : 18);
        // E4B: 35 layers, 15 shared
        int[] e4b = Gemma3nConfig.kvSourceMap(period5(35), 15);
        for (int l = 20; l < 35; l++) assertThat(e4b[l]).isEqualTo(l % 5 == 4 ? 19 : 18);
        assertThat(Gemma3nConfig.kvSourceMap(period5(35), 0)).containsExactly(java.util.stream.IntStream.range(0, 35).toArray());
    }

    @Test
    void kvSharingNeedsASourceOfTheSameType() {
        boolean[] sliding = {true, true, true, false};      // the shared global layer 3 has no global before it
        assertThatThrownBy(() -> Gemma3nConfig.kvSourceMap(sliding, 1))
                .isInstanceOf(JemmaException.class).hasMessageContaining("shared layer 3");
    }

    @Test
    void sharedLayersOfACacheStoreNothingAndReadTheirSource() {
        int[] src = Gemma3nConfig.kvSourceMap(period5(10), 5);      // 5..9 shared: 9 (full) → 4, others → 3
        int[] cap = new int[10], dims = new int[10];
        for (int l = 0; l < 10; l++) {
            cap[l] = l % 5 == 4 ? 32 : 8;
            dims[l] = 4;
        }
        dev.jemma.core.kv.KvCache cache = new dev.jemma.core.kv.KvCache(cap, dims, src, 32);
        assertThat(cache.memoryBytes()).isEqualTo(2L * 4 * 4 * (4 * 8 + 32));
        assertThat(cache.keys(9)).isSameAs(cache.keys(4));
        assertThat(cache.offset(9, 5)).isEqualTo(cache.offset(4, 5));
        assertThat(cache.capacity(9)).isEqualTo(32);
        assertThat(cache.keys(7)).isSameAs(cache.keys(3));
        assertThat(cache.offset(7, 5)).isEqualTo(cache.offset(3, 5)).isNotEqualTo(cache.offset(4, 5));
        assertThat(cache.ownsStorage(9)).isFalse();
    }

    // ---- MatFormer spec ------------------------------------------------------------------------------------

    @Test
    void matformerSpecs() {
        MatFormer e2b = MatFormer.parse("e2b");
        assertThat(e2b.skip()).containsExactly(20, 21, 22, 23, 24);
        MatFormer custom = MatFormer.parse("ffn=8192*2,16384; skip=3-5,1");
        assertThat(custom.ffn()).containsExactly(8192, 8192, 16384);
        assertThat(custom.skip()).containsExactly(1, 3, 4, 5);
        assertThatThrownBy(() -> MatFormer.parse("layers=3")).isInstanceOf(JemmaException.class).hasMessageContaining("unknown key");
        assertThatThrownBy(() -> MatFormer.parse("ffn=abc")).isInstanceOf(JemmaException.class).hasMessageContaining("not a number");
    }
}
