package dev.jemma.core.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * f32 register-tiled micro-kernels for prefill: a tile of decoded weight rows times a tile of tokens, the
 * accumulators held in local variables (an array of vectors would live in memory and run ~10× slower). Each
 * weight vector loaded is used for 4 tokens and each activation vector for 4 rows, so the loop is bound by FMA
 * throughput, not by loads. Written over {@link VectorWidth#F}; the columns left over after the last full vector (fewer
 * than {@link VectorWidth#FLOATS}) are summed by a scalar tail. A 4×4 tile needs 21 vector registers (16 accumulators,
 * 4 activations, a weight): AVX-512 has 32, AVX2 and SSE 16, so below 512 bits the tile runs as two 2×4 tiles
 * (8 + 4 + 1), which compute every output with the same operations in the same order.
 */
final class Gemm {
    private static final VectorSpecies<Float> F = VectorWidth.F;

    private Gemm() {
    }

    /**
     * c[t][r] += Σ_k a[r·k0 ..] · x[t ..] for 4 rows (a0..a3 are offsets into {@code a}) and 4 tokens (x0..x3 are
     * offsets into {@code x}) over {@code n} columns; results added into out[o_t + r].
     */
    static void k4x4(float[] a, int a0, int a1, int a2, int a3, float[] x, int x0, int x1, int x2, int x3, int n,
                     float[] out, int o0, int o1, int o2, int o3) {
        if (VectorWidth.BITS < 512) { // a constant: C2 compiles one of the two paths
            k2x4(a, a0, a1, x, x0, x1, x2, x3, n, out, o0, o1, o2, o3);
            k2x4(a, a2, a3, x, x0, x1, x2, x3, n, out, o0 + 2, o1 + 2, o2 + 2, o3 + 2);
            return;
        }
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00,
                c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int k = 0;
        int step = F.length();
        for (; k + step <= n; k += step) {
            FloatVector b0 = FloatVector.fromArray(F, x, x0 + k), b1 = FloatVector.fromArray(F, x, x1 + k);
            FloatVector b2 = FloatVector.fromArray(F, x, x2 + k), b3 = FloatVector.fromArray(F, x, x3 + k);
            FloatVector w = FloatVector.fromArray(F, a, a0 + k);
            c00 = w.fma(b0, c00); c01 = w.fma(b1, c01); c02 = w.fma(b2, c02); c03 = w.fma(b3, c03);
            w = FloatVector.fromArray(F, a, a1 + k);
            c10 = w.fma(b0, c10); c11 = w.fma(b1, c11); c12 = w.fma(b2, c12); c13 = w.fma(b3, c13);
            w = FloatVector.fromArray(F, a, a2 + k);
            c20 = w.fma(b0, c20); c21 = w.fma(b1, c21); c22 = w.fma(b2, c22); c23 = w.fma(b3, c23);
            w = FloatVector.fromArray(F, a, a3 + k);
            c30 = w.fma(b0, c30); c31 = w.fma(b1, c31); c32 = w.fma(b2, c32); c33 = w.fma(b3, c33);
        }
        out[o0] += VectorWidth.sum(c00) + tail(a, a0, x, x0, k, n);
        out[o1] += VectorWidth.sum(c01) + tail(a, a0, x, x1, k, n);
        out[o2] += VectorWidth.sum(c02) + tail(a, a0, x, x2, k, n);
        out[o3] += VectorWidth.sum(c03) + tail(a, a0, x, x3, k, n);
        out[o0 + 1] += VectorWidth.sum(c10) + tail(a, a1, x, x0, k, n);
        out[o1 + 1] += VectorWidth.sum(c11) + tail(a, a1, x, x1, k, n);
        out[o2 + 1] += VectorWidth.sum(c12) + tail(a, a1, x, x2, k, n);
        out[o3 + 1] += VectorWidth.sum(c13) + tail(a, a1, x, x3, k, n);
        out[o0 + 2] += VectorWidth.sum(c20) + tail(a, a2, x, x0, k, n);
        out[o1 + 2] += VectorWidth.sum(c21) + tail(a, a2, x, x1, k, n);
        out[o2 + 2] += VectorWidth.sum(c22) + tail(a, a2, x, x2, k, n);
        out[o3 + 2] += VectorWidth.sum(c23) + tail(a, a2, x, x3, k, n);
        out[o0 + 3] += VectorWidth.sum(c30) + tail(a, a3, x, x0, k, n);
        out[o1 + 3] += VectorWidth.sum(c31) + tail(a, a3, x, x1, k, n);
        out[o2 + 3] += VectorWidth.sum(c32) + tail(a, a3, x, x2, k, n);
        out[o3 + 3] += VectorWidth.sum(c33) + tail(a, a3, x, x3, k, n);
    }

    /** Two rows (offsets a0, a1) against 4 tokens; results added into out[o_t], out[o_t + 1]. */
    static void k2x4(float[] a, int a0, int a1, float[] x, int x0, int x1, int x2, int x3, int n,
                     float[] out, int o0, int o1, int o2, int o3) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        int k = 0;
        int step = F.length();
        for (; k + step <= n; k += step) {
            FloatVector b0 = FloatVector.fromArray(F, x, x0 + k), b1 = FloatVector.fromArray(F, x, x1 + k);
            FloatVector b2 = FloatVector.fromArray(F, x, x2 + k), b3 = FloatVector.fromArray(F, x, x3 + k);
            FloatVector w = FloatVector.fromArray(F, a, a0 + k);
            c00 = w.fma(b0, c00); c01 = w.fma(b1, c01); c02 = w.fma(b2, c02); c03 = w.fma(b3, c03);
            w = FloatVector.fromArray(F, a, a1 + k);
            c10 = w.fma(b0, c10); c11 = w.fma(b1, c11); c12 = w.fma(b2, c12); c13 = w.fma(b3, c13);
        }
        out[o0] += VectorWidth.sum(c00) + tail(a, a0, x, x0, k, n);
        out[o1] += VectorWidth.sum(c01) + tail(a, a0, x, x1, k, n);
        out[o2] += VectorWidth.sum(c02) + tail(a, a0, x, x2, k, n);
        out[o3] += VectorWidth.sum(c03) + tail(a, a0, x, x3, k, n);
        out[o0 + 1] += VectorWidth.sum(c10) + tail(a, a1, x, x0, k, n);
        out[o1 + 1] += VectorWidth.sum(c11) + tail(a, a1, x, x1, k, n);
        out[o2 + 1] += VectorWidth.sum(c12) + tail(a, a1, x, x2, k, n);
        out[o3 + 1] += VectorWidth.sum(c13) + tail(a, a1, x, x3, k, n);
    }

    /** One row against 4 tokens (row tails). */
    static void k1x4(float[] a, int a0, float[] x, int x0, int x1, int x2, int x3, int n,
                     float[] out, int o0, int o1, int o2, int o3) {
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        int k = 0;
        int step = F.length();
        for (; k + step <= n; k += step) {
            FloatVector w = FloatVector.fromArray(F, a, a0 + k);
            c0 = w.fma(FloatVector.fromArray(F, x, x0 + k), c0);
            c1 = w.fma(FloatVector.fromArray(F, x, x1 + k), c1);
            c2 = w.fma(FloatVector.fromArray(F, x, x2 + k), c2);
            c3 = w.fma(FloatVector.fromArray(F, x, x3 + k), c3);
        }
        out[o0] += VectorWidth.sum(c0) + tail(a, a0, x, x0, k, n);
        out[o1] += VectorWidth.sum(c1) + tail(a, a0, x, x1, k, n);
        out[o2] += VectorWidth.sum(c2) + tail(a, a0, x, x2, k, n);
        out[o3] += VectorWidth.sum(c3) + tail(a, a0, x, x3, k, n);
    }

    private static float tail(float[] a, int ao, float[] x, int xo, int k, int n) {
        float s = 0;
        for (; k < n; k++) s += a[ao + k] * x[xo + k];
        return s;
    }
}
