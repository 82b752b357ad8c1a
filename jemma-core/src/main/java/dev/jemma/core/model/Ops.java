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

    /**
     * {@link #geluGate} with the Vector API's tanh (the JDK's vector math library, ~1 ulp): the FFN of every
     * token evaluates one tanh per hidden unit, which the scalar loop makes a visible share of prefill.
     */
    public static void geluGateVector(float[] g, float[] u, int off, int n) {
        var sp = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        int i = off, e = off + n;
        for (; i + sp.length() <= e; i += sp.length()) {
            var x = jdk.incubator.vector.FloatVector.fromArray(sp, g, i);
            var inner = x.mul(x).mul(0.044715f * SQRT_2_OVER_PI).add(SQRT_2_OVER_PI).mul(x);
            var t = inner.lanewise(jdk.incubator.vector.VectorOperators.TANH);
            t.add(1f).mul(x).mul(0.5f).mul(jdk.incubator.vector.FloatVector.fromArray(sp, u, i)).intoArray(g, i);
        }
        for (; i < e; i++) g[i] = geluTanh(g[i]) * u[i];
    }

    /** {@code g[gOff + i] = gelu_tanh(g[gOff + i]) · u[uOff + i]} for i < n, vectorized as {@link #geluGateVector(float[], float[], int, int)}. */
    public static void geluGateVector(float[] g, int gOff, float[] u, int uOff, int n) {
        var sp = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        int i = 0;
        for (; i + sp.length() <= n; i += sp.length()) {
            var x = jdk.incubator.vector.FloatVector.fromArray(sp, g, gOff + i);
            var inner = x.mul(x).mul(0.044715f * SQRT_2_OVER_PI).add(SQRT_2_OVER_PI).mul(x);
            var t = inner.lanewise(jdk.incubator.vector.VectorOperators.TANH);
            t.add(1f).mul(x).mul(0.5f).mul(jdk.incubator.vector.FloatVector.fromArray(sp, u, uOff + i)).intoArray(g, gOff + i);
        }
        for (; i < n; i++) g[gOff + i] = geluTanh(g[gOff + i]) * u[uOff + i];
    }

    /** {@code x[off + i] = gelu_tanh(x[off + i])} for i < n (HF gelu_pytorch_tanh), vectorized as {@link #geluGateVector(float[], float[], int, int)}. */
    public static void geluVector(float[] x, int off, int n) {
        var sp = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        int i = off, e = off + n;
        for (; i + sp.length() <= e; i += sp.length()) {
            var v = jdk.incubator.vector.FloatVector.fromArray(sp, x, i);
            var inner = v.mul(v).mul(0.044715f * SQRT_2_OVER_PI).add(SQRT_2_OVER_PI).mul(v);
            inner.lanewise(jdk.incubator.vector.VectorOperators.TANH).add(1f).mul(v).mul(0.5f).intoArray(x, i);
        }
        for (; i < e; i++) x[i] = geluTanh(x[i]);
    }

    /** cos and sin of pos · invFreq[i] for one position, shared by every head of a layer. */
    public static void ropeAngles(int pos, float[] invFreq, float[] cos, float[] sin) {
        ropeAngles(pos, invFreq, cos, sin, 0);
    }

    /** As {@link #ropeAngles(int, float[], float[], float[])} into cos/sin from {@code off} on. */
    public static void ropeAngles(int pos, float[] invFreq, float[] cos, float[] sin, int off) {
        for (int i = 0; i < invFreq.length; i++) {
            float angle = pos * invFreq[i];
            cos[off + i] = (float) Math.cos(angle);
            sin[off + i] = (float) Math.sin(angle);
        }
    }

    /** NeoX rope on one head with angles from {@link #ropeAngles}. */
    public static void rope(float[] x, int off, int headDim, float[] cos, float[] sin) {
        rope(x, off, headDim, cos, 0, sin, 0);
    }

    /** As {@link #rope(float[], int, int, float[], float[])} with the angles at cos[co ..] and sin[so ..]. */
    public static void rope(float[] x, int off, int headDim, float[] cos, int co, float[] sin, int so) {
        int half = headDim / 2;
        for (int i = 0; i < half; i++) {
            float a = x[off + i], b = x[off + i + half], c = cos[co + i], s = sin[so + i];
            x[off + i] = a * c - b * s;
            x[off + i + half] = a * s + b * c;
        }
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
