package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Below 512 bits the Q4_0, Q5_0 and Q8_0 single-token kernels take two slices of a group per pass ({@link Int8Kernels#PAIRS}),
 * Q5_K's at 256 bits ({@link KQuantKernels#Q5K_PAIRS}); each must give the one-slice kernel's result bit for bit (the
 * same integer block sums, the same f32 steps), checked at 256 and at 128 bits (Q5_K's pairs at both, though only 256 runs
 * them). Matrices with a partial last group; activations of full scale every 7th column.
 */
class TwoSlicePassTest {

    @ParameterizedTest(name = "{0} {1}x{2}")
    @CsvSource({"Q4_0, 96, 1152", "Q4_0, 70, 320", "Q4_0, 45, 64", "Q5_0, 96, 1152", "Q5_0, 70, 320", "Q5_0, 45, 64",
            "Q8_0, 96, 1152", "Q8_0, 70, 320", "Q5_K, 96, 1536", "Q5_K, 70, 512"})
    void twoSlicesPerPassEqualOneSliceBitForBit(GgmlType type, int rows, int cols) {
        Assumptions.assumeTrue(Kernels.ENABLED && Int8Kernels.L < 32, "two slices per pass exist below 512 bits");
        WeightMatrix w = FastMatMulTest.randomMatrix(type, rows, cols, 7L * rows + cols);
        MemorySegment p = Arena.ofAuto().allocate(Interleaved.byteSize(type, rows, cols), 64);
        Interleaved.repack(w, p, 0, Interleaved.groups(rows));
        int tokens = 3, nb = cols / 32, groups = Interleaved.groups(rows);
        Random rnd = new Random(rows);
        float[] x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * (i % 7 == 0 ? 20 : 1);
        QuantizedActivations a = new QuantizedActivations(false);
        a.reserve(tokens, cols);
        a.quantize(x, 0, tokens);
        float[] one = new float[tokens * rows], two = new float[tokens * rows];
        for (int t = 0; t < tokens; t++) {
            int xt = t * a.cols, dt = t * nb, ot = t * rows;
            switch (type) {
                case Q4_0 -> {
                    Int8Kernels.q4(p, 0, groups, rows, nb, a.q, a.d, a.q4Bias, xt, dt, one, ot);
                    Int8Kernels.q4Pairs(p, 0, groups, rows, nb, a.q, a.d, a.q4Bias, xt, dt, two, ot);
                }
                case Q5_0 -> {
                    Int8Kernels.q5(p, 0, groups, rows, nb, a.q, a.d, a.q5BiasLo, a.q5BiasHi, xt, dt, one, ot);
                    Int8Kernels.q5Pairs(p, 0, groups, rows, nb, a.q, a.d, a.q5BiasLo, a.q5BiasHi, xt, dt, two, ot);
                }
                case Q5_K -> {
                    KQuantKernels.q5k(p, 0, groups, rows, nb, a.q, a.d, a.q4Bias, a.q5BiasLo, a.q5BiasHi, xt, dt, one, ot);
                    KQuantKernels.q5kPairs(p, 0, groups, rows, nb, a.q, a.d, a.q4Bias, a.q5BiasLo, a.q5BiasHi, xt, dt, two, ot);
                }
                default -> {
                    Int8Kernels.q8(p, 0, groups, rows, nb, a.q, a.d, xt, dt, one, ot);
                    Int8Kernels.q8Pairs(p, 0, groups, rows, nb, a.q, a.d, xt, dt, two, ot);
                }
            }
        }
        assertThat(one).as("non-vacuous").isNotEqualTo(new float[one.length]);
        assertThat(two).containsExactly(one);
    }

    /**
     * Q6_K's two-slice kernel ({@link KQuantKernels#q6kPairs}, below 512 bits) scales each 8-column sum as soon as it is made,
     * an f32 order of its own (no few-token kernel runs Q6_K below 512 bits), so it is checked bit for bit against a scalar
     * model of exactly those steps: per sub-block A = (d·dx)·sc, per 8 columns s = fma(Σ (q − 32)·xq, A, s).
     */
    @ParameterizedTest(name = "Q6_K {0}x{1}")
    @CsvSource({"96, 1536", "70, 512", "45, 256"})
    void q6kPairsFollowTheirScalarSteps(int rows, int cols) {
        Assumptions.assumeTrue(Kernels.ENABLED && Int8Kernels.L < 32, "two slices per pass exist below 512 bits");
        GgmlType type = GgmlType.Q6_K;
        WeightMatrix w = FastMatMulTest.randomMatrix(type, rows, cols, 7L * rows + cols);
        MemorySegment p = Arena.ofAuto().allocate(Interleaved.byteSize(type, rows, cols), 64);
        Interleaved.repack(w, p, 0, Interleaved.groups(rows));
        int tokens = 2, nb = cols / 32, groups = Interleaved.groups(rows);
        Random rnd = new Random(rows);
        float[] x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * (i % 7 == 0 ? 20 : 1);
        QuantizedActivations a = new QuantizedActivations(false);
        a.reserve(tokens, cols);
        a.quantize(x, 0, tokens);
        float[] two = new float[tokens * rows], model = new float[tokens * rows];
        ValueLayout.OfFloat f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        ValueLayout.OfShort i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        long gBytes = Interleaved.groupBytes(type, cols);
        for (int t = 0; t < tokens; t++) {
            KQuantKernels.q6kPairs(p, 0, groups, rows, nb, a.q, a.d, a.q6Bias, t * cols, t * nb, two, t * rows);
            for (int r = 0; r < rows; r++) {
                int i = r % Interleaved.ROWS;
                long g = (r / Interleaved.ROWS) * gBytes;
                float s = 0;
                for (int b = 0; b < nb; b++) {
                    long h = KQuantInterleaved.header(type, g, b), tile = KQuantInterleaved.subTile(type, g, b);
                    float d = p.get(f32, h + 4L * i), dx = a.d[t * nb + b];
                    int lanes = p.get(i16, tile + 2L * i);
                    for (int part = 0; part < 2; part++) {
                        int sc = part == 0 ? (byte) lanes : lanes >> 8;
                        float scale = d * dx * sc;
                        for (int half = 0; half < 2; half++) {
                            int sum = 0;
                            for (int c = 16 * part + 8 * half; c < 16 * part + 8 * half + 8; c++) {
                                sum += (KQuantInterleaved.q6Get(p, tile, i, c) - 32) * a.q[t * cols + 32 * b + c];
                            }
                            s = Math.fma((float) sum, scale, s);
                        }
                    }
                }
                model[t * rows + r] = s;
            }
        }
        assertThat(model).as("non-vacuous").isNotEqualTo(new float[model.length]);
        assertThat(two).containsExactly(model);
    }
}
