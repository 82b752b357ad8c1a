package dev.jemma.core.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A batch of f32 activation rows quantized as llama.cpp's Q8_0 does for its integer dot products: per block of 32
 * values one scale {@code d = max|x| / 127} and 32 integers {@code round(x / d)} in [−127, 127]. The integers are
 * kept widened to {@code short} (the lane type of {@link Int8Kernels}); {@link #q4Bias} is −8 × the block's
 * integer sum, the start value that turns Q4_0's unsigned nibbles into their signed values (n − 8) for free.
 * Buffers grow on demand and are reused, so the hot path does not allocate.
 */
public final class QuantizedActivations {
    private static final VectorSpecies<Float> F = VectorWidth.F;
    private static final VectorSpecies<Integer> I = VectorWidth.I;
    private static final VectorSpecies<Short> SH = VectorWidth.SH;
    private static final int FL = VectorWidth.FLOATS;
    private static final float ROUND = 0x1.8p23f;
    private static final VectorMask<Integer> FIRST8 = VectorMask.fromLong(I, 0xFFL), LAST8 = VectorMask.fromLong(I, 0xFFL << 8);
    short[] q = new short[0];
    float[] d = new float[0];
    short[] q4Bias = new short[0];
    /** −16 × the integer sum of a block's first / last 16 values: Q5_0's start values, one per half-block. */
    short[] q5BiasLo = new short[0];
    short[] q5BiasHi = new short[0];
    /** −32 × the integer sum of each 8 values (4 per block): Q6_K's start values, one per 8 columns. */
    short[] q6Bias = new short[0];
    int cols;
    int tokens;

    /**
     * Quantizes tokens {@code [t0, t1)} of {@code x} (rows of {@code cols}); call {@link #reserve} first. Vectorized:
     * the same float operations as {@link #quantizeScalar} (x · (127 / amax) rounded half to even, by the 1.5·2^23
     * trick, exact for |v| < 2^22), so the integers are identical.
     */
    public void quantize(float[] x, int t0, int t1) {
        if (FL != 16) {
            quantizeNarrow(x, t0, t1);
            return;
        }
        int nb = cols / 32;
        for (int t = t0; t < t1; t++) {
            for (int b = 0; b < nb; b++) {
                int o = t * cols + 32 * b;
                FloatVector lo = FloatVector.fromArray(F, x, o), hi = FloatVector.fromArray(F, x, o + 16);
                float amax = lo.abs().max(hi.abs()).reduceLanes(VectorOperators.MAX);
                float id = amax > 0 ? 127f / amax : 0f;
                IntVector ql = (IntVector) lo.mul(id).add(ROUND).sub(ROUND).convert(VectorOperators.F2I, 0);
                IntVector qh = (IntVector) hi.mul(id).add(ROUND).sub(ROUND).convert(VectorOperators.F2I, 0);
                ((ShortVector) ql.convertShape(VectorOperators.I2S, SH, 0)).intoArray(q, o);
                ((ShortVector) qh.convertShape(VectorOperators.I2S, SH, 0)).intoArray(q, o + 16);
                int e0 = ql.reduceLanes(VectorOperators.ADD, FIRST8), e1 = ql.reduceLanes(VectorOperators.ADD, LAST8);
                int e2 = qh.reduceLanes(VectorOperators.ADD, FIRST8), e3 = qh.reduceLanes(VectorOperators.ADD, LAST8);
                store(t, b, nb, amax, e0, e1, e2, e3);
            }
        }
    }

    /** {@link #quantize} with 8 or 4 float lanes: a block is 4 or 8 vectors, and each 8 values' sum one or two reductions. */
    private void quantizeNarrow(float[] x, int t0, int t1) {
        int nb = cols / 32;
        for (int t = t0; t < t1; t++) {
            for (int b = 0; b < nb; b++) {
                int o = t * cols + 32 * b;
                FloatVector m = FloatVector.fromArray(F, x, o).abs();
                for (int k = FL; k < 32; k += FL) m = m.max(FloatVector.fromArray(F, x, o + k).abs());
                float amax = m.reduceLanes(VectorOperators.MAX);
                float id = amax > 0 ? 127f / amax : 0f;
                int e0 = 0, e1 = 0, e2 = 0, e3 = 0;
                for (int k = 0; k < 32; k += FL) {
                    IntVector qi = (IntVector) FloatVector.fromArray(F, x, o + k).mul(id).add(ROUND).sub(ROUND).convert(VectorOperators.F2I, 0);
                    ((ShortVector) qi.convertShape(VectorOperators.I2S, SH, 0)).intoArray(q, o + k);
                    int sum = qi.reduceLanes(VectorOperators.ADD);
                    switch (k >> 3) {
                        case 0 -> e0 += sum;
                        case 1 -> e1 += sum;
                        case 2 -> e2 += sum;
                        default -> e3 += sum;
                    }
                }
                store(t, b, nb, amax, e0, e1, e2, e3);
            }
        }
    }

    /** A block's scale and the kernels' start values from the integer sums of its four 8-value groups. */
    private void store(int t, int b, int nb, float amax, int e0, int e1, int e2, int e3) {
        int k = 4 * (t * nb + b);
        q6Bias[k] = (short) (-32 * e0);
        q6Bias[k + 1] = (short) (-32 * e1);
        q6Bias[k + 2] = (short) (-32 * e2);
        q6Bias[k + 3] = (short) (-32 * e3);
        d[t * nb + b] = amax / 127f;
        q4Bias[t * nb + b] = (short) (-8 * (e0 + e1 + e2 + e3));
        q5BiasLo[t * nb + b] = (short) (-16 * (e0 + e1));
        q5BiasHi[t * nb + b] = (short) (-16 * (e2 + e3));
    }

    /** The scalar definition {@link #quantize} must equal (kept for the test that checks it). */
    void quantizeScalar(float[] x, int t0, int t1) {
        int nb = cols / 32;
        for (int t = t0; t < t1; t++) {
            for (int b = 0; b < nb; b++) {
                int o = t * cols + 32 * b;
                float amax = 0;
                for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[o + i]));
                float dd = amax / 127f;
                float id = amax > 0 ? 127f / amax : 0f;
                int lo = 0, hi = 0, eighth = 0;
                for (int i = 0; i < 32; i++) {
                    int v = (int) Math.rint(x[o + i] * id);
                    q[o + i] = (short) v;
                    if (i < 16) lo += v;
                    else hi += v;
                    eighth += v;
                    if ((i & 7) == 7) {
                        q6Bias[4 * (t * nb + b) + (i >> 3)] = (short) (-32 * eighth);
                        eighth = 0;
                    }
                }
                d[t * nb + b] = dd;
                q4Bias[t * nb + b] = (short) (-8 * (lo + hi));
                q5BiasLo[t * nb + b] = (short) (-16 * lo);
                q5BiasHi[t * nb + b] = (short) (-16 * hi);
            }
        }
    }

    /** Sizes the buffers for {@code tokens} rows of {@code cols} (a multiple of 32). */
    public void reserve(int tokens, int cols) {
        this.tokens = tokens;
        this.cols = cols;
        int n = tokens * cols, nb = n / 32;
        if (q.length < n) q = new short[n];
        if (d.length < nb) {
            d = new float[nb];
            q4Bias = new short[nb];
            q5BiasLo = new short[nb];
            q5BiasHi = new short[nb];
            q6Bias = new short[4 * nb];
        }
    }
}
