package dev.jemma.core.model;

import dev.jemma.core.tensor.StableMath;
import dev.jemma.core.tensor.VectorOps;
import jdk.incubator.vector.FloatVector;

/** Small per-token operations of the Gemma family (kernels that are not matmuls). */
public final class Ops {
    private static final float SQRT_2_OVER_PI = 0.7978845608028654f;

    private Ops() {
    }

    /** GELU with the tanh approximation (HF gelu_pytorch_tanh, ggml_gelu). */
    public static float geluTanh(float x) {
        return 0.5f * x * (1f + (float) Math.tanh(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
    }

    /** The vectorized GELUs' ({@link #geluGateVector}, {@link #geluVector}) value for one x, operation for operation. */
    static float gelu(float x) {
        float inner = (x * x * (0.044715f * SQRT_2_OVER_PI) + SQRT_2_OVER_PI) * x;
        return (StableMath.tanh(inner) + 1f) * x * 0.5f;
    }

    /** g[i] = gelu_tanh(g[i]) · u[i]. */
    public static void geluGate(float[] g, float[] u, int off, int n) {
        for (int i = off, e = off + n; i < e; i++) g[i] = geluTanh(g[i]) * u[i];
    }

    /**
     * {@link #geluGate} vectorized, with {@link StableMath#tanh} (≤ 1.3 ulp; the same bits interpreted, in C1 and in C2,
     * which the Vector API's {@code lanewise(TANH)} does not give); the scalar tail computes the same bits
     * ({@link #gelu}). The FFN of every token evaluates one tanh per hidden unit, which the scalar loop makes a visible
     * share of prefill.
     */
    public static void geluGateVector(float[] g, float[] u, int off, int n) {
        StableMath.geluTanh(g, off, u, off, n);
    }

    /** {@code g[gOff + i] = gelu_tanh(g[gOff + i]) · u[uOff + i]} for i < n, vectorized as {@link #geluGateVector(float[], float[], int, int)}. */
    public static void geluGateVector(float[] g, int gOff, float[] u, int uOff, int n) {
        StableMath.geluTanh(g, gOff, u, uOff, n);
    }

    @SuppressWarnings("unchecked")
    private static final Class<FloatVector> FV = (Class<FloatVector>) VectorOps.F.vectorType();
    /** Where the rational tanh of {@link #geluGateFast} reaches ±1 in float: larger arguments are clamped to it. */
    private static final float TANH_CLAMP = 7.90531110763549805f;
    // tanh(y) ≈ y·P(y²)/Q(y²) on [−TANH_CLAMP, TANH_CLAMP]: a 13/6 odd/even minimax rational (the coefficients Eigen's
    // ptanh_float uses), a few float ulps from tanh
    private static final float A1 = 4.89352455891786e-03f, A3 = 6.37261928875436e-04f, A5 = 1.48572235717979e-05f,
            A7 = 5.12229709037114e-08f, A9 = -8.60467152213735e-11f, A11 = 2.00018790482477e-13f, A13 = -2.76076847742355e-16f;
    private static final float B0 = 4.89352518554385e-03f, B2 = 2.26843463243900e-03f, B4 = 1.18534705686654e-04f,
            B6 = 1.19825839466702e-06f;

    /**
     * The default mode's GELU gate: {@link #geluGateVector}'s formula with tanh as a rational function (multiply-adds and
     * one division) instead of the JDK's vector tanh, ~2.5× cheaper per value at 256 bits (one core) — it was 2.2 % of a
     * 256-bit Q4_0 prompt step (docs/PERFORMANCE.md, "Q4_0 prompts and short batches"). Max |error| 2e-6 against a
     * double-precision GELU over N(0, 3²) inputs (the JDK's vector tanh gives ~1 ulp), far below what the int8
     * activations of the down projection round away (1/254 of a block's largest value) and below llama.cpp's own GELU
     * (an f16 table); {@code --exact} keeps {@link #geluGateVector}. The scalar tail does the same operations, so a
     * value's bits do not depend on where a run of values is split.
     */
    public static void geluGateFast(float[] g, float[] u, int off, int n) {
        var sp = VectorOps.F;
        int i = 0;
        for (; i + sp.length() <= n; i += sp.length()) {
            // every intermediate cast to its exact class (docs/ARCHITECTURE.md, "Vector widths"): a vector op C2 inlines
            // late returns a value it knows only as FloatVector, and a call on it binds from a receiver profile shared
            // JVM-wide. Uncast, a long call compiled on-stack after geluGateVector had run in the same JVM took 15-90 ns
            // per value instead of 0.4-0.7 (GeluSpeed, 256 and 512 bits)
            FloatVector x = FV.cast(FloatVector.fromArray(sp, g, off + i));
            FloatVector y = FV.cast(FV.cast(x.mul(x).mul(0.044715f * SQRT_2_OVER_PI).add(SQRT_2_OVER_PI).mul(x)).max(-TANH_CLAMP).min(TANH_CLAMP));
            FloatVector y2 = FV.cast(y.mul(y));
            FloatVector p = FV.cast(y2.fma(A13, A11));
            p = FV.cast(p.fma(y2, FloatVector.broadcast(sp, A9)));
            p = FV.cast(p.fma(y2, FloatVector.broadcast(sp, A7)));
            p = FV.cast(p.fma(y2, FloatVector.broadcast(sp, A5)));
            p = FV.cast(p.fma(y2, FloatVector.broadcast(sp, A3)));
            p = FV.cast(FV.cast(p.fma(y2, FloatVector.broadcast(sp, A1))).mul(y));
            FloatVector q = FV.cast(y2.fma(B6, B4));
            q = FV.cast(q.fma(y2, FloatVector.broadcast(sp, B2)));
            q = FV.cast(q.fma(y2, FloatVector.broadcast(sp, B0)));
            FloatVector t = FV.cast(FV.cast(p.div(q)).add(1f));
            FV.cast(FV.cast(t.mul(x)).mul(0.5f)).mul(FloatVector.fromArray(sp, u, off + i)).intoArray(g, off + i);
        }
        for (; i < n; i++) g[off + i] = geluFast(g[off + i]) * u[off + i];
    }

    /** {@link #geluGateFast}'s GELU of one value, operation for operation. */
    static float geluFast(float x) {
        float y = Math.min(Math.max((x * x * (0.044715f * SQRT_2_OVER_PI) + SQRT_2_OVER_PI) * x, -TANH_CLAMP), TANH_CLAMP);
        float y2 = y * y;
        float p = Math.fma(y2, A13, A11);
        p = Math.fma(p, y2, A9);
        p = Math.fma(p, y2, A7);
        p = Math.fma(p, y2, A5);
        p = Math.fma(p, y2, A3);
        p = Math.fma(p, y2, A1) * y;
        float q = Math.fma(y2, B6, B4);
        q = Math.fma(q, y2, B2);
        q = Math.fma(q, y2, B0);
        return (p / q + 1f) * x * 0.5f;
    }

    /** {@code x[off + i] = gelu_tanh(x[off + i])} for i < n (HF gelu_pytorch_tanh), vectorized as {@link #geluGateVector(float[], float[], int, int)}. */
    public static void geluVector(float[] x, int off, int n) {
        StableMath.geluTanh(x, off, null, 0, n);
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
