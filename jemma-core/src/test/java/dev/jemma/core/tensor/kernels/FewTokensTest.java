package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Int8FewTokens} against {@link Int8Kernels} / {@link KQuantKernels} run once per token: bit-identical, at whatever width {@link VectorWidth}
 * chose (the build runs this class at 512, 256 and 128 bits) — over row tails (rows not a multiple of the passes), every
 * token count 2–9 and some to 16 (8- and 4-token blocks, their 3- and 2-token tails; Q6_K's pairs and odd last token), residual
 * rows, work split into ranges,
 * and worst-case quants that reach the 16-bit and f32 exactness bounds.
 */
class FewTokensTest {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static ThreadPool pool;

    @BeforeAll
    static void start() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    @ParameterizedTest(name = "{0} {1}x{2}, {3} tokens, residual {4}")
    @CsvSource({
            "Q4_0, 64, 64, 2, false", "Q4_0, 70, 96, 3, false", "Q4_0, 45, 128, 4, false", "Q4_0, 100, 64, 5, false",
            "Q4_0, 33, 1152, 6, false", "Q4_0, 160, 320, 7, false", "Q4_0, 96, 160, 8, false", "Q4_0, 17, 64, 9, false",
            "Q4_0, 200, 96, 3, true", "Q4_0, 130, 64, 4, true",
            "Q8_0, 64, 64, 2, false", "Q8_0, 70, 96, 3, false", "Q8_0, 45, 128, 4, false", "Q8_0, 100, 64, 5, false",
            "Q8_0, 33, 1152, 6, false", "Q8_0, 160, 320, 7, false", "Q8_0, 96, 160, 8, false", "Q8_0, 17, 64, 9, false",
            "Q8_0, 200, 96, 3, true", "Q8_0, 130, 64, 4, true", "Q8_0, 70, 96, 12, false", "Q8_0, 45, 128, 13, false",
            "Q8_0, 33, 64, 16, false", "Q4_0, 70, 96, 16, false",
            "Q4_0, 130, 64, 10, true", "Q4_0, 100, 64, 11, false", "Q4_0, 45, 128, 12, false", "Q4_0, 33, 1152, 13, false",
            "Q4_0, 17, 96, 14, false", "Q4_0, 64, 64, 15, false", "Q4_K, 45, 256, 13, false",
            "Q4_K, 64, 256, 2, false", "Q4_K, 70, 512, 3, false", "Q4_K, 45, 256, 4, false", "Q4_K, 100, 256, 5, false",
            "Q4_K, 33, 1536, 6, false", "Q4_K, 160, 512, 7, false", "Q4_K, 96, 768, 8, false", "Q4_K, 17, 256, 9, false",
            "Q4_K, 130, 256, 4, true", "Q4_K, 70, 512, 10, false", "Q4_K, 100, 256, 11, false", "Q4_K, 130, 256, 12, true",
            "Q4_K, 45, 256, 14, false", "Q4_K, 17, 512, 15, false", "Q4_K, 64, 768, 16, false",
            "Q5_0, 64, 64, 2, false", "Q5_0, 70, 96, 3, false", "Q5_0, 45, 128, 4, false", "Q5_0, 100, 64, 5, false",
            "Q5_0, 33, 1152, 6, false", "Q5_0, 160, 320, 7, false", "Q5_0, 96, 160, 8, false", "Q5_0, 17, 64, 9, false",
            "Q5_0, 70, 96, 16, false", "Q5_0, 200, 96, 3, true", "Q5_0, 130, 64, 4, true",
            "Q6_K, 64, 256, 2, false", "Q6_K, 70, 512, 3, false", "Q6_K, 45, 256, 4, false", "Q6_K, 100, 256, 5, false",
            "Q6_K, 33, 1280, 6, false", "Q6_K, 160, 512, 7, false", "Q6_K, 96, 768, 8, false", "Q6_K, 17, 256, 9, false",
            "Q6_K, 45, 256, 16, false", "Q6_K, 130, 256, 4, true",
    })
    void equalsTheSingleTokenKernelBitForBit(GgmlType type, int rows, int cols, int n, boolean residual) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 13L * rows + cols + n));
        Random rnd = new Random(n);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * (i % 7 == 0 ? 20 : 1);
        assertFewEqualsOneByOne(w, x, n, residual);
    }

    @ParameterizedTest(name = "{0} extremes, {1} tokens")
    @CsvSource({"Q4_0, 4", "Q4_0, 3", "Q4_0, 8", "Q4_0, 16", "Q8_0, 4", "Q8_0, 2"})
    void extremeQuantsStayExact(GgmlType type, int n) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        int rows = 64, cols = 128;
        WeightMatrix w = FastMatMulTest.randomMatrix(type, rows, cols, 5);
        int bs = type == GgmlType.Q4_0 ? 18 : 34;
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / 32; b++) {
                long off = r * w.rowBytes() + (long) b * bs;
                w.data().set(I16, off, Float.floatToFloat16(b == 0 ? 0.5f : 0.25f));
                // Q4_0: every nibble 0 (−8) in the first rows, 15 (+7) in the others; Q8_0: −128 / +127
                byte q = r < 40 ? (type == GgmlType.Q8_0 ? (byte) -128 : 0) : (type == GgmlType.Q8_0 ? (byte) 127 : (byte) 0xff);
                for (int i = 2; i < bs; i++) w.data().set(ValueLayout.JAVA_BYTE, off + i, q);
            }
        }
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (i / cols) % 2 == 0 ? -3f : 3f; // full scale: |q| = 127, sums at their bounds
        float[] out = assertFewEqualsOneByOne(Int8MatMulTest.packed(w), x, n, false);
        // and the sums are the exact ones: Σ_b d_w·d_x·Σ w·x, here all terms of one sign
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double wq = type == GgmlType.Q8_0 ? (r < 40 ? -128 : 127) : (r < 40 ? -8 : 7);
                double expect = (0.5 + 0.25 * (cols / 32 - 1)) * 32 * wq * 3 * (t % 2 == 0 ? -1 : 1);
                assertThat((double) out[t * rows + r]).as("token %d row %d", t, r).isCloseTo(expect, org.assertj.core.data.Offset.offset(1e-4 * Math.abs(expect)));
            }
        }
    }

    /**
     * FastMatMul over every token count that runs on the few-token kernels at this width gives each token what a call with
     * that token alone gives: a decode row's result does not depend on its batch (within the few-token range).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"Q4_0", "Q8_0", "Q4_K", "Q5_0", "Q6_K"})
    void aTokensResultDoesNotDependOnItsBatch(GgmlType type) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        int rows = 200, cols = 512, max = Int8FewTokens.maxTokens(type);
        Assumptions.assumeTrue(max > 0, type + " does not run on the few-token kernels at " + VectorWidth.BITS + " bits");
        assertThat(max).as("tokens the few-token kernels take at %d bits", VectorWidth.BITS).isGreaterThanOrEqualTo(3);
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 9));
        Random rnd = new Random(3);
        float[] x = new float[max * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        float[][] alone = new float[max][rows];
        for (int t = 0; t < max; t++) new FastMatMul().matmul(w, Arrays.copyOfRange(x, t * cols, (t + 1) * cols), 1, alone[t], pool);
        for (int n = 2; n <= max; n++) {
            // with residual rows (-Djemma.int8.residual=true) a call whose 2n rows pass the range takes the f32 tile
            // (FastMatMul.f32TileForResidualRows): only the counts still on the few-token kernels
            if (FastMatMul.kernel(w, n) != FastMatMul.Kernel.FEW_TOKENS) continue;
            float[] out = new float[n * rows];
            new FastMatMul().matmul(w, x, n, out, pool);
            for (int t = 0; t < n; t++) {
                assertThat(Arrays.copyOfRange(out, t * rows, (t + 1) * rows)).as("token %d of %d", t, n).containsExactly(alone[t]);
            }
        }
    }

    /**
     * A shared-input call (q/k/v, gate/up) whose matrices all take kernels that share a loop (few-token, per-token int8,
     * int8 GEMM: {@link FastMatMul.Kernel#fusable}) runs as <em>one</em> parallel loop (the input of a few decode rows is
     * quantized on the caller) and gives each matrix what its own call gives, bit for bit: one token (the per-token
     * kernels), every few-token count, and GEMM batches; mixed types as in a Q4_K_M file (Q5_0 and Q6_K beside Q4_K),
     * where the matrices of one call may take different kernels, included.
     */
    @ParameterizedTest(name = "{0} / {1} / {2}")
    @CsvSource({"Q4_0, Q4_0, Q4_0", "Q8_0, Q8_0, Q8_0", "Q4_K, Q5_0, Q6_K", "Q5_0, Q5_0, Q4_0", "Q8_0, Q4_0, Q8_0"})
    void sharedInputMatricesInOneLoopGiveWhatEachGivesAlone(GgmlType a, GgmlType b, GgmlType c) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        int cols = 512;
        int[] rows = {200, 64, 70};
        GgmlType[] types = {a, b, c};
        WeightMatrix[] ws = new WeightMatrix[3];
        for (int i = 0; i < 3; i++) ws[i] = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(types[i], rows[i], cols, 41L * i + rows[i]));
        Random rnd = new Random(8);
        FastMatMul shared = new FastMatMul();
        int fusedCounts = 0;
        for (int n : new int[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 24}) {
            float[] x = new float[n * cols];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            float[][] together = new float[3][], alone = new float[3][];
            for (int i = 0; i < 3; i++) {
                together[i] = new float[n * rows[i]];
                alone[i] = new float[n * rows[i]];
                new FastMatMul().matmul(ws[i], x, n, alone[i], pool);
            }
            // residual rows (the int8-residual test run) keep one loop per matrix: each sums its rows back into its output
            boolean fusable = !QuantizedActivations.RESIDUAL;
            for (WeightMatrix w : ws) fusable &= FastMatMul.kernel(w, n).fusable;
            dev.jemma.core.tensor.PoolProfile loops = new dev.jemma.core.tensor.PoolProfile(pool.threads());
            pool.profile(loops);
            try {
                shared.matmul(ws, x, n, together, pool);
            } finally {
                pool.profile(null);
            }
            for (int i = 0; i < 3; i++) {
                assertThat(together[i]).as("matrix %d (%s), %d tokens", i, types[i], n).containsExactly(alone[i]);
            }
            long calls = loops.entries().values().stream().mapToLong(e -> e.calls).sum();
            if (fusable) {
                assertThat(calls).as("pool loops of a fusable %d-token call", n).isEqualTo(1);
                fusedCounts++;
            } else {
                assertThat(calls).as("pool loops of a %d-token call run matrix by matrix", n).isGreaterThanOrEqualTo(3);
            }
        }
        // the per-token kernels take one token of every type here: without residual rows the case is never vacuous
        if (!QuantizedActivations.RESIDUAL) assertThat(fusedCounts).isPositive();
    }

    /** Runs the few-token kernel (work split into two ranges) and the single-token kernel per row; asserts equality. */
    static float[] assertFewEqualsOneByOne(WeightMatrix w, float[] x, int n, boolean residual) {
        int rows = w.rows(), cols = w.cols(), nb = cols / 32, groups = Interleaved.groups(rows);
        QuantizedActivations xq = new QuantizedActivations(residual);
        xq.reserve(n, cols);
        xq.quantize(x, 0, n);
        float[] few = new float[xq.tokens * rows];
        float[] acc = new float[Int8FewTokens.scratchFloats()];
        Arrays.fill(acc, Float.NaN); // whatever the scratch held before must not leak into a result
        int items = Int8FewTokens.items(rows), split = items / 2;
        for (int[] range : new int[][]{{0, split}, {split, items}}) {
            switch (w.type()) {
                case Q8_0 -> Int8FewTokens.q8(w.interleaved(), range[0], range[1], rows, nb, xq, xq.floats(), few, acc);
                case Q4_K -> Int8FewTokens.q4k(w.interleaved(), range[0], range[1], rows, nb, xq, few, acc);
                case Q5_0 -> Int8FewTokens.q5(w.interleaved(), range[0], range[1], rows, nb, xq, few, acc);
                case Q6_K -> Int8FewTokens.q6k(w.interleaved(), range[0], range[1], rows, nb, xq, few, acc);
                default -> Int8FewTokens.q4(w.interleaved(), range[0], range[1], rows, nb, xq, few, acc);
            }
        }
        float[] one = new float[xq.tokens * rows];
        for (int t = 0; t < xq.tokens; t++) {
            switch (w.type()) {
                case Q8_0 -> Int8Kernels.q8(w.interleaved(), 0, groups, rows, nb, xq, t, one);
                case Q4_K -> KQuantKernels.q4k(w.interleaved(), 0, groups, rows, nb, xq, t, one);
                case Q5_0 -> Int8Kernels.q5(w.interleaved(), 0, groups, rows, nb, xq, t, one);
                case Q6_K -> KQuantKernels.q6k(w.interleaved(), 0, groups, rows, nb, xq, t, one);
                default -> Int8Kernels.q4(w.interleaved(), 0, groups, rows, nb, xq, t, one);
            }
        }
        for (int t = 0; t < xq.tokens; t++) {
            assertThat(Arrays.copyOfRange(few, t * rows, (t + 1) * rows)).as("row %d of %d (%d-bit vectors)", t, xq.tokens, VectorWidth.BITS)
                    .containsExactly(Arrays.copyOfRange(one, t * rows, (t + 1) * rows));
        }
        int nonzero = 0;
        for (float v : few) if (v != 0) nonzero++;
        assertThat(nonzero).as("results that are not zero").isGreaterThan(few.length / 2);
        return few;
    }
}
