package dev.jemma.core.tensor.kernels;

/**
 * A batch of f32 activation rows quantized as llama.cpp's Q8_0 does for its integer dot products: per block of 32
 * values one scale {@code d = max|x| / 127} and 32 integers {@code round(x / d)} in [−127, 127]. The integers are
 * kept widened to {@code short} (the lane type of {@link Int8Kernels}); {@link #q4Bias} is −8 × the block's
 * integer sum, the start value that turns Q4_0's unsigned nibbles into their signed values (n − 8) for free.
 * Buffers grow on demand and are reused, so the hot path does not allocate.
 */
public final class QuantizedActivations {
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

    /** Quantizes tokens {@code [t0, t1)} of {@code x} (rows of {@code cols}); call {@link #reserve} first. */
    public void quantize(float[] x, int t0, int t1) {
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
