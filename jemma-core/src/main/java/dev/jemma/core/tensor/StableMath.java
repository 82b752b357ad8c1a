package dev.jemma.core.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * exp and tanh that give the same bits in every JIT tier ("stable"; not named VectorMath, which the JDK's
 * {@code jdk.incubator.vector} package has), from adds, multiplies, fused multiply-adds, one division and exact bit
 * operations only: the scalar {@link #exp(float)} and {@link #tanh(float)}, and the loops that need them on
 * {@link VectorOps#F} vectors (softmax's {@link #expShiftedSum}, the GELUs' {@link #geluTanh}), which do the scalar
 * forms' operations lane by lane and use them for their tails (so a value's bits do not depend on whether it falls in a
 * vector or in a loop's tail). There is no vector exp or tanh to call: a vector passed to a call C2 does not inline is
 * boxed, and C2 does not inline a callee with a big compiled body of its own, so the loops carry the operations.
 *
 * <p>Why not {@code lanewise(EXP / TANH)}: C2 compiles those to the JDK's vector math library (SVML-style stubs) while
 * the interpreter and C1 call {@code Math.exp / tanh} lane by lane; the two differ in the last ulp, so softmax and GELU
 * changed bits when C2 compiled a kernel (docs/PERFORMANCE.md, "Same bits cold or warm"). These compute the same bits in
 * every tier. Accuracy, measured over 2·10⁷ random arguments against the double-precision functions: exp ≤ 1.01 ulp
 * on [−87, 0], tanh ≤ 1.32 ulp over N(0, 3²) and U(−10, 10) (the JDK's vector tanh ≤ 1 ulp).
 */
public final class StableMath {
    @SuppressWarnings("unchecked")
    private static final Class<FloatVector> FV = (Class<FloatVector>) VectorOps.F.vectorType();
    @SuppressWarnings("unchecked")
    private static final Class<IntVector> IV = (Class<IntVector>) VectorOps.F.withLanes(int.class).vectorType();

    /** Below this exp returns 0 (e^x would be subnormal); at it e^x is the smallest normal float's neighbourhood. */
    private static final float EXP_LO = -87.33654f;
    /** exp saturates here (e^88.376 ≈ 2.4e38: 2^n must stay a normal float); Jemma calls it with x ≤ 0. */
    private static final float EXP_HI = 88.37626f;
    private static final float LOG2E = 1.44269504088896341f;
    /** 1.5·2^23: adding it rounds x·log2(e) to an integer n, which then sits in the low bits of the sum. */
    private static final float ROUND = 12582912f;
    // ln 2 = LN2_HI − LN2_LO, LN2_HI with few enough bits that n·LN2_HI is exact (Cephes' expf)
    private static final float LN2_HI = 0.693359375f, LN2_LO = 2.12194440e-4f;
    // e^r ≈ 1 + r + r²·P(r) on |r| ≤ ln2/2 (Cephes' expf polynomial)
    private static final float E0 = 5.0000001201E-1f, E1 = 1.6666665459E-1f, E2 = 4.1665795894E-2f,
            E3 = 8.3334519073E-3f, E4 = 1.3981999507E-3f, E5 = 1.9875691500E-4f;

    /** Below this tanh is the odd polynomial, from it on 1 − 2/(e^{2|y|} + 1), which loses no accuracy there. */
    private static final float TANH_SMALL = 0.625f;
    // tanh(y) ≈ y + y³·T(y²) on |y| < 0.625: weighted least squares toward minimax relative error (4.4e-9 in double)
    private static final float T0 = -0.3333328068256378f, T1 = 0.13331441581249237f, T2 = -0.05373970419168472f,
            T3 = 0.020639052614569664f, T4 = -0.005704951472580433f;

    private static final float SQRT_2_OVER_PI = 0.7978845608028654f;

    private StableMath() {
    }

    /**
     * s[k] = e^(s[k] − max) for k in [from, to) (whole vectors: {@code to − from} a multiple of the length), returning
     * their sum ({@link VectorOps#sum} of the lane-wise running sum): softmax's vector part, {@link #exp(float)}'s
     * operations lane by lane. Arrays in, not vectors: a vector exp called from softmax was not inlined once it had a
     * big compiled body of its own, and boxed every vector (docs/PERFORMANCE.md, "Same bits cold or warm").
     */
    public static float expShiftedSum(float[] s, int from, int to, float max) {
        FloatVector sv = FloatVector.zero(VectorOps.F);
        for (int k = from; k < to; k += VectorOps.F.length()) {
            FloatVector x0 = FV.cast(FloatVector.fromArray(VectorOps.F, s, k).sub(max));
            FloatVector x = FV.cast(x0.max(EXP_LO).min(EXP_HI));
            FloatVector t = FV.cast(x.fma(LOG2E, ROUND));
            FloatVector n = t.sub(ROUND);
            FloatVector r = n.fma(FloatVector.broadcast(VectorOps.F, -LN2_HI), x);
            r = FV.cast(n.fma(FloatVector.broadcast(VectorOps.F, LN2_LO), r));
            FloatVector p = r.fma(E5, E4).fma(r, FloatVector.broadcast(VectorOps.F, E3)).fma(r, FloatVector.broadcast(VectorOps.F, E2))
                    .fma(r, FloatVector.broadcast(VectorOps.F, E1)).fma(r, FloatVector.broadcast(VectorOps.F, E0));
            p = FV.cast(p.fma(r.mul(r), r).add(1f));
            FloatVector scale = FV.cast(IV.cast(t.reinterpretAsInts()).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
            FloatVector e = FV.cast(p.mul(scale).blend(0f, x0.lt(EXP_LO)));
            e.intoArray(s, k);
            sv = FV.cast(e.add(sv));
        }
        return VectorOps.sum(sv);
    }

    /** e^x (0 below −87.34, saturating above 88.37; Jemma calls it with x ≤ 0). */
    public static float exp(float x0) {
        float x = Math.min(Math.max(x0, EXP_LO), EXP_HI);
        float t = Math.fma(x, LOG2E, ROUND);
        float n = t - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, LN2_LO, r);
        float p = Math.fma(r, E5, E4);
        p = Math.fma(p, r, E3);
        p = Math.fma(p, r, E2);
        p = Math.fma(p, r, E1);
        p = Math.fma(p, r, E0);
        p = Math.fma(p, r * r, r) + 1f;
        float scale = Float.intBitsToFloat((Float.floatToRawIntBits(t) + 127) << 23);
        return x0 < EXP_LO ? 0f : p * scale;
    }

    /**
     * g[gOff + i] = gelu_tanh(g[gOff + i]) · u[uOff + i] for i < n, or without the product when {@code u} is null (HF's
     * gelu_pytorch_tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))); the vector part with {@link #tanh(float)}'s
     * operations lane by lane, the tail with {@link #tanh(float)} itself, so every value gets the same bits. Arrays in,
     * for the reason {@link #expShiftedSum} takes them.
     */
    public static void geluTanh(float[] g, int gOff, float[] u, int uOff, int n) {
        int i = 0;
        for (; i + VectorOps.F.length() <= n; i += VectorOps.F.length()) {
            FloatVector x = FV.cast(FloatVector.fromArray(VectorOps.F, g, gOff + i));
            FloatVector y = FV.cast(FV.cast(FV.cast(x.mul(x)).mul(0.044715f * SQRT_2_OVER_PI)).add(SQRT_2_OVER_PI)).mul(x);
            // tanh(y), as tanh(float)
            FloatVector a = FV.cast(FV.cast(y).abs());
            FloatVector z = FV.cast(a.mul(a));
            FloatVector p = FV.cast(z.fma(T4, T3));
            p = FV.cast(p.fma(z, FloatVector.broadcast(VectorOps.F, T2)));
            p = FV.cast(p.fma(z, FloatVector.broadcast(VectorOps.F, T1)));
            p = FV.cast(p.fma(z, FloatVector.broadcast(VectorOps.F, T0)));
            FloatVector small = FV.cast(FV.cast(a.mul(z)).fma(p, a));
            // e^(2|y|), as exp(float)
            FloatVector x0 = FV.cast(a.mul(2f));
            FloatVector xe = FV.cast(x0.max(EXP_LO).min(EXP_HI));
            FloatVector t = FV.cast(xe.fma(LOG2E, ROUND));
            FloatVector nn = t.sub(ROUND);
            FloatVector r = nn.fma(FloatVector.broadcast(VectorOps.F, -LN2_HI), xe);
            r = FV.cast(nn.fma(FloatVector.broadcast(VectorOps.F, LN2_LO), r));
            FloatVector q = r.fma(E5, E4).fma(r, FloatVector.broadcast(VectorOps.F, E3)).fma(r, FloatVector.broadcast(VectorOps.F, E2))
                    .fma(r, FloatVector.broadcast(VectorOps.F, E1)).fma(r, FloatVector.broadcast(VectorOps.F, E0));
            q = FV.cast(q.fma(r.mul(r), r).add(1f));
            FloatVector scale = FV.cast(IV.cast(t.reinterpretAsInts()).add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
            FloatVector e = FV.cast(FV.cast(q.mul(scale)).blend(0f, x0.lt(EXP_LO)));
            FloatVector big = FV.cast(FloatVector.broadcast(VectorOps.F, 1f).sub(FV.cast(FloatVector.broadcast(VectorOps.F, 2f)
                    .div(FV.cast(e.add(1f))))));
            FloatVector th = FV.cast(big.blend(small, a.lt(TANH_SMALL)));
            th = FV.cast(th.blend(FV.cast(th.neg()), y.lt(0f)));
            FloatVector out = FV.cast(FV.cast(th.add(1f)).mul(x)).mul(0.5f);
            if (u != null) out = FV.cast(out).mul(FloatVector.fromArray(VectorOps.F, u, uOff + i));
            out.intoArray(g, gOff + i);
        }
        for (; i < n; i++) {
            float x = g[gOff + i];
            float v = (tanh((x * x * (0.044715f * SQRT_2_OVER_PI) + SQRT_2_OVER_PI) * x) + 1f) * x * 0.5f;
            g[gOff + i] = u != null ? v * u[uOff + i] : v;
        }
    }

    /** tanh(y). */
    public static float tanh(float y) {
        float a = Math.abs(y);
        float z = a * a;
        float p = Math.fma(z, T4, T3);
        p = Math.fma(p, z, T2);
        p = Math.fma(p, z, T1);
        p = Math.fma(p, z, T0);
        float t = a < TANH_SMALL ? Math.fma(a * z, p, a) : 1f - 2f / (exp(a * 2f) + 1f);
        return y < 0f ? -t : t;
    }
}
