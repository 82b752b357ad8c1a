package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Batches over residual-row matrices (Gemma 3n's layer matrices) run on the f32 tile ({@link FastMatMul#f32TileForResidualRows}:
 * measured faster than the int8 GEMM with its doubled rows at every width), and so equal the exact mode up to summation
 * order; the same matrices without residual rows (Gemma 3's) keep the int8 GEMM.
 */
class ResidualBatchRoutingTest {
    private static ThreadPool pool;

    @BeforeAll
    static void start() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    private static WeightMatrix packed(GgmlType type, int rows, int cols) {
        return Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 7L * rows + cols));
    }

    /**
     * The routing at this width: every int8-GEMM type with residual rows on the f32 tile from the first batch size past
     * the few-token kernels, and within their range once the token and residual rows (2n) exceed it; without residual
     * rows on the int8 GEMM. Fails with the predicate false (the int8 GEMM for both), or counting tokens instead of rows
     * at a width whose few-token range reaches past {@value FastMatMul#GEMM_MIN_TOKENS} tokens.
     */
    @Test
    void residualRowBatchesTakeTheF32Tile() {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        for (GgmlType type : new GgmlType[]{GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q5_0}) {
            WeightMatrix plain = packed(type, 64, 512), residual = plain.withResidualRows();
            for (int n : new int[]{FastMatMul.BATCH_MIN_TOKENS, 64, 128, 512}) {
                assertThat(FastMatMul.kernel(residual, n)).as("%s with residual rows, %d tokens", type, n)
                        .isEqualTo(FastMatMul.Kernel.INTERLEAVED_GEMM);
                assertThat(FastMatMul.kernel(plain, n)).as("%s plain, %d tokens", type, n)
                        .isEqualTo(QuantizedActivations.RESIDUAL ? FastMatMul.Kernel.INTERLEAVED_GEMM : FastMatMul.Kernel.INT8_GEMM);
            }
            // the few-token range counts the residual rows: 2n rows within the few-token kernels' range stay there
            for (int n = FastMatMul.GEMM_MIN_TOKENS; n < FastMatMul.BATCH_MIN_TOKENS; n++) {
                boolean few = 2 * n <= Math.min(FastMatMul.fewTokensMax(), Int8FewTokens.maxTokens(type)) && 2 * n >= Int8FewTokens.minTokens(type);
                assertThat(FastMatMul.kernel(residual, n)).as("%s with residual rows, %d tokens (%d rows)", type, n, 2 * n)
                        .isEqualTo(few ? FastMatMul.Kernel.FEW_TOKENS : FastMatMul.Kernel.INTERLEAVED_GEMM);
            }
            boolean old = FastMatMul.residualBatchesOnF32(false);
            try {
                assertThat(FastMatMul.kernel(residual, 64)).as("%s, -Djemma.residualBatches=int8", type).isEqualTo(FastMatMul.Kernel.INT8_GEMM);
            } finally {
                FastMatMul.residualBatchesOnF32(old);
            }
        }
    }

    /**
     * A batch over a residual-row matrix equals the exact mode up to summation order (the f32 tile), where the int8 GEMM
     * with residual rows (~15-bit activations) is measurably farther; a test that the route delivers what it is for.
     */
    @ParameterizedTest(name = "{0} {1}x{2}, {3} tokens")
    @CsvSource({"Q4_0, 100, 256, 64", "Q4_K, 70, 512, 40", "Q5_0, 64, 320, 33"})
    void residualRowBatchesAreNearExact(GgmlType type, int rows, int cols, int n) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        WeightMatrix w = packed(type, rows, cols).withResidualRows();
        Random rnd = new Random(n);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * (i % 7 == 0 ? 20 : 1);
        float[] exact = new float[n * rows], f32 = new float[n * rows], int8 = new float[n * rows];
        MatMul.EXACT.matmul(w, x, n, exact, pool);
        new FastMatMul().matmul(w, x, n, f32, pool);
        boolean old = FastMatMul.residualBatchesOnF32(false);
        try {
            new FastMatMul().matmul(w, x, n, int8, pool);
        } finally {
            FastMatMul.residualBatchesOnF32(old);
        }
        double scale = 0, f32Err = 0, int8Err = 0;
        for (int i = 0; i < exact.length; i++) {
            scale = Math.max(scale, Math.abs(exact[i]));
            f32Err = Math.max(f32Err, Math.abs(f32[i] - exact[i]));
            int8Err = Math.max(int8Err, Math.abs(int8[i] - exact[i]));
        }
        System.out.printf("%s %dx%d x %d: max |f32 tile - exact| %.3g, |int8 + residual rows - exact| %.3g (scale %.3g)%n",
                type, rows, cols, n, f32Err, int8Err, scale);
        assertThat(f32Err).as("max |f32 tile - exact| (scale %.3g)", scale).isLessThanOrEqualTo(2e-5 * scale + 1e-6);
        assertThat(int8Err).as("the int8 GEMM with residual rows is farther (non-vacuous)").isGreaterThan(f32Err);
    }
}
