package dev.jemma.core.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import dev.jemma.core.tensor.LaneSum;

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

    /** Floats of the {@code acc} scratch a kernel call needs: one vector per accumulator of the largest (4×4) tile. */
    static final int ACC_FLOATS = 16 * VectorWidth.FLOATS;

    /**
     * c[t][r] += Σ_k a[r·k0 ..] · x[t ..] for 4 rows (a0..a3 are offsets into {@code a}) and 4 tokens (x0..x3 are
     * offsets into {@code x}) over {@code n} columns; results added into out[o_t + r]. {@code acc[accOff ..]} is
     * {@link #ACC_FLOATS} floats of scratch for the accumulators' lane sums ({@link #finish}).
     */
    static void k4x4(float[] a, int a0, int a1, int a2, int a3, float[] x, int x0, int x1, int x2, int x3, int n,
                     float[] out, int o0, int o1, int o2, int o3, float[] acc, int accOff) {
        if (VectorWidth.BITS < 512) { // a constant: C2 compiles one of the two paths
            k2x4(a, a0, a1, x, x0, x1, x2, x3, n, out, o0, o1, o2, o3, acc, accOff);
            k2x4(a, a2, a3, x, x0, x1, x2, x3, n, out, o0 + 2, o1 + 2, o2 + 2, o3 + 2, acc, accOff);
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
        int l = step;
        c00.intoArray(acc, accOff); c01.intoArray(acc, accOff + l); c02.intoArray(acc, accOff + 2 * l); c03.intoArray(acc, accOff + 3 * l);
        c10.intoArray(acc, accOff + 4 * l); c11.intoArray(acc, accOff + 5 * l); c12.intoArray(acc, accOff + 6 * l); c13.intoArray(acc, accOff + 7 * l);
        c20.intoArray(acc, accOff + 8 * l); c21.intoArray(acc, accOff + 9 * l); c22.intoArray(acc, accOff + 10 * l); c23.intoArray(acc, accOff + 11 * l);
        c30.intoArray(acc, accOff + 12 * l); c31.intoArray(acc, accOff + 13 * l); c32.intoArray(acc, accOff + 14 * l); c33.intoArray(acc, accOff + 15 * l);
        finish(4, a, a0, a1, a2, a3, x, x0, x1, x2, x3, k, n, out, o0, o1, o2, o3, acc, accOff);
    }

    /** Two rows (offsets a0, a1) against 4 tokens; results added into out[o_t], out[o_t + 1]. */
    static void k2x4(float[] a, int a0, int a1, float[] x, int x0, int x1, int x2, int x3, int n,
                     float[] out, int o0, int o1, int o2, int o3, float[] acc, int accOff) {
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
        int l = step;
        c00.intoArray(acc, accOff); c01.intoArray(acc, accOff + l); c02.intoArray(acc, accOff + 2 * l); c03.intoArray(acc, accOff + 3 * l);
        c10.intoArray(acc, accOff + 4 * l); c11.intoArray(acc, accOff + 5 * l); c12.intoArray(acc, accOff + 6 * l); c13.intoArray(acc, accOff + 7 * l);
        finish(2, a, a0, a1, a0, a0, x, x0, x1, x2, x3, k, n, out, o0, o1, o2, o3, acc, accOff);
    }

    /** One row against 4 tokens (row tails). */
    static void k1x4(float[] a, int a0, float[] x, int x0, int x1, int x2, int x3, int n,
                     float[] out, int o0, int o1, int o2, int o3, float[] acc, int accOff) {
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
        int l = step;
        c0.intoArray(acc, accOff); c1.intoArray(acc, accOff + l); c2.intoArray(acc, accOff + 2 * l); c3.intoArray(acc, accOff + 3 * l);
        finish(1, a, a0, a0, a0, a0, x, x0, x1, x2, x3, k, n, out, o0, o1, o2, o3, acc, accOff);
    }

    /**
     * out[o_t + r] += Σ lanes of row r / token t's accumulator (stored at acc[accOff + (4r + t)·L]) + the scalar tail of
     * columns [k, n), for {@code rows} rows. The sums run in a loop over the stored accumulators, not once per local
     * vector: sixteen inlined {@link VectorWidth#sum} trees exceed C2's inlining node budget (NodeCountInliningCutoff),
     * and every sum left as a call boxed its vector — 85 GB of garbage per SigLIP image, 2026-12-07. A loop inlines
     * one tree (written out below); the same operations in the same order, so the same bits.
     */
    private static void finish(int rows, float[] a, int a0, int a1, int a2, int a3, float[] x, int x0, int x1, int x2, int x3,
                               int k, int n, float[] out, int o0, int o1, int o2, int o3, float[] acc, int accOff) {
        final int l = F.length();
        for (int j = 0; j < 4 * rows; j++) {
            int r = j >> 2, t = j & 3;
            int ar = r == 0 ? a0 : r == 1 ? a1 : r == 2 ? a2 : a3;
            int xt = t == 0 ? x0 : t == 1 ? x1 : t == 2 ? x2 : x3;
            int ot = t == 0 ? o0 : t == 1 ? o1 : t == 2 ? o2 : o3;
            // LaneSum's tree (VectorWidth.sum's operations in its order) written out, not called: C2 declined that
            // call here now and then ("low call site frequency", 256 bits), and a vector passed to a call that is not
            // inlined is boxed; the Vector API's own methods are always inlined
            FloatVector s = VectorWidth.FV.cast(FloatVector.fromArray(F, acc, accOff + j * l));
            if (l >= 2) s = VectorWidth.FV.cast(s.add(s.rearrange(P1)));
            if (l >= 4) s = VectorWidth.FV.cast(s.add(s.rearrange(P2)));
            if (l >= 8) s = VectorWidth.FV.cast(s.add(s.rearrange(P3)));
            if (l >= 16) s = VectorWidth.FV.cast(s.add(s.rearrange(P4)));
            out[ot + r] += s.lane(0) + tail(a, ar, x, xt, k, n);
        }
    }

    private static final VectorShuffle<Float> P1 = LaneSum.partner(F, 1), P2 = LaneSum.partner(F, 2),
            P3 = LaneSum.partner(F, 3), P4 = LaneSum.partner(F, 4);

    private static float tail(float[] a, int ao, float[] x, int xo, int k, int n) {
        float s = 0;
        for (; k < n; k++) s += a[ao + k] * x[xo + k];
        return s;
    }
}
