package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The interleaved paths: single-token steps (int8 activations) against a scalar model of the same arithmetic
 * (llama.cpp's Q8_0 activation quantization, integer block sums, one float multiply per block), batches (f32
 * GEMM) against the exact mode; over row tails (rows not a multiple of 32), the 4-token tiles and their token
 * tails, and worst-case quants (Q8_0 −128, full-scale activations) that would
 * overflow 16-bit sums if the pairing were wrong.
 */
class Int8MatMulTest {
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

    static WeightMatrix packed(WeightMatrix w) {
        MemorySegment p = Arena.ofAuto().allocate(Interleaved.byteSize(w.type(), w.rows(), w.cols()), 64);
        Interleaved.repack(w, p, 0, Interleaved.groups(w.rows()));
        return w.withInterleaved(p);
    }

    /**
     * The int8 model of the default mode: {@link #referenceOne} of x plus, with residual rows (-Djemma.int8.residual=true, see
     * {@link QuantizedActivations}), {@link #referenceOne} of x's rounding error e = x − d_x·q_x.
     */
    static float[] reference(WeightMatrix w, float[] x, int n) {
        float[] out = referenceOne(w, x, n);
        if (!QuantizedActivations.RESIDUAL) return out;
        float[] e = new float[x.length];
        for (int o = 0; o + 32 <= n * w.cols(); o += 32) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[o + i]));
            float dx = amax / 127f, id = amax > 0 ? 127f / amax : 0f;
            for (int i = 0; i < 32; i++) e[o + i] = x[o + i] - dx * (int) Math.rint(x[o + i] * id);
        }
        float[] r = referenceOne(w, e, n);
        for (int i = 0; i < out.length; i++) out[i] += r[i];
        return out;
    }

    /** Scalar model: x quantized per 32-block (d = amax/127, q = rint(x/d)), Σ_b d_w d_x Σ w_q·x_q. */
    static float[] referenceOne(WeightMatrix w, float[] x, int n) {
        if (w.type() == GgmlType.Q4_K || w.type() == GgmlType.Q5_K || w.type() == GgmlType.Q6_K) return referenceK(w, x, n);
        int rows = w.rows(), cols = w.cols(), nb = cols / 32;
        boolean q4 = w.type() == GgmlType.Q4_0, q5 = w.type() == GgmlType.Q5_0;
        int bs = q4 ? 18 : q5 ? 22 : 34;
        float[] out = new float[n * rows];
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double acc = 0;
                for (int b = 0; b < nb; b++) {
                    float amax = 0;
                    for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[t * cols + 32 * b + i]));
                    float dx = amax / 127f, id = amax > 0 ? 127f / amax : 0f;
                    long off = r * w.rowBytes() + (long) b * bs;
                    float dw = Float.float16ToFloat(w.data().get(I16, off));
                    long sum = 0;
                    for (int i = 0; i < 32; i++) {
                        int xq = (int) Math.rint(x[t * cols + 32 * b + i] * id);
                        int wq;
                        if (q5) {
                            int qh = w.data().get(ValueLayout.JAVA_INT_UNALIGNED, off + 2);
                            int byt = w.data().get(ValueLayout.JAVA_BYTE, off + 6 + (i % 16)) & 0xff;
                            wq = ((i < 16 ? byt & 0xF : byt >> 4) | ((qh >>> i) & 1) << 4) - 16;
                        } else if (q4) {
                            int byt = w.data().get(ValueLayout.JAVA_BYTE, off + 2 + (i % 16)) & 0xff;
                            wq = (i < 16 ? byt & 0xF : byt >> 4) - 8;
                        } else {
                            wq = w.data().get(ValueLayout.JAVA_BYTE, off + 2 + i);
                        }
                        sum += (long) wq * xq;
                    }
                    acc += (double) dw * dx * sum;
                }
                out[t * rows + r] = (float) acc;
            }
        }
        return out;
    }

    /**
     * The K-quant model, written from the GGUF block layouts (not from the repacking code): per 32-column block of x
     * (d = amax/127, integers rint(x/d)), Q4_K adds dx·(d·sc·Σ q·xq − dmin·m·Σ xq) for its 6-bit scale/min pair;
     * Q5_K likewise with 5-bit q (fifth bit j of qh byte i); Q6_K adds dx·Σ over its two 16-column sub-blocks of d·sc·Σ (q − 32)·xq.
     */
    static float[] referenceK(WeightMatrix w, float[] x, int n) {
        int rows = w.rows(), cols = w.cols();
        boolean q5 = w.type() == GgmlType.Q5_K, q4 = w.type() == GgmlType.Q4_K || q5;
        MemorySegment m = w.data();
        float[] out = new float[n * rows];
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double acc = 0;
                for (int b = 0; b < cols / 32; b++) {
                    float amax = 0;
                    for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[t * cols + 32 * b + i]));
                    float dx = amax / 127f, id = amax > 0 ? 127f / amax : 0f;
                    long bo = r * w.rowBytes() + (long) (b / 8) * w.type().typeSize;
                    int j = b % 8;
                    long[] sums = new long[2];
                    long xsum = 0;
                    for (int i = 0; i < 32; i++) {
                        int xq = (int) Math.rint(x[t * cols + 32 * b + i] * id);
                        int wq, wi = 32 * j + i;
                        if (q5) {
                            wq = ((m.get(ValueLayout.JAVA_BYTE, bo + 48 + 32L * (j / 2) + i) & 0xff) >> (4 * (j % 2))) & 0xf;
                            wq |= ((m.get(ValueLayout.JAVA_BYTE, bo + 16 + i) >> j) & 1) << 4;
                        } else if (q4) {
                            wq = ((m.get(ValueLayout.JAVA_BYTE, bo + 16 + 32L * (j / 2) + i) & 0xff) >> (4 * (j % 2))) & 0xf;
                        } else {
                            int h = wi / 128, k = (wi % 128) / 32;
                            int ql = ((m.get(ValueLayout.JAVA_BYTE, bo + 64L * h + 32L * (k % 2) + i) & 0xff) >> (4 * (k / 2))) & 0xf;
                            int qh = ((m.get(ValueLayout.JAVA_BYTE, bo + 128 + 32L * h + i) & 0xff) >> (2 * k)) & 3;
                            wq = (ql | qh << 4) - 32;
                        }
                        sums[i / 16] += (long) wq * xq;
                        xsum += xq;
                    }
                    if (q4) {
                        float d = Float.float16ToFloat(m.get(I16, bo)), dmin = Float.float16ToFloat(m.get(I16, bo + 2));
                        int sc, mn;
                        if (j < 4) {
                            sc = m.get(ValueLayout.JAVA_BYTE, bo + 4 + j) & 63;
                            mn = m.get(ValueLayout.JAVA_BYTE, bo + 8 + j) & 63;
                        } else {
                            sc = (m.get(ValueLayout.JAVA_BYTE, bo + 8 + j) & 0xf) | ((m.get(ValueLayout.JAVA_BYTE, bo + j) & 0xff) >> 6) << 4;
                            mn = ((m.get(ValueLayout.JAVA_BYTE, bo + 8 + j) & 0xff) >> 4) | ((m.get(ValueLayout.JAVA_BYTE, bo + 4 + j) & 0xff) >> 6) << 4;
                        }
                        acc += (double) dx * ((double) d * sc * (sums[0] + sums[1]) - (double) dmin * mn * xsum);
                    } else {
                        float d = Float.float16ToFloat(m.get(I16, bo + 208));
                        for (int s2 = 0; s2 < 2; s2++) {
                            acc += (double) dx * d * m.get(ValueLayout.JAVA_BYTE, bo + 192 + 2 * j + s2) * sums[s2];
                        }
                    }
                }
                out[t * rows + r] = (float) acc;
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0} {1}x{2}, {3} tokens")
    @CsvSource({
            "Q4_0, 64, 64, 1", "Q4_0, 70, 96, 1", "Q4_0, 70, 96, 3", "Q4_0, 45, 128, 4", "Q4_0, 100, 64, 9", "Q4_0, 33, 1152, 6", "Q4_0, 160, 320, 7", "Q4_0, 96, 160, 70", "Q4_0, 320, 160, 70",
            "Q8_0, 64, 64, 1", "Q8_0, 70, 96, 1", "Q8_0, 70, 96, 3", "Q8_0, 45, 128, 4", "Q8_0, 100, 64, 9", "Q8_0, 33, 1152, 6",
            "Q5_0, 64, 64, 1", "Q5_0, 70, 96, 1", "Q5_0, 70, 96, 3", "Q5_0, 45, 128, 4", "Q5_0, 100, 64, 9", "Q5_0, 33, 1152, 6", "Q5_0, 160, 320, 7", "Q5_0, 96, 160, 70",
            "F16, 64, 64, 1", "F16, 70, 96, 1", "F16, 70, 96, 3", "F16, 45, 128, 4", "F16, 100, 64, 9", "F16, 33, 1152, 6",
            "Q4_K, 64, 256, 1", "Q4_K, 70, 512, 1", "Q4_K, 70, 512, 3", "Q4_K, 45, 256, 4", "Q4_K, 100, 256, 9", "Q4_K, 33, 1536, 6", "Q4_K, 160, 512, 7", "Q4_K, 96, 768, 70", "Q4_K, 256, 512, 70",
            "Q5_K, 64, 256, 1", "Q5_K, 70, 512, 1", "Q5_K, 70, 512, 3", "Q5_K, 45, 256, 4", "Q5_K, 100, 256, 9", "Q5_K, 33, 1536, 6",
            "Q6_K, 64, 256, 1", "Q6_K, 70, 512, 1", "Q6_K, 70, 512, 3", "Q6_K, 45, 256, 4", "Q6_K, 100, 256, 9", "Q6_K, 33, 1536, 6",
    })
    void matchesScalarModelOfTheSameArithmetic(GgmlType type, int rows, int cols, int n) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs 512-bit vectors");
        WeightMatrix w = packed(FastMatMulTest.randomMatrix(type, rows, cols, 11L * rows + cols));
        Random rnd = new Random(n);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * (i % 7 == 0 ? 20 : 1);
        float[] out = new float[n * rows];
        new FastMatMul().matmul(w, x, n, out, pool);
        if (type == GgmlType.F16) {
            // F16 keeps f32 activations on both paths: the exact mode's result up to summation order
            float[] exact = new float[n * rows];
            MatMul.EXACT.matmul(w, x, n, exact, pool);
            double scale = 0, err = 0;
            for (int i = 0; i < out.length; i++) {
                scale = Math.max(scale, Math.abs(exact[i]));
                err = Math.max(err, Math.abs(out[i] - exact[i]));
            }
            assertThat(err).as("max |interleaved F16 - exact| (scale %.3g)", scale).isLessThanOrEqualTo(2e-5 * scale + 1e-6);
            return;
        }
        float[] ref = reference(w, x, n);
        float[] exact = new float[n * rows];
        MatMul.EXACT.matmul(w, x, n, exact, pool);
        double scale = 0, err = 0, qerr = 0, ferr = 0;
        for (int i = 0; i < out.length; i++) {
            scale = Math.max(scale, Math.abs(ref[i]));
            err = Math.max(err, Math.abs(out[i] - ref[i]));
            qerr = Math.max(qerr, Math.abs(out[i] - exact[i]));
            ferr = Math.max(ferr, Math.abs(ref[i] - exact[i]));
        }
        if (int8Path(w, n)) {
            // single-token steps, few-token steps and batches on the int8 GEMM: int8 activations; same integers as the
            // model, float rounding of block products only
            assertThat(err).as("max |kernel - scalar int8 model| (scale %.3g)", scale).isLessThanOrEqualTo(2e-5 * scale + 1e-6);
            // and the int8 activations are what llama.cpp does: close to f32, not equal (guards against a vacuous model)
            assertThat(qerr).as("int8 activations vs exact f32").isLessThan(0.05 * scale).isGreaterThan(0);
        } else {
            // batches: the interleaved GEMM with f32 activations equals the exact mode up to summation order
            assertThat(qerr).as("max |interleaved GEMM - exact| (scale %.3g)", scale).isLessThanOrEqualTo(2e-5 * scale + 1e-6);
            assertThat(ferr).as("the int8 model differs from f32 (non-vacuous check)").isGreaterThan(0);
        }
    }

    /**
     * Whether FastMatMul runs n tokens over w with int8 activations (else f32 activations: the interleaved GEMM, which
     * also takes batches over residual-row matrices, e.g. every matrix under {@code -Djemma.int8.residual=true}).
     */
    static boolean int8Path(WeightMatrix w, int n) {
        return FastMatMul.kernel(w, n) != FastMatMul.Kernel.INTERLEAVED_GEMM;
    }

    @ParameterizedTest(name = "shared input, {0} tokens")
    @CsvSource({"1", "3", "9"})
    void sharedInputCallEqualsOneCallPerMatrix(int n) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs 512-bit vectors");
        int cols = 512;
        // F16 first (it takes no quantized input), then int8 GEMM / f32 GEMM / int8 decode types mixed as in a Q4_K_M layer
        WeightMatrix[] ws = {
                packed(FastMatMulTest.randomMatrix(GgmlType.F16, 64, cols, 3)),
                packed(FastMatMulTest.randomMatrix(GgmlType.Q4_K, 96, cols, 1)),
                packed(FastMatMulTest.randomMatrix(GgmlType.Q6_K, 40, cols, 2)),
                packed(FastMatMulTest.randomMatrix(GgmlType.Q4_0, 70, cols, 4))};
        Random rnd = new Random(n);
        float[] x = new float[n * cols];
        FastMatMul mm = new FastMatMul(), ref = new FastMatMul();
        for (int round = 0; round < 2; round++) {
            // a single call quantizes x; then x gets new contents in the same array: the shared call must not reuse
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            mm.matmul(ws[3], x, n, new float[n * ws[3].rows()], pool);
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            float[][] shared = new float[ws.length][];
            for (int i = 0; i < ws.length; i++) shared[i] = new float[n * ws[i].rows()];
            mm.matmul(ws, x, n, shared, pool);
            for (int i = 0; i < ws.length; i++) {
                float[] one = new float[n * ws[i].rows()];
                ref.matmul(ws[i], x, n, one, pool);
                assertThat(shared[i]).as("matrix %d (%s), round %d", i, ws[i].type(), round).containsExactly(one);
            }
        }
    }

    /**
     * Matrices that all take the int8 GEMM (q/k/v, gate/up of a Q4_0 or Q4_K_M layer) run as one loop over all of their
     * row pairs ({@code FastMatMul}'s fused call): each pair is the same kernel call as alone, so the results are
     * identical to one call per matrix, whichever thread takes which pair.
     */
    @ParameterizedTest(name = "fused int8 GEMM, {0} tokens")
    @CsvSource({"9", "40"})
    void fusedGemmCallEqualsOneCallPerMatrix(int n) {
        int cols = 256;
        WeightMatrix[] ws = {
                packed(FastMatMulTest.randomMatrix(GgmlType.Q4_0, 192, cols, 7)),
                packed(FastMatMulTest.randomMatrix(GgmlType.Q4_0, 64, cols, 8)),
                packed(FastMatMulTest.randomMatrix(GgmlType.Q4_K, 96, cols, 9)),
                packed(FastMatMulTest.randomMatrix(GgmlType.Q5_0, 32, cols, 10))};
        Random rnd = new Random(n);
        float[] x = new float[n * cols];
        FastMatMul mm = new FastMatMul(), ref = new FastMatMul();
        try (ThreadPool two = new ThreadPool(2)) {
            for (int round = 0; round < 3; round++) {
                // new contents in the same array each round: the fused call must quantize them, not reuse the last
                for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                float[][] fused = new float[ws.length][];
                for (int i = 0; i < ws.length; i++) fused[i] = new float[n * ws[i].rows()];
                mm.matmul(ws, x, n, fused, two);
                for (int i = 0; i < ws.length; i++) {
                    float[] one = new float[n * ws[i].rows()];
                    ref.matmul(ws[i], x, n, one, pool);
                    assertThat(fused[i]).as("matrix %d (%s), round %d", i, ws[i].type(), round).containsExactly(one);
                }
            }
        }
    }

    /**
     * A matmul with a row preparation ({@code MatMul.matmul(…, prep)}: the model's norms and residual adds, run inside
     * the quantization loop where the call has one) equals the preparation as a loop of its own, then the plain call —
     * bit for bit, for a fused shared-input call, a lone int8 GEMM, the few-token and per-token kernels, and a kernel
     * that does not quantize (Q8_0's f32 GEMM), at 1 and 2 threads. The preparation scales each row by its own index,
     * so a row prepared twice, or not at all, or by another row's range, shows.
     */
    @ParameterizedTest(name = "matmul with a row preparation, {0} tokens")
    @CsvSource({"1", "5", "16", "40"})
    void rowPreparationInsideTheCallEqualsALoopBeforeIt(int n) {
        // 40 × 512 floats are past FastMatMul.INLINE_QUANTIZE_FLOATS: that call quantizes (and prepares) across the pool
        int cols = 512;
        WeightMatrix[] ws = {
                packed(FastMatMulTest.randomMatrix(GgmlType.Q4_0, 192, cols, 11)),
                packed(FastMatMulTest.randomMatrix(GgmlType.Q4_0, 64, cols, 12))};
        WeightMatrix q8 = packed(FastMatMulTest.randomMatrix(GgmlType.Q8_0, 96, cols, 13));
        Random rnd = new Random(n);
        float[] src = new float[n * cols];
        for (int i = 0; i < src.length; i++) src[i] = (float) rnd.nextGaussian();
        FastMatMul mm = new FastMatMul();
        for (int threads : new int[]{1, 2}) {
            try (ThreadPool p = new ThreadPool(threads)) {
                float[] x = new float[src.length], y = new float[src.length];
                ThreadPool.RangeTask prep = (t0, t1, worker) -> {
                    for (int t = t0; t < t1; t++) {
                        for (int c = 0; c < cols; c++) x[t * cols + c] = src[t * cols + c] * (1 + t) + x[t * cols + c];
                    }
                };
                // the reference: the same preparation over all rows first (x starts at 0 both times, so a row prepared
                // twice would double)
                for (int t = 0; t < n; t++) {
                    for (int c = 0; c < cols; c++) y[t * cols + c] = src[t * cols + c] * (1 + t);
                }
                float[][] fused = {new float[n * 192], new float[n * 64]}, ref = {new float[n * 192], new float[n * 64]};
                mm.matmul(ws, x, n, fused, p, prep);
                mm.matmul(ws, y, n, ref, p);
                assertThat(x).as("prepared input, %d thread(s)", threads).containsExactly(y);
                for (int i = 0; i < ws.length; i++) {
                    assertThat(fused[i]).as("shared-input call, matrix %d, %d thread(s)", i, threads).containsExactly(ref[i]);
                }
                for (WeightMatrix w : new WeightMatrix[]{ws[0], q8}) {
                    java.util.Arrays.fill(x, 0f);
                    float[] one = new float[n * w.rows()], want = new float[n * w.rows()];
                    mm.matmul(w, x, n, one, p, prep);
                    mm.matmul(w, y, n, want, p);
                    assertThat(x).as("%s: prepared input, %d thread(s)", w.type(), threads).containsExactly(y);
                    assertThat(one).as("%s, %d thread(s)", w.type(), threads).containsExactly(want);
                }
            }
        }
    }

    /**
     * A token's output is the same bits whichever register tile ran it (12 or 6 tokens at 512 bits, 4, 2 or 1 for the last
     * ones): the integer block sums are exact and each is scaled by the same operations. At 512 bits 13 tokens = 12 + 1
     * for Q4_0 / Q4_K (6 + 6 + 1 for Q5_0), 16 = 12 + 4, 19 = 12 + 6 + 1, 29 = 12 + 12 + 4 + 1; below, 4-token tiles and
     * the rest; each token is compared with a call on that token alone (the 1-token tile). 200 rows end in a partial pair.
     * A last 2 or 3 take the 2-token tile ({@link Int8Gemm#PAIR_TAIL}): 14 = 12 + 2, 15 = 12 + 2 + 1, 20 = 12 + 6 + 2
     * (Q5_0 8 = 6 + 2, 9 = 6 + 2 + 1); below 512 bits 6 = 4 + 2, 7 = 4 + 2 + 1 (and 14, 15 likewise). The batch is
     * quantized into activations that held a longer one before, so that no tile can pass by reading zeros past the batch.
     */
    @ParameterizedTest(name = "{0} {1}x{2}, {3} tokens: 12-, 6-, 4-, 2- and 1-token tiles agree bit for bit")
    @CsvSource({"Q4_0, 96, 160, 13", "Q5_0, 96, 160, 13", "Q4_K, 70, 512, 13", "Q4_0, 200, 160, 13", "Q4_0, 200, 160, 16",
            "Q4_0, 320, 96, 13", "Q4_K, 256, 512, 13", "Q4_K, 256, 512, 16", "Q4_0, 200, 160, 19", "Q4_0, 96, 160, 29",
            "Q4_K, 70, 512, 29", "Q5_0, 96, 160, 19", "Q4_0, 96, 160, 14", "Q4_0, 200, 160, 15", "Q4_K, 70, 512, 20",
            "Q5_0, 96, 160, 8", "Q5_0, 96, 160, 9", "Q4_0, 96, 160, 6", "Q4_K, 256, 512, 7"})
    void everyTileGivesATokenTheSameBits(GgmlType type, int rows, int cols, int n) {
        Assumptions.assumeTrue(VectorWidth.ENABLED, "needs vector kernels");
        tilesAgree(type, rows, cols, n);
    }

    private static void tilesAgree(GgmlType type, int rows, int cols, int n) {
        WeightMatrix w = FastMatMulTest.randomMatrix(type, rows, cols, 17);
        MemorySegment p = Arena.ofAuto().allocate(Interleaved.byteSize(type, rows, cols), 64);
        Interleaved.repack(w, p, 0, Interleaved.groups(rows));
        Random rnd = new Random(5);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        QuantizedActivations all = new QuantizedActivations(false);
        float[] longer = new float[(n + 11) * cols];
        for (int i = 0; i < longer.length; i++) longer[i] = (float) rnd.nextGaussian();
        all.reserve(n + 11, cols);
        all.quantize(longer, 0, n + 11);
        all.interleaved();
        all.reserve(n, cols);
        all.quantize(x, 0, n);
        float[] out = new float[n * rows];
        Int8Gemm.gemm(type, p, rows, cols, all, out, 0, Int8Gemm.pairs(rows), new Int8Gemm.Scratch());
        for (int t = 0; t < n; t++) {
            QuantizedActivations one = new QuantizedActivations(false);
            one.reserve(1, cols);
            one.quantize(java.util.Arrays.copyOfRange(x, t * cols, (t + 1) * cols), 0, 1);
            float[] alone = new float[rows];
            Int8Gemm.gemm(type, p, rows, cols, one, alone, 0, Int8Gemm.pairs(rows), new Int8Gemm.Scratch());
            assertThat(java.util.Arrays.copyOfRange(out, t * rows, (t + 1) * rows)).as("token %d", t).containsExactly(alone);
        }
    }

    @ParameterizedTest(name = "{0} rows read back from the interleaved copy")
    @CsvSource({"Q4_0, 96", "Q5_0, 96", "Q8_0, 96", "F16, 96", "Q4_K, 512", "Q5_K, 512", "Q6_K, 512"})
    void rowsReadFromTheCopyAreBitIdentical(GgmlType type, int cols) {
        WeightMatrix w = FastMatMulTest.randomMatrix(type, 70, cols, 3);
        WeightMatrix p = packed(w);
        float[] a = new float[cols], b = new float[cols];
        for (int r = 0; r < 70; r++) {
            w.format().dequantize(w.data(), w.rowOffset(r), a, 0, cols);
            p.dequantizeRow(r, b, 0);
            assertThat(b).as("row %d", r).containsExactly(a);
        }
    }

    @ParameterizedTest(name = "{0} extremes")
    @CsvSource({"Q4_0", "Q5_0", "Q8_0"})
    void extremeQuantsDoNotOverflow(GgmlType type) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs 512-bit vectors");
        int rows = 32, cols = 64;
        WeightMatrix w = FastMatMulTest.randomMatrix(type, rows, cols, 5);
        int bs = type == GgmlType.Q4_0 ? 18 : type == GgmlType.Q5_0 ? 22 : 34;
        for (int r = 0; r < rows; r++) {
            for (int b = 0; b < cols / 32; b++) {
                long off = r * w.rowBytes() + (long) b * bs;
                w.data().set(I16, off, Float.floatToFloat16(b == 0 ? 0.5f : 0.25f));
                // Q4_0: every nibble 0 (−8); Q5_0: every value 0 (−16); Q8_0: every quant −128
                for (int i = 2; i < bs; i++) w.data().set(ValueLayout.JAVA_BYTE, off + i, type == GgmlType.Q8_0 ? (byte) -128 : (byte) 0);
            }
        }
        float[] x = new float[4 * cols];
        for (int i = 0; i < x.length; i++) x[i] = i % 64 < 32 ? -3f : 3f; // full-scale activations: |q| = 127
        assertBatchExactAndTokenOnModel(packed(w), x, 1e-3f);
    }

    /**
     * A 4-token batch of {@code w} (an interleaved copy) equals the exact mode (the scalar int8 model where batches run
     * on {@link Int8Gemm}), and one token equals the scalar int8 model within {@code tol} relative — on inputs where neither side is trivially zero.
     */
    private static void assertBatchExactAndTokenOnModel(WeightMatrix w, float[] x, float tol) {
        int rows = w.rows();
        float[] out = new float[4 * rows];
        new FastMatMul().matmul(w, x, 4, out, pool);
        float[] one = new float[rows];
        new FastMatMul().matmul(w, x, 1, one, pool);
        float[] ref = reference(w, x, 4);
        float[] exact = new float[4 * rows];
        MatMul.EXACT.matmul(w, x, 4, exact, pool);
        for (int i = 0; i < out.length; i++) {
            if (int8Path(w, 4)) {
                assertThat(out[i]).as("batch out[%d]", i).isCloseTo(ref[i], org.assertj.core.data.Offset.offset(tol * Math.abs(ref[i])));
            } else {
                assertThat(out[i]).as("out[%d]", i).isCloseTo(exact[i], org.assertj.core.data.Offset.offset(1e-5f * Math.abs(exact[i]) + 1e-3f));
            }
        }
        for (int i = 0; i < rows; i++) {
            assertThat(ref[i]).as("reference row %d is not trivially zero", i).isNotZero();
            assertThat(one[i]).as("row %d", i).isCloseTo(ref[i], org.assertj.core.data.Offset.offset(tol * Math.abs(ref[i])));
        }
    }

    @ParameterizedTest(name = "{0} extremes")
    @CsvSource({"Q4_K", "Q5_K", "Q6_K"})
    void extremeKQuantsDoNotOverflow(GgmlType type) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs 512-bit vectors");
        int rows = 32, cols = 512;
        WeightMatrix w = FastMatMulTest.randomMatrix(type, rows, cols, 5);
        for (int r = 0; r < rows; r++) {
            for (int sb = 0; sb < cols / 256; sb++) {
                long bo = r * w.rowBytes() + (long) sb * type.typeSize;
                if (type == GgmlType.Q4_K || type == GgmlType.Q5_K) {
                    // scales and mins 63; quants all 0 (rows < 16) or all 15 / 31: half-block sums at their 16-bit limits
                    w.data().set(I16, bo, Float.floatToFloat16(0.5f));
                    w.data().set(I16, bo + 2, Float.floatToFloat16(0.25f));
                    for (int i = 4; i < 16; i++) w.data().set(ValueLayout.JAVA_BYTE, bo + i, (byte) 0xff);
                    for (int i = 16; i < type.typeSize; i++) w.data().set(ValueLayout.JAVA_BYTE, bo + i, r < 16 ? (byte) 0 : (byte) 0xff);
                } else {
                    // every value 0 (−32) or 63 (+31), scales ±127/−128: 8-column sums at ±32512
                    for (int i = 0; i < 192; i++) w.data().set(ValueLayout.JAVA_BYTE, bo + i, r < 16 ? (byte) 0 : (byte) 0xff);
                    for (int i = 192; i < 208; i++) w.data().set(ValueLayout.JAVA_BYTE, bo + i, i % 2 == 0 ? (byte) 127 : (byte) -128);
                    w.data().set(I16, bo + 208, Float.floatToFloat16(0.5f));
                }
            }
        }
        float[] x = new float[4 * cols];
        // full-scale activations (|q| = 127), mostly negative so that the blocks' sums do not cancel
        for (int i = 0; i < x.length; i++) x[i] = (i / 32) % 3 < 2 ? -3f : 3f;
        assertBatchExactAndTokenOnModel(packed(w), x, 1e-4f);
    }
}
