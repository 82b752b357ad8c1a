package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

/**
 * The f32-activation kernels ({@link Kernels}, {@link Gemm}, {@link InterleavedGemm} and its tile decoders) against the
 * exact scalar reference (the format's own dequantizer, products summed in double), on odd shapes: rows not a multiple
 * of 32 or 4, few tokens, columns with vector tails. Run at every width: {@code -Djemma.vectorBits=128|256|512}, or
 * {@code -XX:UseAVX=2} / {@code -XX:MaxVectorSize=16}.
 */
class WidthPortableF32KernelsTest {

    @BeforeEach
    void needsKernels() {
        Assumptions.assumeTrue(Kernels.ENABLED, "no usable vector width: fast kernels off");
    }

    @Test
    void widthIsWhatWasAsked() {
        String asked = System.getProperty("jemma.vectorBits");
        if (asked != null && !asked.isBlank()) assertThat(VectorWidth.BITS).isLessThanOrEqualTo(Integer.parseInt(asked.trim()));
        assertThat(VectorWidth.FLOATS * 32).isEqualTo(VectorWidth.BITS);
        assertThat(VectorWidth.SHORTS).isEqualTo(2 * VectorWidth.FLOATS);
        System.out.println("WidthPortableF32KernelsTest: " + VectorWidth.describe());
    }

    private static float[] dequantized(WeightMatrix w) {
        float[] a = new float[w.rows() * w.cols()];
        for (int r = 0; r < w.rows(); r++) w.format().dequantize(w.data(), w.rowOffset(r), a, r * w.cols(), w.cols());
        return a;
    }

    private static float[] gaussian(int n, long seed) {
        Random rnd = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    /** Σ a·x in double, and Σ |a·x| (the scale of its rounding error). */
    private static double[] dot(float[] a, int ao, float[] x, int xo, int n) {
        double s = 0, m = 0;
        for (int i = 0; i < n; i++) {
            double p = (double) a[ao + i] * x[xo + i];
            s += p;
            m += Math.abs(p);
        }
        return new double[]{s, m};
    }

    @ParameterizedTest(name = "{0} dot, {1}x{2}")
    @CsvSource({"Q4_0, 7, 32", "Q4_0, 5, 96", "Q4_0, 3, 1152", "Q8_0, 7, 32", "Q8_0, 5, 96", "Q8_0, 3, 1152",
            "F16, 7, 37", "F16, 5, 100", "F16, 3, 1153", "BF16, 7, 37", "BF16, 5, 100", "BF16, 3, 1153",
            "F32, 7, 37", "F32, 5, 100", "F32, 3, 1153"})
    void rowDotMatchesScalarReference(GgmlType type, int rows, int cols) {
        WeightMatrix w = FastMatMulTest.randomMatrix(type, rows, cols, 13L * rows + cols);
        float[] a = dequantized(w);
        int xo = 3;
        float[] x = gaussian(cols + xo, cols);
        int nb = cols / 32;
        float[] sums = new float[nb + 1];
        if (Kernels.needsBlockSums(type)) Kernels.blockSums(x, xo, cols, sums, 1);
        for (int r = 0; r < rows; r++) {
            double[] ref = dot(a, r * cols, x, xo, cols);
            float got = Kernels.dot(w, r, x, xo, sums, 1);
            assertThat((double) got).as("%s row %d", type, r).isCloseTo(ref[0], offset(2e-6 * ref[1] + 1e-30));
        }
    }

    @ParameterizedTest(name = "{0} dequantizeRow, {1} columns")
    @CsvSource({"Q4_0, 96", "Q8_0, 160", "F16, 45", "F16, 1153", "BF16, 45", "BF16, 1153"})
    void dequantizeRowIsBitExact(GgmlType type, int cols) {
        WeightMatrix w = FastMatMulTest.randomMatrix(type, 3, cols, cols);
        float[] a = new float[cols + 5], b = new float[cols + 5];
        for (int r = 0; r < 3; r++) {
            w.dequantizeRow(r, a, 5);
            Kernels.dequantizeRow(w, r, b, 5);
            for (int i = 5; i < a.length; i++) {
                assertThat(Float.floatToRawIntBits(b[i])).as("%s r=%d i=%d", type, r, i).isEqualTo(Float.floatToRawIntBits(a[i]));
            }
        }
    }

    @ParameterizedTest(name = "Gemm micro-kernels, {0} columns")
    @CsvSource({"4", "37", "100", "1153"})
    void gemmMicroKernelsMatchScalarReference(int n) {
        float[] a = gaussian(4 * n, n), x = gaussian(4 * n, n + 1);
        float[] out = new float[16];
        float[] acc = new float[Gemm.ACC_FLOATS + 3];
        Gemm.k4x4(a, 0, n, 2 * n, 3 * n, x, 0, n, 2 * n, 3 * n, n, out, 0, 4, 8, 12, acc, 3);
        float[] one = new float[16];
        for (int t = 0; t < 4; t++) Gemm.k1x4(a, t * n, x, 0, n, 2 * n, 3 * n, n, one, 4 * 0 + t, 4 + t, 8 + t, 12 + t, acc, 3);
        for (int t = 0; t < 4; t++) {
            for (int r = 0; r < 4; r++) {
                double[] ref = dot(a, r * n, x, t * n, n);
                double tol = 2e-6 * ref[1] + 1e-30;
                assertThat((double) out[4 * t + r]).as("k4x4 t=%d r=%d", t, r).isCloseTo(ref[0], offset(tol));
                assertThat((double) one[4 * t + r]).as("k1x4 t=%d r=%d", t, r).isCloseTo(ref[0], offset(tol));
            }
        }
    }

    @ParameterizedTest(name = "{0} tile decoder, {1} columns")
    @CsvSource({"Q8_0, 320", "F16, 320", "Q5_K, 512", "Q6_K, 512", "Q4_0, 320", "Q4_K, 512", "Q5_0, 320"})
    void tileDecodersAreBitExact(GgmlType type, int cols) {
        int rows = 45; // two groups, the second padded
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 17L + cols));
        float[] a = dequantized(w);
        long gBytes = Interleaved.groupBytes(type, cols);
        float[] tile = new float[InterleavedGemm.COLS * 32 + 128];
        for (int g = 0; g < Interleaved.groups(rows); g++) {
            for (int c0 = 0; c0 < cols; c0 += InterleavedGemm.COLS) {
                int nc = Math.min(InterleavedGemm.COLS, cols - c0);
                java.util.Arrays.fill(tile, Float.NaN);
                switch (type) {
                    case Q8_0 -> InterleavedGemm.decodeQ8(w.interleaved(), g * gBytes, c0 / 32, nc / 32, tile);
                    case F16 -> InterleavedGemm.decodeF16(w.interleaved(), g * gBytes, c0 / 32, nc / 32, tile);
                    case Q5_K -> InterleavedGemm.decodeQ5K(w.interleaved(), g * gBytes, c0 / 32, nc / 32, tile);
                    case Q4_0 -> InterleavedGemm.decodeQ4(w.interleaved(), g * gBytes, c0 / 32, nc / 32, tile);
                    case Q4_K -> InterleavedGemm.decodeQ4K(w.interleaved(), g * gBytes, c0 / 32, nc / 32, tile);
                    case Q5_0 -> InterleavedGemm.decodeQ5(w.interleaved(), g * gBytes, c0 / 32, nc / 32, tile);
                    default -> InterleavedGemm.decodeQ6K(w.interleaved(), g * gBytes, c0 / 32, nc / 32, tile);
                }
                for (int c = 0; c < nc; c++) {
                    for (int i = 0; i < 32; i++) {
                        int r = 32 * g + i;
                        float want = r < rows ? a[r * cols + c0 + c] : 0f;
                        float got = tile[c * 32 + i];
                        if (r >= rows) assertThat(got).as("padding row %d col %d", r, c0 + c).isEqualTo(0f);
                        else assertThat(Float.floatToRawIntBits(got)).as("%s row %d col %d: %s vs %s", type, r, c0 + c, got, want)
                                .isEqualTo(Float.floatToRawIntBits(want));
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} tile GEMM, {1}x{2}, {3} tokens")
    @CsvSource({"Q8_0, 45, 96, 1", "Q8_0, 70, 320, 5", "Q8_0, 33, 1152, 9", "F16, 45, 96, 3", "F16, 70, 320, 4",
            "F16, 33, 160, 6", "Q5_K, 45, 256, 2", "Q5_K, 70, 512, 7", "Q6_K, 45, 256, 5", "Q6_K, 70, 512, 8",
            // halves of 6+ tokens: the 6-token tile (with 4- and 1-token tails)
            "Q8_0, 70, 320, 13", "Q8_0, 33, 1152, 20", "F16, 45, 96, 12", "Q5_K, 70, 512, 21", "Q6_K, 45, 256, 14",
            // Gemma 3n's batches over residual-row matrices (FastMatMul.f32TileForResidualRows)
            "Q4_0, 45, 96, 3", "Q4_0, 70, 320, 13", "Q4_0, 33, 1152, 20", "Q4_K, 45, 256, 5", "Q4_K, 70, 512, 14",
            "Q5_0, 45, 96, 7", "Q5_0, 70, 320, 21"})
    void interleavedGemmMatchesScalarReference(GgmlType type, int rows, int cols, int n) {
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 7L * rows + cols));
        float[] a = dequantized(w);
        float[] x = gaussian(n * cols, n);
        float[] out = new float[n * rows];
        java.util.Arrays.fill(out, Float.NaN); // every output is set, not added to
        float[] tile = new float[InterleavedGemm.COLS * 32 + 128], part = new float[InterleavedGemm.PART];
        int groups = Interleaved.groups(rows);
        // two calls over group ranges and two token ranges, as FastMatMul splits work
        int gm = groups / 2, tm = n / 2;
        InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, 0, tm, out, 0, gm, tile, part);
        InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, 0, tm, out, gm, groups, tile, part);
        InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, tm, n, out, 0, groups, tile, part);
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < rows; r++) {
                double[] ref = dot(a, r * cols, x, t * cols, cols);
                assertThat((double) out[t * rows + r]).as("%s t=%d r=%d", type, t, r).isCloseTo(ref[0], offset(2e-6 * ref[1] + 1e-30));
            }
        }
    }

    /**
     * The 6-token tile takes, per (row, token), the same FMAs in the same order as the 4-token tile, so its sums are the
     * same bits (no reduction whose order the JIT state could change): tokens 0..5 in one call (tile6) against tokens
     * 0..3 and 2..5 in two (tile4 each). Several column tiles and a partial group: the direct and the merged paths both run.
     */
    @ParameterizedTest(name = "{0} 6-token tile = 4-token tile, {1}x{2}")
    @CsvSource({"Q8_0, 70, 1152", "F16, 64, 320", "Q6_K, 45, 512", "Q5_K, 33, 256", "Q4_0, 70, 1152", "Q4_K, 45, 512",
            "Q5_0, 33, 320"})
    void sixTokenTileEqualsFourTokenTile(GgmlType type, int rows, int cols) {
        // 512 bits keep their own tile code (4 tokens, then 1 at a time), which has no 6-token tile
        org.junit.jupiter.api.Assumptions.assumeTrue(VectorWidth.SHORTS < 32, "the 6-token tile runs below 512 bits");
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 11L * rows + cols));
        float[] x = gaussian(6 * cols, 6);
        float[] six = new float[6 * rows], four = new float[6 * rows], tile = new float[InterleavedGemm.COLS * 32 + 128];
        float[] part = new float[InterleavedGemm.PART];
        int groups = Interleaved.groups(rows);
        InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, 0, 6, six, 0, groups, tile, part);
        InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, 0, 4, four, 0, groups, tile, part);
        float[] late = new float[6 * rows];
        InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, 2, 6, late, 0, groups, tile, part);
        System.arraycopy(late, 4 * rows, four, 4 * rows, 2 * rows);
        for (int i = 0; i < six.length; i++) {
            assertThat(Float.floatToRawIntBits(six[i])).as("%s t=%d r=%d: %s vs %s", type, i / rows, i % rows, six[i], four[i])
                    .isEqualTo(Float.floatToRawIntBits(four[i]));
        }
    }

    /**
     * A call whose token count leaves 2 or 3 after its 6-token tiles runs those as 4 + 4 (+ 1) rather than as one-token
     * passes (~3× a tile's CPU per token): every token of 8-, 9- and 14-token calls gets the bits it has in an 18-token
     * call made of 6-token tiles only.
     */
    @ParameterizedTest(name = "{0} tail of 2-3 tokens on 4-token tiles, {1}x{2}, {3} tokens")
    @CsvSource({"Q8_0, 70, 1152, 8", "Q8_0, 64, 256, 14", "Q6_K, 45, 512, 9", "F16, 64, 320, 8"})
    void tailOfTwoOrThreeTokensTakesFourTokenTiles(GgmlType type, int rows, int cols, int n) {
        org.junit.jupiter.api.Assumptions.assumeTrue(VectorWidth.SHORTS < 32, "the 6-token tile runs below 512 bits");
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 7L * rows + cols));
        float[] x = gaussian(18 * cols, 18);
        float[] tile = new float[InterleavedGemm.COLS * 32 + 128], part = new float[InterleavedGemm.PART];
        int groups = Interleaved.groups(rows);
        float[] call = new float[18 * rows], sixes = new float[18 * rows];
        InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, 0, n, call, 0, groups, tile, part);
        InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, 0, 18, sixes, 0, groups, tile, part);
        for (int i = 0; i < n * rows; i++) {
            assertThat(Float.floatToRawIntBits(call[i])).as("%s t=%d r=%d: %s vs %s", type, i / rows, i % rows, call[i], sixes[i])
                    .isEqualTo(Float.floatToRawIntBits(sixes[i]));
        }
    }

    /**
     * A token's outputs are the same bits wherever it falls in a batch: the one-token tile (a block's last 1 or 5 tokens
     * below 512 bits, last 1–3 at 512) takes the FMAs of the 4- and 6-token tiles in their order. Every token of calls of
     * 1 to 13 tokens against the same token computed alone. Fails if the one-token tile sums its columns in another order
     * (e.g. even and odd columns apart, as it did).
     */
    @ParameterizedTest(name = "{0} {1}x{2}: a token's bits do not depend on its position")
    @CsvSource({"Q8_0, 70, 320", "Q8_0, 33, 1152", "F16, 64, 160", "Q6_K, 45, 512", "Q5_K, 33, 256", "Q4_0, 70, 320",
            "Q4_K, 45, 512", "Q5_0, 33, 160"})
    void aTokensBitsDoNotDependOnItsPosition(GgmlType type, int rows, int cols) {
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 13L * rows + cols));
        float[] x = gaussian(13 * cols, 23);
        float[] tile = new float[InterleavedGemm.COLS * 32 + 128], part = new float[InterleavedGemm.PART];
        int groups = Interleaved.groups(rows);
        float[][] alone = new float[13][rows];
        for (int t = 0; t < 13; t++) {
            float[] one = java.util.Arrays.copyOfRange(x, t * cols, (t + 1) * cols);
            InterleavedGemm.gemm(type, w.interleaved(), rows, cols, one, 0, 1, alone[t], 0, groups, tile, part);
        }
        for (int n = 1; n <= 13; n++) {
            float[] out = new float[n * rows];
            InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, 0, n, out, 0, groups, tile, part);
            for (int i = 0; i < n * rows; i++) {
                int t = i / rows, r = i % rows;
                assertThat(Float.floatToRawIntBits(out[i])).as("%s %d tokens, t=%d r=%d: %s vs %s alone", type, n, t, r, out[i], alone[t][r])
                        .isEqualTo(Float.floatToRawIntBits(alone[t][r]));
            }
        }
    }

    /**
     * The token block FastMatMul passes over a matrix ({@link InterleavedGemm#tokenBlock}: 256 at 256 bits up to 1152
     * columns) leaves every token's sums as they are in 128-token blocks: 512 tokens split 20·6 + 2·4 per 128 or 42·6 + 4
     * per 256 go through 6- and 4-token tiles either way, which agree bit for bit. Fails if a wider block changed a sum.
     */
    @ParameterizedTest(name = "{0} {1}x{2}, 512 tokens")
    @CsvSource({"Q8_0, 70, 1152", "Q6_K, 40, 1024", "Q8_0, 33, 6912"})
    void tokenBlockLeavesEveryTokenItsBits(GgmlType type, int rows, int cols) {
        int n = 512, groups = Interleaved.groups(rows), block = InterleavedGemm.tokenBlock(cols);
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 11L * rows + cols));
        float[] x = gaussian(n * cols, 19);
        float[] tile = new float[InterleavedGemm.COLS * 32 + 128], part = new float[InterleavedGemm.PART];
        float[] wide = new float[n * rows], narrow = new float[n * rows];
        for (int t0 = 0; t0 < n; t0 += block) {
            InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, t0, Math.min(n, t0 + block), wide, 0, groups, tile, part);
        }
        for (int t0 = 0; t0 < n; t0 += 128) {
            InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, t0, t0 + 128, narrow, 0, groups, tile, part);
        }
        for (int i = 0; i < n * rows; i++) {
            assertThat(Float.floatToRawIntBits(wide[i])).as("%s t=%d r=%d (block %d): %s vs %s", type, i / rows, i % rows, block, wide[i], narrow[i])
                    .isEqualTo(Float.floatToRawIntBits(narrow[i]));
        }
        if (VectorWidth.SHORTS == 16) assertThat(block).isEqualTo(cols <= 1152 ? 256 : 128);
    }

    @ParameterizedTest(name = "F16 GEMV, {0}x{1}")
    @CsvSource({"45, 96", "70, 544", "32, 1152", "7, 64"})
    void gemvF16MatchesScalarReference(int rows, int cols) {
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(GgmlType.F16, rows, cols, rows + 3L * cols));
        float[] a = dequantized(w);
        int xo = 5, o = 2;
        float[] x = gaussian(cols + xo, cols);
        float[] out = new float[rows + o + 1];
        java.util.Arrays.fill(out, Float.NaN);
        int groups = Interleaved.groups(rows);
        InterleavedGemm.gemvF16(w.interleaved(), 0, groups, rows, cols, x, xo, out, o);
        assertThat(out[0]).isNaN();
        assertThat(out[1]).isNaN();
        assertThat(out[rows + o]).as("nothing written past the last row").isNaN();
        for (int r = 0; r < rows; r++) {
            double[] ref = dot(a, r * cols, x, xo, cols);
            assertThat((double) out[o + r]).as("row %d", r).isCloseTo(ref[0], offset(2e-6 * ref[1] + 1e-30));
        }
    }
    /**
     * The F16 GEMV on x pre-scaled by 2^112 gives the plain kernel's sums bit for bit (each product w·2^-112 · x·2^112 is
     * the same real number; the FMAs run in the same order): weights with subnormal, tiny and large f16 values, and
     * activations from subnormal floats to just under the scaling limit. Lanewise FMAs and adds only, so the bits do not
     * depend on the JIT state.
     */
    @ParameterizedTest(name = "F16 GEMV scaled = plain, {0}x{1}")
    @CsvSource({"45, 96", "70, 544", "32, 1152", "7, 64"})
    void gemvF16ScaledEqualsPlainBitForBit(int rows, int cols) {
        java.util.Random rnd = new java.util.Random(rows * 31L + cols);
        // f16 bit patterns drawn over the whole finite range (every exponent, subnormals and zeros of both signs included)
        byte[] f16 = new byte[rows * cols * 2];
        for (int i = 0; i < rows * cols; i++) {
            short h = (short) rnd.nextInt(1 << 16);
            if ((h & 0x7c00) == 0x7c00) h &= (short) 0xbfff; // no inf / NaN: clear the exponent's top bit
            f16[2 * i] = (byte) h;
            f16[2 * i + 1] = (byte) (h >> 8);
        }
        WeightMatrix w = Int8MatMulTest.packed(new WeightMatrix("f16", java.lang.foreign.MemorySegment.ofArray(f16),
                GgmlType.F16, rows, cols));
        int xo = 3;
        float[] x = new float[cols + xo];
        for (int i = 0; i < x.length; i++) {
            x[i] = switch (i % 4) {
                case 0 -> (float) rnd.nextGaussian();
                case 1 -> (float) (rnd.nextGaussian() * 1e-40); // subnormal floats
                case 2 -> (rnd.nextBoolean() ? 1 : -1) * Math.nextDown(InterleavedGemm.F16_SCALED_LIMIT) * rnd.nextFloat();
                default -> (float) (rnd.nextGaussian() * 1e-3);
            };
        }
        float[] xs = new float[cols + xo];
        assertThat(InterleavedGemm.scaleForF16(x, x.length, xs)).isTrue();
        float[] plain = new float[rows + 1], scaled = new float[rows + 1];
        int groups = Interleaved.groups(rows);
        InterleavedGemm.gemvF16(w.interleaved(), 0, groups, rows, cols, x, xo, plain, 1);
        InterleavedGemm.gemvF16Scaled(w.interleaved(), 0, groups, rows, cols, xs, xo, scaled, 1);
        for (int r = 1; r <= rows; r++) {
            assertThat(Float.floatToRawIntBits(scaled[r])).as("row %d: %s vs %s", r - 1, scaled[r], plain[r])
                    .isEqualTo(Float.floatToRawIntBits(plain[r]));
        }
    }

    /** Activations at or past 2^16 (or NaN) would overflow once scaled: refused, so the caller runs the plain kernel. */
    @org.junit.jupiter.api.Test
    void scaleForF16RefusesWhatWouldOverflow() {
        float[] into = new float[3];
        assertThat(InterleavedGemm.scaleForF16(new float[] {1f, -0x1p-149f, Math.nextDown(0x1p16f)}, 3, into)).isTrue();
        assertThat(into).containsExactly(0x1p112f, -0x1p-37f, Math.nextDown(0x1p16f) * 0x1p112f);
        assertThat(InterleavedGemm.scaleForF16(new float[] {1f, -0x1p16f, 0f}, 3, into)).isFalse();
        assertThat(InterleavedGemm.scaleForF16(new float[] {Float.NaN}, 1, into)).isFalse();
        assertThat(InterleavedGemm.scaleForF16(new float[] {Float.POSITIVE_INFINITY}, 1, into)).isFalse();
    }
}
