package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
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
 * A single token with its residual row (a Gemma 3n matrix's one-token call, {@link WeightMatrix#withResidualRows}) through
 * {@link FastMatMul}: where {@link FastMatMul#tokenAndResidualInOnePass} sends both rows through one pass over the weights
 * ({@link Int8FewTokens}), each output equals, bit for bit, the sum of two one-row passes of the per-token kernel
 * ({@link Int8Kernels} / {@link KQuantKernels}, the path before it) — random weights, every type the pass covers, odd group
 * counts and row tails, at whatever width {@link VectorWidth} chose (the build runs this class at 512, 256 and 128 bits).
 */
class TwoRowPassTest {
    private static ThreadPool pool;

    @BeforeAll
    static void start() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    @ParameterizedTest(name = "{0} {1}x{2}")
    @CsvSource({
            "Q4_0, 96, 64", "Q4_0, 150, 1152", "Q4_0, 17, 96", "Q4_0, 224, 2048",
            "Q8_0, 96, 64", "Q8_0, 150, 1152", "Q8_0, 17, 96", "Q8_0, 224, 2048",
            "Q4_K, 96, 256", "Q4_K, 150, 1536", "Q4_K, 17, 512", "Q4_K, 224, 2048",
            "Q5_0, 96, 64", "Q5_0, 150, 1152", "Q5_0, 17, 96",
    })
    void oneTokenAndItsResidualRowEqualTwoOneRowPasses(GgmlType type, int rows, int cols) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 31L * rows + cols)).withResidualRows();
        Random rnd = new Random(rows + 7L * cols);
        float[] x = new float[cols];
        // a few large values, so that each block's token row leaves a residual of its own scale
        for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextGaussian() * (i % 7 == 0 ? 20 : 1);

        float[] out = new float[rows];
        new FastMatMul().matmul(w, x, 1, out, pool);

        // the path before: the per-token kernel over the token row, then over its residual row, the two summed
        QuantizedActivations xq = new QuantizedActivations(true);
        xq.reserve(1, cols);
        xq.quantize(x, 0, 1);
        assertThat(xq.tokens).isEqualTo(2);
        int nb = cols / 32, groups = Interleaved.groups(rows);
        float[] one = new float[2 * rows];
        for (int t = 0; t < 2; t++) {
            switch (type) {
                case Q8_0 -> Int8Kernels.q8(w.interleaved(), 0, groups, rows, nb, xq, t, one);
                case Q4_K -> KQuantKernels.q4k(w.interleaved(), 0, groups, rows, nb, xq, t, one);
                case Q5_0 -> Int8Kernels.q5(w.interleaved(), 0, groups, rows, nb, xq, t, one);
                default -> Int8Kernels.q4(w.interleaved(), 0, groups, rows, nb, xq, t, one);
            }
        }
        float[] expected = new float[rows];
        for (int r = 0; r < rows; r++) expected[r] = one[r] + one[rows + r];
        assertThat(out).as("%s, %s at %d bits", type, FastMatMul.kernel(w, 1), VectorWidth.BITS).containsExactly(expected);
        // the residual row counts: without it the result differs (else the comparison above could not see its scale)
        float[] plain = new float[rows];
        new FastMatMul().matmul(Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 31L * rows + cols)), x, 1, plain, pool);
        if (!QuantizedActivations.RESIDUAL) assertThat(plain).isNotEqualTo(out);
    }

    /**
     * Which one-token calls take the two-row pass: Q4_0 and Q4_K with residual rows at every width (E2B Q4_0's layer
     * matrices, a Q4_K_M file's), Q8_0 at 512 bits (below it the two-slice per-token kernel is the faster at two rows),
     * Q5_0 where the few-token kernels take it; never Q6_K (the output projection, whose kernel is reworked apart), nor a
     * call without residual rows, nor with the few-token kernels off ({@code -Djemma.fewTokens=0}).
     */
    @Test
    void theTokenAndItsResidualRowTakeOnePass() {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        FastMatMul.Kernel few = FastMatMul.Kernel.FEW_TOKENS, gemv = FastMatMul.Kernel.INT8_GEMV;
        assertThat(FastMatMul.kernel(residual(GgmlType.Q4_0, 512), 1)).isEqualTo(few);
        assertThat(FastMatMul.kernel(residual(GgmlType.Q4_K, 512), 1)).isEqualTo(few);
        assertThat(FastMatMul.kernel(residual(GgmlType.Q8_0, 512), 1)).isEqualTo(VectorWidth.BITS >= 512 ? few : gemv);
        assertThat(FastMatMul.kernel(residual(GgmlType.Q5_0, 512), 1)).isEqualTo(Int8FewTokens.maxTokens(GgmlType.Q5_0) >= 2 ? few : gemv);
        assertThat(FastMatMul.kernel(residual(GgmlType.Q6_K, 512), 1)).isEqualTo(gemv);
        assertThat(FastMatMul.kernel(Int8MatMulTest.packed(FastMatMulTest.randomMatrix(GgmlType.Q4_0, 64, 512, 1)), 1))
                .isEqualTo(QuantizedActivations.RESIDUAL ? few : gemv);
        int old = FastMatMul.fewTokensMax(0);
        try {
            assertThat(FastMatMul.kernel(residual(GgmlType.Q4_0, 512), 1)).isEqualTo(gemv);
        } finally {
            FastMatMul.fewTokensMax(old);
        }
    }

    private static WeightMatrix residual(GgmlType type, int cols) {
        return Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, 64, cols, 3)).withResidualRows();
    }
}
