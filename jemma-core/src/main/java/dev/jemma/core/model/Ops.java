package dev.jemma.core.model;

import dev.jemma.core.tensor.VectorOps;

/** Small per-token operations of the Gemma family (kernels that are not matmuls). */
public final class Ops {
    private static final float SQRT_2_OVER_PI = 0.7978845608028654f;

    private Ops() {
    }

    /** GELU with the tanh approximation (HF gelu_pytorch_tanh, ggml_gelu). */
    public static float geluTanh(float x) {
        return 0.5f * x * (1f + (float) Math.tanh(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
    }

    /** g[i] = gelu_tanh(g[i]) · u[i]. */
    public static void geluGate(float[] g, float[] u, int off, int n) {
        for (int i = off, e = off + n; i < e; i++) g[i] = geluTanh(g[i]) * u[i];
    }

    /** RMS-normalises each of {@code rows} rows of length {@code n} in place. */
    public static void rmsNormRows(float[] x, int rows, int n, float[] w, float eps) {
        for (int r = 0; r < rows; r++) VectorOps.rmsNorm(x, r * n, n, w, eps);
    }

    /** Inverse frequencies of NeoX rope for one head: base^(-2i/d) / … computed in f32 like HF. */
    public static float[] ropeInvFreq(int headDim, float base, float scale) {
        float[] f = new float[headDim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) (1.0 / Math.pow(base, (2.0 * i) / headDim)) * scale;
        }
        return f;
    }

    /** NeoX (rotate-half) rope on one head at {@code x[off..off+headDim)}. */
    public static void rope(float[] x, int off, int headDim, int pos, float[] invFreq) {
        int half = headDim / 2;
        for (int i = 0; i < half; i++) {
            float angle = pos * invFreq[i];
            float c = (float) Math.cos(angle), s = (float) Math.sin(angle);
            float a = x[off + i], b = x[off + i + half];
            x[off + i] = a * c - b * s;
            x[off + i + half] = a * s + b * c;
        }
    }

    public static void softcap(float[] x, int off, int n, float cap) {
        if (cap <= 0) return;
        for (int i = off, e = off + n; i < e; i++) x[i] = cap * (float) Math.tanh(x[i] / cap);
    }
}
