package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The fast kernels against the exact scalar decoders, for every shape class (decode, GEMM, row and token tails). */
class FastMatMulTest {
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

    /** Random but valid storage: block scales are finite f16, f16/bf16 values finite (some subnormal). */
    static WeightMatrix randomMatrix(GgmlType type, int rows, int cols, long seed) {
        Random rnd = new Random(seed);
        long bytes = type.bytesFor(cols) * rows;
        MemorySegment seg = Arena.ofAuto().allocate(bytes + 64);
        for (long i = 0; i < bytes; i++) seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
        switch (type) {
            case Q4_0, Q5_0, Q8_0 -> {
                for (long b = 0; b < bytes / type.typeSize; b++) {
                    seg.set(I16, b * type.typeSize, Float.floatToFloat16((rnd.nextFloat() - 0.5f) * 0.02f));
                }
            }
            case F16 -> {
                for (long i = 0; i < bytes / 2; i++) {
                    float v = i % 97 == 0 ? 3e-6f * rnd.nextFloat() : (float) rnd.nextGaussian();
                    seg.set(I16, 2 * i, Float.floatToFloat16(v));
                }
            }
            case BF16 -> {
                for (long i = 0; i < bytes / 2; i++) seg.set(I16, 2 * i, (short) (Float.floatToIntBits((float) rnd.nextGaussian()) >>> 16));
            }
            case F32 -> {
                for (long i = 0; i < bytes / 4; i++) seg.set(ValueLayout.JAVA_FLOAT_UNALIGNED, 4 * i, (float) rnd.nextGaussian());
            }
            case Q4_K, Q5_K, Q6_K -> {
                int[] scaleOffsets = type == GgmlType.Q6_K ? new int[]{208} : new int[]{0, 2};
                for (long b = 0; b < bytes / type.typeSize; b++) {
                    for (int so : scaleOffsets) seg.set(I16, b * type.typeSize + so, Float.floatToFloat16(rnd.nextFloat() * 0.01f));
                }
            }
            default -> throw new IllegalArgumentException(type.toString());
        }
        return new WeightMatrix("test", seg, type, rows, cols);
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q8_0", "F16", "BF16", "F32"})
    void matchesExactForEveryShape(GgmlType type) {
        Random rnd = new Random(7);
        for (int[] shape : new int[][]{{37, 96}, {64, 256}, {5, 1152}}) {
            int rows = shape[0], cols = shape[1];
            WeightMatrix w = randomMatrix(type, rows, cols, rows * 31L + cols);
            for (int n : new int[]{1, 2, 3, 4, 5, 8, 11}) {
                float[] x = new float[n * cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                float[] exact = new float[n * rows], fast = new float[n * rows];
                MatMul.EXACT.matmul(w, x, n, exact, pool);
                new FastMatMul().matmul(w, x, n, fast, pool);
                for (int i = 0; i < exact.length; i++) {
                    double tol = 1e-5 * (1 + Math.abs(exact[i])) + 2e-6 * Math.sqrt(cols);
                    assertThat((double) fast[i]).as(type + " " + rows + "x" + cols + " n=" + n + " i=" + i)
                            .isCloseTo(exact[i], org.assertj.core.data.Offset.offset(tol));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_K", "Q6_K"})
    void formatsWithoutOwnKernelUseTheirFusedDot(GgmlType type) {
        Random rnd = new Random(3);
        int rows = 19, cols = 512;
        WeightMatrix w = randomMatrix(type, rows, cols, 5);
        for (int n : new int[]{1, 3, 6}) {
            float[] x = new float[n * cols];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            float[] exact = new float[n * rows], fast = new float[n * rows];
            MatMul.EXACT.matmul(w, x, n, exact, pool);
            new FastMatMul().matmul(w, x, n, fast, pool);
            for (int i = 0; i < exact.length; i++) {
                assertThat((double) fast[i]).as(type + " n=" + n + " i=" + i)
                        .isCloseTo(exact[i], org.assertj.core.data.Offset.offset(1e-4 * (1 + Math.abs(exact[i]))));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q4_0", "Q8_0", "F16", "BF16"})
    void dequantizeRowIsBitExact(GgmlType type) {
        WeightMatrix w = randomMatrix(type, 3, 320, 11);
        float[] a = new float[320], b = new float[320];
        for (int r = 0; r < 3; r++) {
            w.dequantizeRow(r, a, 0);
            Kernels.dequantizeRow(w, r, b, 0);
            for (int i = 0; i < a.length; i++) {
                assertThat(Float.floatToRawIntBits(b[i])).as(type + " r=" + r + " i=" + i).isEqualTo(Float.floatToRawIntBits(a[i]));
            }
        }
    }

    @Test
    void kernelsAreActiveOnThisMachine() {
        // the benchmark figures in docs/PERFORMANCE.md assume the 512-bit kernels; say so loudly if they are off
        org.junit.jupiter.api.Assumptions.assumeTrue(Kernels.ENABLED, "512-bit vectors unavailable: fast kernels disabled");
        assertThat(Kernels.hasKernel(GgmlType.Q4_0)).isTrue();
    }
}
