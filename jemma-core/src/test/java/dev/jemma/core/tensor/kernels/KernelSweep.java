package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/**
 * Every matmul kernel variant on small shapes, through {@link FastMatMul} as a model calls them (and {@link MatMul#EXACT},
 * the {@code --exact} path): for each type with an {@link Interleaved} copy, every token count up to past the largest
 * few-token pass and enough for every GEMM register tile, as a lone call, a shared-input call and a gated FFN (and for the
 * int8-GEMM types with residual rows, as Gemma 3n's layer matrices, whose batches take the f32 tile); for every
 * type without a copy, the row kernels and the row GEMM. Correctness is not checked (the kernel tests do that): this is
 * the C1 scan's driver ({@code C1Scan}), which needs each kernel to run often enough for C1's profiled tier to compile it.
 */
public final class KernelSweep {
    /** Types a model's matrices carry an interleaved copy of (what Gemma 3 files hold). */
    static final GgmlType[] INTERLEAVED = {GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
            GgmlType.F16};
    /** Types read row by row (no copy): every format with a fused dot. */
    static final GgmlType[] ROWS = {GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0,
            GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K};
    /**
     * Token counts: the single-token kernels, every few-token pass (2-16, Q4_0's wide passes 5-8 at 512 bits), the GEMMs'
     * tiles with their tails (17 = 12 + 4 + 1, 23 = 12 + 6 + 4 + 1, 20 = 12 + 6 + 2, 34 = 2 × 12 + 6 + 4).
     */
    static final int[] TOKENS = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 20, 23};
    /** Token counts for the shared-input and gated calls: their own loops, over the kernels the lone calls reach. */
    static final int[] SHARED_TOKENS = {1, 3, 6, 17};

    private final Random rnd = new Random(17);
    private final FastMatMul fast = new FastMatMul();
    /** Per interleaved type: a lone matrix, a second one sharing its input, gate, up and down of a gated FFN. */
    private final WeightMatrix[][] packed = new WeightMatrix[INTERLEAVED.length][];
    private final WeightMatrix[] rows = new WeightMatrix[ROWS.length];
    private static final int COLS = 256;

    public KernelSweep() {
        for (int i = 0; i < INTERLEAVED.length; i++) {
            GgmlType type = INTERLEAVED[i];
            // 96 rows: a 64-row GEMM tile pair and a lone 32-row group; a gated FFN of 256 rows (four 64-row units, and
            // 256 columns for down, a K-quant super-block)
            packed[i] = new WeightMatrix[]{packed(matrix(type, 96, COLS)), packed(matrix(type, 64, COLS)),
                    packed(matrix(type, 256, COLS)), packed(matrix(type, 256, COLS)), packed(matrix(type, 64, 256))};
        }
        for (int i = 0; i < ROWS.length; i++) rows[i] = matrix(ROWS[i], 37, COLS);
    }

    /** One round over every variant; {@code pool} runs them (one thread: everything on the caller). */
    public void round(ThreadPool pool) {
        int cols = COLS;
        for (int i = 0; i < INTERLEAVED.length; i++) {
            GgmlType type = INTERLEAVED[i];
            WeightMatrix w = packed[i][0], w2 = packed[i][1], gate = packed[i][2], up = packed[i][3], down = packed[i][4];
            for (int n : TOKENS) {
                float[] x = activations(n * cols);
                fast.matmul(w, x, n, new float[2 * n * 96], pool);
                if (java.util.Arrays.binarySearch(SHARED_TOKENS, n) < 0) continue;
                fast.matmul(new WeightMatrix[]{w, w2}, x, n, new float[][]{new float[2 * n * 96], new float[2 * n * 64]}, pool);
                float[][] gu = {new float[2 * n * 256], new float[2 * n * 256]};
                fast.gatedFfn(new WeightMatrix[]{gate, up}, down, x, n, gu, new float[2 * n * 64], dev.jemma.core.model.Ops::geluGateFast,
                        null, pool);
            }
            if (Int8Gemm.supports(type)) {
                // with residual rows (Gemma 3n's layer matrices): the few-token passes take 2n rows, batches the f32 tile
                WeightMatrix residual = w.withResidualRows();
                for (int n : TOKENS) fast.matmul(residual, activations(n * cols), n, new float[n * 96], pool);
            }
            if (type == GgmlType.F16) {
                // activations too large to scale by 2^112: the plain F16 GEMV
                float[] x = activations(cols);
                x[3] = 1e30f;
                fast.matmul(w, x, 1, new float[96], pool);
            }
        }
        float[] tmp = new float[cols + 64];
        for (WeightMatrix w : rows) {
            for (int n : new int[]{1, 2, 3, 5, 9}) {
                float[] x = activations(n * cols);
                fast.matmul(w, x, n, new float[n * 37], pool);
                MatMul.EXACT.matmul(w, x, n, new float[n * 37], pool);
            }
            // every format's own fused dot (FastMatMul takes it only for the types without a row kernel)
            float[] x = activations(cols);
            for (int r = 0; r < 8; r++) w.format().dot(w.data(), w.rowOffset(r), x, 0, cols, tmp);
        }
    }

    private float[] activations(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    private static WeightMatrix packed(WeightMatrix w) {
        return Int8MatMulTest.packed(w);
    }

    /** A random matrix: {@link FastMatMulTest#randomMatrix} where it knows the type, else random bytes with small f16 scales. */
    private WeightMatrix matrix(GgmlType type, int rows, int cols) {
        return switch (type) {
            case Q4_0, Q5_0, Q8_0, F16, BF16, F32, Q4_K, Q5_K, Q6_K -> FastMatMulTest.randomMatrix(type, rows, cols, rnd.nextLong());
            default -> {
                long bytes = type.bytesFor(cols) * rows;
                MemorySegment seg = Arena.ofAuto().allocate(bytes + 64);
                for (long i = 0; i < bytes; i++) seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
                yield new WeightMatrix("sweep", seg, type, rows, cols);
            }
        };
    }
}
