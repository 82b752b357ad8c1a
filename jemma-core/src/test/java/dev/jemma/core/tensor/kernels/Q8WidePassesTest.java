package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Q8WidePasses} (Q8_0 calls of 5–7 tokens in one pass, 512 bits) against {@link Int8Kernels#q8} run once per
 * token: bit-identical, over row tails, work split into ranges, residual rows (3 tokens + 3 residual rows = a 6-row
 * call), worst-case quants; and through {@link FastMatMul}, which sends exactly these calls here.
 */
class Q8WidePassesTest {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @ParameterizedTest(name = "{0}x{1}, {2} tokens, residual {3}")
    @CsvSource({"64, 64, 5, false", "100, 96, 5, false", "33, 1152, 6, false", "160, 320, 6, false", "17, 64, 7, false",
            "200, 128, 7, false", "96, 160, 7, false", "130, 64, 3, true"})
    void equalsTheSingleTokenKernelBitForBit(int rows, int cols, int n, boolean residual) {
        Assumptions.assumeTrue(Q8WidePasses.ON, "single 5-7-token passes run at 512 bits only (" + VectorWidth.BITS + " here)");
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(GgmlType.Q8_0, rows, cols, 31L * rows + cols + n));
        Random rnd = new Random(n);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * (i % 7 == 0 ? 20 : 1);
        assertWideEqualsOneByOne(w, x, n, residual);
    }

    /** Every weight −128 or +127 and every activation at full scale: the f32 block sums at their exactness bound. */
    @Test
    void extremeQuantsStayExact() {
        Assumptions.assumeTrue(Q8WidePasses.ON, "single 5-7-token passes run at 512 bits only (" + VectorWidth.BITS + " here)");
        int rows = 64, cols = 128, n = 7;
        WeightMatrix w = FastMatMulTest.randomMatrix(GgmlType.Q8_0, rows, cols, 5);
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / 32; b++) {
                long off = r * w.rowBytes() + (long) b * 34;
                w.data().set(I16, off, Float.floatToFloat16(b == 0 ? 0.5f : 0.25f));
                for (int i = 2; i < 34; i++) w.data().set(ValueLayout.JAVA_BYTE, off + i, r < 40 ? (byte) -128 : (byte) 127);
            }
        }
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (i / cols) % 2 == 0 ? -3f : 3f;
        float[] out = assertWideEqualsOneByOne(Int8MatMulTest.packed(w), x, n, false);
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double expect = (0.5 + 0.25 * (cols / 32 - 1)) * 32 * (r < 40 ? -128 : 127) * 3 * (t % 2 == 0 ? -1 : 1);
                assertThat((double) out[t * rows + r]).as("token %d row %d", t, r).isEqualTo(expect);
            }
        }
    }

    /** FastMatMul's 5-, 6- and 7-token calls over a Q8_0 copy give each token what it gives alone (the output projection's rows). */
    @Test
    void fastMatMulsFiveToSevenTokenCallsEqualEachTokenAlone() {
        Assumptions.assumeTrue(Q8WidePasses.ON, "single 5-7-token passes run at 512 bits only (" + VectorWidth.BITS + " here)");
        int rows = 300, cols = 1152;
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(GgmlType.Q8_0, rows, cols, 77));
        Random rnd = new Random(4);
        float[] x = new float[7 * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        try (ThreadPool pool = new ThreadPool(2)) {
            float[][] alone = new float[7][rows];
            for (int t = 0; t < 7; t++) new FastMatMul().matmul(w, Arrays.copyOfRange(x, t * cols, (t + 1) * cols), 1, alone[t], pool);
            for (int n = 5; n <= 7; n++) {
                assertThat(FastMatMul.kernel(w, n)).isEqualTo(FastMatMul.Kernel.FEW_TOKENS);
                float[] out = new float[n * rows];
                new FastMatMul().matmul(w, x, n, out, pool);
                for (int t = 0; t < n; t++) {
                    assertThat(Arrays.copyOfRange(out, t * rows, (t + 1) * rows)).as("token %d of %d", t, n).containsExactly(alone[t]);
                }
            }
        }
    }

    private static float[] assertWideEqualsOneByOne(WeightMatrix w, float[] x, int n, boolean residual) {
        int rows = w.rows(), cols = w.cols(), nb = cols / 32, groups = Interleaved.groups(rows);
        QuantizedActivations xq = new QuantizedActivations(residual);
        xq.reserve(n, cols);
        xq.quantize(x, 0, n);
        assertThat(Q8WidePasses.takes(xq.tokens)).as("%d rows run here", xq.tokens).isTrue();
        float[] wide = new float[xq.tokens * rows];
        float[] acc = new float[Int8FewTokens.scratchFloats()];
        Arrays.fill(acc, Float.NaN); // whatever the scratch held before must not leak into a result
        int items = Int8FewTokens.items(rows), split = items / 2;
        for (int[] range : new int[][]{{0, split}, {split, items}}) {
            Q8WidePasses.q8(w.interleaved(), range[0], range[1], rows, nb, xq, xq.floats(), wide, acc);
        }
        float[] one = new float[xq.tokens * rows];
        for (int t = 0; t < xq.tokens; t++) Int8Kernels.q8(w.interleaved(), 0, groups, rows, nb, xq, t, one);
        for (int t = 0; t < xq.tokens; t++) {
            assertThat(Arrays.copyOfRange(wide, t * rows, (t + 1) * rows)).as("row %d of %d", t, xq.tokens)
                    .containsExactly(Arrays.copyOfRange(one, t * rows, (t + 1) * rows));
        }
        int nonzero = 0;
        for (float v : wide) if (v != 0) nonzero++;
        assertThat(nonzero).as("results that are not zero").isGreaterThan(wide.length / 2);
        return wide;
    }
}
