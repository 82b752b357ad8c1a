package dev.jemma.core.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

import static dev.jemma.core.tensor.kernels.VectorWidth.FV;
import static dev.jemma.core.tensor.kernels.VectorWidth.IV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SHV;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q4K_HEADER;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q4K_SB;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q4K_SUB;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q5K_HEADER;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q5K_SB;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q5K_SUB;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q6K_HEADER;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q6K_SB;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q6K_SUB;

/**
 * Q4_K, Q5_K and Q6_K over their {@link KQuantInterleaved} copies: single-token steps with int8 activations (the scheme of
 * {@link Int8Kernels}: 32 rows per vector of 16-bit lanes, exact integer sums per block) and exact f32 decoding into
 * {@link InterleavedGemm}'s tile for batches.
 *
 * <p>Q4_K: a 32-column sub-block contributes dx·(A·Σ q·xq − M·Σ xq) with A = d·sc, M = dmin·m. Σ q·xq is summed as
 * Q4_0's Σ (q − 8)·xq (exact in wrapping 16-bit arithmetic, started at −8·Σxq) and restored as + 8·Σxq, so the block
 * adds A·acc·dx + (8A − M)·dx·Σxq. Q6_K: values q − 32 with q < 64 times |xq| ≤ 127 overflow 16 bits over 16 columns,
 * so each 8 columns get their own 16-bit sum (within ±32512, started at −32·Σxq), added in f32 (exact for integers).
 */
public final class KQuantKernels {
    static final VectorSpecies<Short> S = VectorWidth.S;
    static final VectorSpecies<Short> SH = VectorWidth.SH;
    static final VectorSpecies<Float> F = VectorWidth.F;
    static final VectorSpecies<Integer> I = VectorWidth.I;
    /** Rows per slice of a group (see {@link Int8Kernels}): per-row 16-bit fields at +2·l0, f32 header fields at +4·l0. */
    static final int L = VectorWidth.SHORTS;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /**
     * Whether Q5_K's single-token kernel takes two slices per pass ({@link #q5kPairs}): at 256 bits only. At 128 bits C2
     * compiled it with boxed vectors under {@code -XX:-TieredCompilation -Xbatch} every time (24 KB per call), the
     * one-slice kernel never; see {@link Int8Kernels#PAIRS}.
     */
    static final boolean Q5K_PAIRS = L == 16;
    /** Whether Q6_K's single-token kernel takes two slices per pass ({@link #q6kPairs}): below 512 bits. */
    static final boolean Q6K_PAIRS = L < 32;

    private KQuantKernels() {
    }

    /** out[t·rows + r] = row r · token t for the rows of Q4_K groups [g0, g1) ({@code nb} 32-column blocks per row). */
    public static void q4k(MemorySegment w, int g0, int g1, int rows, int nb, QuantizedActivations a, int t, float[] out) {
        q4k(w, g0, g1, rows, nb, a.q, a.d, a.q4Bias, t * a.cols, t * nb, out, t * rows);
    }

    private static void q4k(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] bias, int xt, int dt,
                            float[] out, int ot) {
        int gi = g0;
        // two groups at a time share each broadcast activation; a last odd group runs alone. (Tried for Q4_0 too: faster,
        // but C2 needed 26 MB of compiler memory for it, which put 1B Q4_0 over its peak-RSS budget.)
        for (; gi + 1 < g1 && rows - (gi + 1) * Interleaved.ROWS >= 32; gi += 2) q4kTwo(w, gi, nb, xq, xd, bias, xt, dt, out, ot);
        q4kOne(w, gi, g1, rows, nb, xq, xd, bias, xt, dt, out, ot);
    }

    /** Groups gi and gi + 1 (both full) of a Q4_K matrix, one pass over the activations. */
    private static void q4kTwo(MemorySegment w, int gi, int nb, short[] xq, float[] xd, short[] bias, int xt, int dt,
                               float[] out, int ot) {
        final int nsb = nb / 8;
        final long gBytes = (long) nsb * Q4K_SB;
        final long ga = gi * gBytes, gb = ga + gBytes;
        final int o = ot + gi * Interleaved.ROWS;
        for (int sl = 0; sl < Interleaved.ROWS; sl += L) { // slices of L rows
            FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), u0 = FloatVector.zero(F), u1 = FloatVector.zero(F);
            for (int sb = 0; sb < nsb; sb++) {
                long ha = ga + (long) sb * Q4K_SB + 4 * sl, hb = gb + (long) sb * Q4K_SB + 4 * sl;
                for (int j = 0; j < 8; j++) {
                    long ta = ha - 2 * sl + Q4K_HEADER + (long) j * Q4K_SUB, tb = hb - 2 * sl + Q4K_HEADER + (long) j * Q4K_SUB;
                    int b = 8 * sb + j, xo = xt + 32 * b;
                    short bs = bias[dt + b];
                    ShortVector acc = ShortVector.broadcast(S, bs), acd = acc;
                    for (int qd = 0; qd < 8; qd++) {
                        ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                        ShortVector e = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));
                        int x = xo + 2 * qd;
                        short x0 = xq[x], x1 = xq[x + 16], x2 = xq[x + 1], x3 = xq[x + 17];
                        acc = (v.and((short) 0xF).mul(x0)).add(acc);
                        acd = (e.and((short) 0xF).mul(x0)).add(acd);
                        acc = (v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(x1)).add(acc);
                        acd = (e.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(x1)).add(acd);
                        acc = (v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(x2)).add(acc);
                        acd = (e.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(x2)).add(acd);
                        acc = (v.lanewise(VectorOperators.LSHR, 12).mul(x3)).add(acc);
                        acd = (e.lanewise(VectorOperators.LSHR, 12).mul(x3)).add(acd);
                    }
                    // in place, not in helpers (see q4kOne); per group: A = d·sc, K = dmin·m, sum += dx·(A·S + (8A − K)·Σx)
                    float dx = xd[dt + b], xs = dx * (-bs >> 3);
                    FloatVector vdx = FloatVector.broadcast(F, dx), vxs = FloatVector.broadcast(F, xs);
                    ShortVector sm = SV.cast(ShortVector.fromMemorySegment(S, w, ta, LE));
                    ShortVector sc = sm.and((short) 0xff), mn = sm.lanewise(VectorOperators.LSHR, 8);
                    FloatVector a0 = FV.cast(FloatVector.fromMemorySegment(F, w, ha, LE)).mul(FV.cast(sc.convertShape(VectorOperators.S2F, F, 0)));
                    FloatVector a1 = FV.cast(FloatVector.fromMemorySegment(F, w, ha + 2 * L, LE)).mul(FV.cast(sc.convertShape(VectorOperators.S2F, F, 1)));
                    FloatVector k0 = FV.cast(FloatVector.fromMemorySegment(F, w, ha + 128, LE)).mul(FV.cast(mn.convertShape(VectorOperators.S2F, F, 0)));
                    FloatVector k1 = FV.cast(FloatVector.fromMemorySegment(F, w, ha + 128 + 2 * L, LE)).mul(FV.cast(mn.convertShape(VectorOperators.S2F, F, 1)));
                    s0 = FV.cast(SV.cast(acc).convertShape(VectorOperators.S2F, F, 0)).mul(a0).fma(vdx, s0);
                    s1 = FV.cast(SV.cast(acc).convertShape(VectorOperators.S2F, F, 1)).mul(a1).fma(vdx, s1);
                    s0 = a0.mul(8f).sub(k0).fma(vxs, s0);
                    s1 = a1.mul(8f).sub(k1).fma(vxs, s1);
                    ShortVector sn = SV.cast(ShortVector.fromMemorySegment(S, w, tb, LE));
                    ShortVector sd = sn.and((short) 0xff), md = sn.lanewise(VectorOperators.LSHR, 8);
                    FloatVector c0 = FV.cast(FloatVector.fromMemorySegment(F, w, hb, LE)).mul(FV.cast(sd.convertShape(VectorOperators.S2F, F, 0)));
                    FloatVector c1 = FV.cast(FloatVector.fromMemorySegment(F, w, hb + 2 * L, LE)).mul(FV.cast(sd.convertShape(VectorOperators.S2F, F, 1)));
                    FloatVector l0 = FV.cast(FloatVector.fromMemorySegment(F, w, hb + 128, LE)).mul(FV.cast(md.convertShape(VectorOperators.S2F, F, 0)));
                    FloatVector l1 = FV.cast(FloatVector.fromMemorySegment(F, w, hb + 128 + 2 * L, LE)).mul(FV.cast(md.convertShape(VectorOperators.S2F, F, 1)));
                    u0 = FV.cast(SV.cast(acd).convertShape(VectorOperators.S2F, F, 0)).mul(c0).fma(vdx, u0);
                    u1 = FV.cast(SV.cast(acd).convertShape(VectorOperators.S2F, F, 1)).mul(c1).fma(vdx, u1);
                    u0 = c0.mul(8f).sub(l0).fma(vxs, u0);
                    u1 = c1.mul(8f).sub(l1).fma(vxs, u1);
                }
            }
            FV.cast(s0).intoArray(out, o + sl);
            FV.cast(s1).intoArray(out, o + sl + L / 2);
            FV.cast(u0).intoArray(out, o + 32 + sl);
            FV.cast(u1).intoArray(out, o + 32 + sl + L / 2);
        }
    }

    /** Groups [g0, g1) one at a time (the last group may be partial). */
    private static void q4kOne(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] bias, int xt, int dt,
                               float[] out, int ot) {
        final int nsb = nb / 8;
        final long gBytes = (long) nsb * Q4K_SB;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            for (int sl = 0; sl < Interleaved.ROWS; sl += L) { // slices of L rows: see Int8Kernels.q4
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
                for (int sb = 0; sb < nsb; sb++) {
                    long h = g + (long) sb * Q4K_SB + 4 * sl;
                    FloatVector d0 = FV.cast(FloatVector.fromMemorySegment(F, w, h, LE)), d1 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 2 * L, LE));
                    FloatVector m0 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 128, LE)), m1 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 128 + 2 * L, LE));
                    for (int j = 0; j < 8; j++) {
                        long tile = h - 2 * sl + Q4K_HEADER + (long) j * Q4K_SUB;
                        int b = 8 * sb + j, xo = xt + 32 * b;
                        short bs = bias[dt + b];
                        ShortVector acc = ShortVector.broadcast(S, bs);
                        for (int qd = 0; qd < 8; qd++) {
                            ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * qd, LE));
                            int x = xo + 2 * qd;
                            ShortVector n0 = v.and((short) 0xF);
                            ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                            ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                            ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12);
                            acc = (n0.mul(xq[x])).add(acc);
                            acc = (n1.mul(xq[x + 16])).add(acc);
                            acc = (n2.mul(xq[x + 1])).add(acc);
                            acc = (n3.mul(xq[x + 17])).add(acc);
                        }
                        // written out in place, not in helpers: see Int8Kernels.q4 (C2 boxes vectors across calls it does not inline)
                        ShortVector sm = SV.cast(ShortVector.fromMemorySegment(S, w, tile, LE));
                        ShortVector sc = sm.and((short) 0xff), mn = sm.lanewise(VectorOperators.LSHR, 8);
                        FloatVector a0 = d0.mul(FV.cast(sc.convertShape(VectorOperators.S2F, F, 0)));
                        FloatVector a1 = d1.mul(FV.cast(sc.convertShape(VectorOperators.S2F, F, 1)));
                        FloatVector k0 = m0.mul(FV.cast(mn.convertShape(VectorOperators.S2F, F, 0)));
                        FloatVector k1 = m1.mul(FV.cast(mn.convertShape(VectorOperators.S2F, F, 1)));
                        FloatVector c0 = FV.cast(SV.cast(acc).convertShape(VectorOperators.S2F, F, 0));
                        FloatVector c1 = FV.cast(SV.cast(acc).convertShape(VectorOperators.S2F, F, 1));
                        float dx = xd[dt + b], xs = dx * (-bs >> 3);
                        s0 = c0.mul(a0).fma(FloatVector.broadcast(F, dx), s0);
                        s1 = c1.mul(a1).fma(FloatVector.broadcast(F, dx), s1);
                        s0 = a0.mul(8f).sub(k0).fma(FloatVector.broadcast(F, xs), s0);
                        s1 = a1.mul(8f).sub(k1).fma(FloatVector.broadcast(F, xs), s1);
                    }
                }
                if (rows - r0 >= 32) { // in place: see Int8Kernels.q4
                    FV.cast(s0).intoArray(out, o + sl);
                    FV.cast(s1).intoArray(out, o + sl + L / 2);
                } else {
                    FV.cast(s0).intoArray(out, o + sl, F.indexInRange(sl, rows - r0));
                    FV.cast(s1).intoArray(out, o + sl + L / 2, F.indexInRange(sl + L / 2, rows - r0));
                }
            }
        }
    }

    /**
     * {@link #q4k} for Q5_K groups: values 0..31 in Q5_0's layout, summed per half-block as Q5_0's (n − 16)·xq from the
     * start values −16·Σxq, so Σ q·xq = lo + hi + 16·Σxq and a block adds A·(lo + hi)·dx + (16A − M)·dx·Σxq.
     */
    public static void q5k(MemorySegment w, int g0, int g1, int rows, int nb, QuantizedActivations a, int t, float[] out) {
        // one slice per pass at 512 and 128 bits, two at 256 (Q5K_PAIRS)
        if (!Q5K_PAIRS) q5k(w, g0, g1, rows, nb, a.q, a.d, a.q4Bias, a.q5BiasLo, a.q5BiasHi, t * a.cols, t * nb, out, t * rows);
        else q5kPairs(w, g0, g1, rows, nb, a.q, a.d, a.q4Bias, a.q5BiasLo, a.q5BiasHi, t * a.cols, t * nb, out, t * rows);
    }

    /**
     * {@link #q5k} below 512 bits: slices sl and sl + L in one pass (each broadcast activation feeds two multiplies), as
     * {@link Int8Kernels}' Q5_0 pairs. The super-block's f32 scales and mins are read per sub-block (from L1) rather than
     * kept in registers across it, which 16 registers cannot hold for two slices; the arithmetic is the one-slice
     * kernel's, so the result is bit-identical (TwoSlicePassTest).
     */
    static void q5kPairs(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] bias4, short[] biasLo,
                         short[] biasHi, int xt, int dt, float[] out, int ot) {
        final int nsb = nb / 8;
        final long gBytes = (long) nsb * Q5K_SB;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            for (int sl = 0; sl < Interleaved.ROWS; sl += 2 * L) {
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), u0 = FloatVector.zero(F), u1 = FloatVector.zero(F);
                for (int sb = 0; sb < nsb; sb++) {
                    long h = g + (long) sb * Q5K_SB + 4 * sl;
                    for (int j = 0; j < 8; j++) {
                        long tile = h - 2 * sl + Q5K_HEADER + (long) j * Q5K_SUB;
                        int b = 8 * sb + j, xo = xt + 32 * b;
                        ShortVector accL = ShortVector.broadcast(S, biasLo[dt + b]), acdL = accL;
                        for (int k = 0; k < 5; k++) {
                            ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * k, LE));
                            ShortVector e = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * k + 2 * L, LE));
                            int x = xo + 3 * k;
                            short x0 = xq[x], x1 = xq[x + 1], x2 = xq[x + 2];
                            accL = (v.and((short) 31).mul(x0)).add(accL);
                            acdL = (e.and((short) 31).mul(x0)).add(acdL);
                            accL = (v.lanewise(VectorOperators.LSHR, 5).and((short) 31).mul(x1)).add(accL);
                            acdL = (e.lanewise(VectorOperators.LSHR, 5).and((short) 31).mul(x1)).add(acdL);
                            accL = (v.lanewise(VectorOperators.LSHR, 10).mul(x2)).add(accL);
                            acdL = (e.lanewise(VectorOperators.LSHR, 10).mul(x2)).add(acdL);
                        }
                        ShortVector accH = ShortVector.broadcast(S, biasHi[dt + b]), acdH = accH;
                        for (int k = 0; k < 5; k++) {
                            ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 448 + 64L * k, LE));
                            ShortVector e = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 448 + 64L * k + 2 * L, LE));
                            int x = xo + 16 + 3 * k;
                            short x0 = xq[x], x1 = xq[x + 1], x2 = xq[x + 2];
                            accH = (v.and((short) 31).mul(x0)).add(accH);
                            acdH = (e.and((short) 31).mul(x0)).add(acdH);
                            accH = (v.lanewise(VectorOperators.LSHR, 5).and((short) 31).mul(x1)).add(accH);
                            acdH = (e.lanewise(VectorOperators.LSHR, 5).and((short) 31).mul(x1)).add(acdH);
                            accH = (v.lanewise(VectorOperators.LSHR, 10).mul(x2)).add(accH);
                            acdH = (e.lanewise(VectorOperators.LSHR, 10).mul(x2)).add(acdH);
                        }
                        ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * 5, LE)); // columns 15 and 31
                        ShortVector e = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * 5 + 2 * L, LE));
                        short x15 = xq[xo + 15], x31 = xq[xo + 31];
                        accL = (v.and((short) 31).mul(x15)).add(accL);
                        acdL = (e.and((short) 31).mul(x15)).add(acdL);
                        accH = (v.lanewise(VectorOperators.LSHR, 5).mul(x31)).add(accH);
                        acdH = (e.lanewise(VectorOperators.LSHR, 5).mul(x31)).add(acdH);
                        // in place (see q4kOne); slice sl's header fields at h, slice sl + L's at h + 4L
                        float dx = xd[dt + b], xs = dx * (-bias4[dt + b] >> 3);
                        FloatVector vdx = FloatVector.broadcast(F, dx), vxs = FloatVector.broadcast(F, xs);
                        ShortVector sm = SV.cast(ShortVector.fromMemorySegment(S, w, tile, LE));
                        ShortVector sc = sm.and((short) 0xff), mn = sm.lanewise(VectorOperators.LSHR, 8);
                        FloatVector a0 = FV.cast(FloatVector.fromMemorySegment(F, w, h, LE)).mul(FV.cast(sc.convertShape(VectorOperators.S2F, F, 0)));
                        FloatVector a1 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 2 * L, LE)).mul(FV.cast(sc.convertShape(VectorOperators.S2F, F, 1)));
                        FloatVector k0 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 128, LE)).mul(FV.cast(mn.convertShape(VectorOperators.S2F, F, 0)));
                        FloatVector k1 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 128 + 2 * L, LE)).mul(FV.cast(mn.convertShape(VectorOperators.S2F, F, 1)));
                        FloatVector c0 = FV.cast(SV.cast(accL).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(accH).convertShape(VectorOperators.S2F, F, 0)));
                        FloatVector c1 = FV.cast(SV.cast(accL).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(accH).convertShape(VectorOperators.S2F, F, 1)));
                        s0 = c0.mul(a0).fma(vdx, s0);
                        s1 = c1.mul(a1).fma(vdx, s1);
                        s0 = a0.mul(16f).sub(k0).fma(vxs, s0);
                        s1 = a1.mul(16f).sub(k1).fma(vxs, s1);
                        ShortVector sn = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 2 * L, LE));
                        ShortVector sd = sn.and((short) 0xff), md = sn.lanewise(VectorOperators.LSHR, 8);
                        FloatVector e0 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 4 * L, LE)).mul(FV.cast(sd.convertShape(VectorOperators.S2F, F, 0)));
                        FloatVector e1 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 6 * L, LE)).mul(FV.cast(sd.convertShape(VectorOperators.S2F, F, 1)));
                        FloatVector l0 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 128 + 4 * L, LE)).mul(FV.cast(md.convertShape(VectorOperators.S2F, F, 0)));
                        FloatVector l1 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 128 + 6 * L, LE)).mul(FV.cast(md.convertShape(VectorOperators.S2F, F, 1)));
                        FloatVector f0 = FV.cast(SV.cast(acdL).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(acdH).convertShape(VectorOperators.S2F, F, 0)));
                        FloatVector f1 = FV.cast(SV.cast(acdL).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(acdH).convertShape(VectorOperators.S2F, F, 1)));
                        u0 = f0.mul(e0).fma(vdx, u0);
                        u1 = f1.mul(e1).fma(vdx, u1);
                        u0 = e0.mul(16f).sub(l0).fma(vxs, u0);
                        u1 = e1.mul(16f).sub(l1).fma(vxs, u1);
                    }
                }
                if (rows - r0 >= 32) { // in place: see Int8Kernels.q4
                    FV.cast(s0).intoArray(out, o + sl);
                    FV.cast(s1).intoArray(out, o + sl + L / 2);
                    FV.cast(u0).intoArray(out, o + sl + L);
                    FV.cast(u1).intoArray(out, o + sl + L + L / 2);
                } else {
                    FV.cast(s0).intoArray(out, o + sl, F.indexInRange(sl, rows - r0));
                    FV.cast(s1).intoArray(out, o + sl + L / 2, F.indexInRange(sl + L / 2, rows - r0));
                    FV.cast(u0).intoArray(out, o + sl + L, F.indexInRange(sl + L, rows - r0));
                    FV.cast(u1).intoArray(out, o + sl + L + L / 2, F.indexInRange(sl + L + L / 2, rows - r0));
                }
            }
        }
    }

    static void q5k(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] bias4, short[] biasLo,
                            short[] biasHi, int xt, int dt, float[] out, int ot) {
        final int nsb = nb / 8;
        final long gBytes = (long) nsb * Q5K_SB;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            for (int sl = 0; sl < Interleaved.ROWS; sl += L) { // slices of L rows: see Int8Kernels.q4
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
                for (int sb = 0; sb < nsb; sb++) {
                    long h = g + (long) sb * Q5K_SB + 4 * sl;
                    FloatVector d0 = FV.cast(FloatVector.fromMemorySegment(F, w, h, LE)), d1 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 2 * L, LE));
                    FloatVector m0 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 128, LE)), m1 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 128 + 2 * L, LE));
                    for (int j = 0; j < 8; j++) {
                        long tile = h - 2 * sl + Q5K_HEADER + (long) j * Q5K_SUB;
                        int b = 8 * sb + j, xo = xt + 32 * b;
                        ShortVector accL = ShortVector.broadcast(S, biasLo[dt + b]);
                        ShortVector accH = ShortVector.broadcast(S, biasHi[dt + b]);
                        for (int k = 0; k < 5; k++) {
                            ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * k, LE));
                            int x = xo + 3 * k;
                            accL = (v.and((short) 31).mul(xq[x])).add(accL);
                            accL = (v.lanewise(VectorOperators.LSHR, 5).and((short) 31).mul(xq[x + 1])).add(accL);
                            accL = (v.lanewise(VectorOperators.LSHR, 10).mul(xq[x + 2])).add(accL);
                        }
                        for (int k = 0; k < 5; k++) {
                            ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 448 + 64L * k, LE));
                            int x = xo + 16 + 3 * k;
                            accH = (u.and((short) 31).mul(xq[x])).add(accH);
                            accH = (u.lanewise(VectorOperators.LSHR, 5).and((short) 31).mul(xq[x + 1])).add(accH);
                            accH = (u.lanewise(VectorOperators.LSHR, 10).mul(xq[x + 2])).add(accH);
                        }
                        ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * 5, LE)); // columns 15 and 31
                        accL = (v.and((short) 31).mul(xq[xo + 15])).add(accL);
                        accH = (v.lanewise(VectorOperators.LSHR, 5).mul(xq[xo + 31])).add(accH);
                        ShortVector sm = SV.cast(ShortVector.fromMemorySegment(S, w, tile, LE));
                        ShortVector sc = sm.and((short) 0xff), mn = sm.lanewise(VectorOperators.LSHR, 8);
                        FloatVector a0 = d0.mul(FV.cast(sc.convertShape(VectorOperators.S2F, F, 0)));
                        FloatVector a1 = d1.mul(FV.cast(sc.convertShape(VectorOperators.S2F, F, 1)));
                        FloatVector k0 = m0.mul(FV.cast(mn.convertShape(VectorOperators.S2F, F, 0)));
                        FloatVector k1 = m1.mul(FV.cast(mn.convertShape(VectorOperators.S2F, F, 1)));
                        FloatVector c0 = FV.cast(SV.cast(accL).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(accH).convertShape(VectorOperators.S2F, F, 0)));
                        FloatVector c1 = FV.cast(SV.cast(accL).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(accH).convertShape(VectorOperators.S2F, F, 1)));
                        float dx = xd[dt + b], xs = dx * (-bias4[dt + b] >> 3);
                        s0 = c0.mul(a0).fma(FloatVector.broadcast(F, dx), s0);
                        s1 = c1.mul(a1).fma(FloatVector.broadcast(F, dx), s1);
                        s0 = a0.mul(16f).sub(k0).fma(FloatVector.broadcast(F, xs), s0);
                        s1 = a1.mul(16f).sub(k1).fma(FloatVector.broadcast(F, xs), s1);
                    }
                }
                if (rows - r0 >= 32) { // in place: see Int8Kernels.q4
                    FV.cast(s0).intoArray(out, o + sl);
                    FV.cast(s1).intoArray(out, o + sl + L / 2);
                } else {
                    FV.cast(s0).intoArray(out, o + sl, F.indexInRange(sl, rows - r0));
                    FV.cast(s1).intoArray(out, o + sl + L / 2, F.indexInRange(sl + L / 2, rows - r0));
                }
            }
        }
    }

    /** {@link #q4k} for Q6_K groups. */
    public static void q6k(MemorySegment w, int g0, int g1, int rows, int nb, QuantizedActivations a, int t, float[] out) {
        // one slice per pass at 512 bits, two below (Q6K_PAIRS)
        if (!Q6K_PAIRS) q6k(w, g0, g1, rows, nb, a.q, a.d, a.q6Bias, t * a.cols, t * nb, out, t * rows);
        else q6kPairs(w, g0, g1, rows, nb, a.q, a.d, a.q6Bias, t * a.cols, t * nb, out, t * rows);
    }

    /** Per thread: where {@link #q6kPairSums} leaves its two 16-bit sum vectors for q6kPairs. */
    private static final ThreadLocal<short[]> Q6K_PAIR_SUMS = ThreadLocal.withInitial(() -> new short[8 * L]);

    /**
     * {@link #q6k} below 512 bits: slices sl and sl + L in one pass, so that each broadcast activation feeds two multiplies.
     * Each 8-column 16-bit sum is scaled as soon as it is made, s = fma(sum, (d·dx)·sc, s), where the one-slice kernel first
     * sums a sub-block in f32: 16 registers hold two slices' scales and sums only this way, and a sub-block sum carried
     * through the two-step half loop would be a loop-carried vector (boxed now and then). The halves stay a loop (written out
     * twice, the method grew past what C1 compiles). TwoSlicePassTest checks the result bit for bit against a scalar model of
     * these steps; no few-token kernel has to match it (Q6_K's are off below 512 bits).
     *
     * <p>Every vector whose upper half has to become f32 lanes (the scratch sums, the scale lanes) is loaded as two
     * half-width vectors ({@code SH}), each converted whole: at 256 bits {@code convertShape(S2F, F, 1)} on a full vector cost
     * C2 a lane permute, two byte shuffles and two blends. The same values in the same f32 operations, so the same bits
     * (docs/PERFORMANCE.md, "Gemma 3n E2B generation at 256 bits"). Since then too big for C1's profiled tier
     * at 256 bits ({@link KernelCompilation#EXCLUDED}).
     *
     * <p>Every load is cast to its exact class ({@code SV.cast}, {@code FV.cast}): C2 inlines some {@code fromMemorySegment} calls
     * late, after parsing, so at parse time their result is only a {@code ShortVector} and the methods called on it bind
     * from the JVM-wide receiver profile, as on a loop-carried vector; under {@code -XX:-TieredCompilation -Xbatch}
     * (BoxingRepro) the uncast loads of the first two vectors were boxed every step (221–295 KB per call at 256 bits,
     * 393 KB at 128 — what kept the earlier two-slice forms out), cast they are not (0 bytes at both widths).
     */
    static void q6kPairs(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] bias, int xt, int dt,
                         float[] out, int ot) {
        final int nsb = nb / 8;
        final long gBytes = (long) nsb * Q6K_SB;
        final short[] sums = Q6K_PAIR_SUMS.get();
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            for (int sl = 0; sl < Interleaved.ROWS; sl += 2 * L) {
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), u0 = FloatVector.zero(F), u1 = FloatVector.zero(F);
                for (int sb = 0; sb < nsb; sb++) {
                    long h = g + (long) sb * Q6K_SB + 4 * sl;
                    for (int j = 0; j < 8; j++) {
                        long tile = h - 2 * sl + Q6K_HEADER + (long) j * Q6K_SUB;
                        int b = 8 * sb + j, xo = xt + 32 * b, bi = 4 * (dt + b);
                        float dx = xd[dt + b];
                        // the block's 16-bit sums come back through the scratch: with them inline this method was too
                        // big for C1's profiled tier (docs/PERFORMANCE.md, "Boxed once in a whole-model step")
                        q6kPairSums(w, tile + 64, xq, xo, bias, bi, sums);
                        for (int part = 0; part < 2; part++) { // sub-block 0 (columns 0..15), then 1 (16..31)
                            // its int8 scale byte by shift counts (low byte for part 0, high for 1), not a vector ?:
                            int up = 8 - 8 * part;
                            // d·dx·sc per row of each slice; each half of a slice's scale lanes loaded on its own
                            FloatVector a0s = FV.cast(FloatVector.fromMemorySegment(F, w, h, LE)).mul(dx).mul(FV.cast(
                                    SHV.cast(ShortVector.fromMemorySegment(SH, w, tile, LE)).lanewise(VectorOperators.LSHL, up)
                                            .lanewise(VectorOperators.ASHR, 8).convertShape(VectorOperators.S2F, F, 0)));
                            FloatVector a1s = FV.cast(FloatVector.fromMemorySegment(F, w, h + 2 * L, LE)).mul(dx).mul(FV.cast(
                                    SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + L, LE)).lanewise(VectorOperators.LSHL, up)
                                            .lanewise(VectorOperators.ASHR, 8).convertShape(VectorOperators.S2F, F, 0)));
                            FloatVector c0s = FV.cast(FloatVector.fromMemorySegment(F, w, h + 4 * L, LE)).mul(dx).mul(FV.cast(
                                    SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * L, LE)).lanewise(VectorOperators.LSHL, up)
                                            .lanewise(VectorOperators.ASHR, 8).convertShape(VectorOperators.S2F, F, 0)));
                            FloatVector c1s = FV.cast(FloatVector.fromMemorySegment(F, w, h + 6 * L, LE)).mul(dx).mul(FV.cast(
                                    SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 3 * L, LE)).lanewise(VectorOperators.LSHL, up)
                                            .lanewise(VectorOperators.ASHR, 8).convertShape(VectorOperators.S2F, F, 0)));
                            for (int half = 0; half < 2; half++) { // columns 8·half .. 8·half + 7 of this sub-block; only s0..u1 are carried
                                int q = (2 * part + half) * 2 * L;
                                s0 = FV.cast(SHV.cast(ShortVector.fromArray(SH, sums, q)).convertShape(VectorOperators.S2F, F, 0)).fma(a0s, s0);
                                s1 = FV.cast(SHV.cast(ShortVector.fromArray(SH, sums, q + L / 2)).convertShape(VectorOperators.S2F, F, 0)).fma(a1s, s1);
                                u0 = FV.cast(SHV.cast(ShortVector.fromArray(SH, sums, q + L)).convertShape(VectorOperators.S2F, F, 0)).fma(c0s, u0);
                                u1 = FV.cast(SHV.cast(ShortVector.fromArray(SH, sums, q + L + L / 2)).convertShape(VectorOperators.S2F, F, 0)).fma(c1s, u1);
                            }
                        }
                    }
                }
                if (rows - r0 >= 32) { // in place: see Int8Kernels.q4
                    FV.cast(s0).intoArray(out, o + sl);
                    FV.cast(s1).intoArray(out, o + sl + L / 2);
                    FV.cast(u0).intoArray(out, o + sl + L);
                    FV.cast(u1).intoArray(out, o + sl + L + L / 2);
                } else {
                    FV.cast(s0).intoArray(out, o + sl, F.indexInRange(sl, rows - r0));
                    FV.cast(s1).intoArray(out, o + sl + L / 2, F.indexInRange(sl + L / 2, rows - r0));
                    FV.cast(u0).intoArray(out, o + sl + L, F.indexInRange(sl + L, rows - r0));
                    FV.cast(u1).intoArray(out, o + sl + L + L / 2, F.indexInRange(sl + L + L / 2, rows - r0));
                }
            }
        }
    }

    /**
     * {@link #q6kPairs}' 16-bit sums of one block (32 columns from xo) for its two slices, from the bias: for part p
     * (sub-block) and half h (8 columns), slice sl's at sums[(2p + h)·2L ..] and slice sl + L's L further — a method of its
     * own (with it inline q6kPairs was too big for C1's profiled tier); one call per block, not per 8 columns. Each activation is
     * broadcast where it is used: read into a local first, C2 kept the eight scalars in vector registers and moved each
     * back through a general register before its shuffle (three instructions per broadcast instead of one load-broadcast).
     * A table of pre-broadcast activations (a 32-byte vector per column) was faster with the weights in L1/L2 and slower
     * streaming them from memory, as a model does (the table's 64 KB for 2048 columns evicted by the weights: 9.1
     * against 11.5 G/s before, 32768 × 2048 at 256 bits).
     */
    private static void q6kPairSums(MemorySegment w, long pt0, short[] xq, int xo, short[] bias, int bi, short[] sums) {
        for (int part = 0; part < 2; part++) {
            for (int half = 0; half < 2; half++) {
                long pa = pt0 + 384L * part + 192L * half, pb = pa + 2 * L;
                int x = xo + 16 * part + 8 * half;
                ShortVector acc = ShortVector.broadcast(S, bias[bi + 2 * part + half]), acd = acc;
                ShortVector a0 = SV.cast(ShortVector.fromMemorySegment(S, w, pa, LE)), e0 = SV.cast(ShortVector.fromMemorySegment(S, w, pb, LE));
                ShortVector a2 = SV.cast(ShortVector.fromMemorySegment(S, w, pa + 128, LE)), e2 = SV.cast(ShortVector.fromMemorySegment(S, w, pb + 128, LE));
                ShortVector x0 = ShortVector.broadcast(S, xq[x]);
                acc = (a0.and((short) 63).mul(x0)).add(acc);
                acd = (e0.and((short) 63).mul(x0)).add(acd);
                ShortVector x1 = ShortVector.broadcast(S, xq[x + 1]);
                acc = (a0.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(x1)).add(acc);
                acd = (e0.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(x1)).add(acd);
                ShortVector x2 = ShortVector.broadcast(S, xq[x + 2]);
                acc = (a0.lanewise(VectorOperators.LSHR, 12).or(a2.lanewise(VectorOperators.LSHR, 8).and((short) 0x30)).mul(x2)).add(acc);
                acd = (e0.lanewise(VectorOperators.LSHR, 12).or(e2.lanewise(VectorOperators.LSHR, 8).and((short) 0x30)).mul(x2)).add(acd);
                ShortVector a1 = SV.cast(ShortVector.fromMemorySegment(S, w, pa + 64, LE)), e1 = SV.cast(ShortVector.fromMemorySegment(S, w, pb + 64, LE));
                ShortVector x3 = ShortVector.broadcast(S, xq[x + 3]);
                acc = (a1.and((short) 63).mul(x3)).add(acc);
                acd = (e1.and((short) 63).mul(x3)).add(acd);
                ShortVector x4 = ShortVector.broadcast(S, xq[x + 4]);
                acc = (a1.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(x4)).add(acc);
                acd = (e1.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(x4)).add(acd);
                ShortVector x5 = ShortVector.broadcast(S, xq[x + 5]);
                acc = (a1.lanewise(VectorOperators.LSHR, 12).or(a2.lanewise(VectorOperators.LSHR, 10).and((short) 0x30)).mul(x5)).add(acc);
                acd = (e1.lanewise(VectorOperators.LSHR, 12).or(e2.lanewise(VectorOperators.LSHR, 10).and((short) 0x30)).mul(x5)).add(acd);
                ShortVector x6 = ShortVector.broadcast(S, xq[x + 6]);
                acc = (a2.and((short) 63).mul(x6)).add(acc);
                acd = (e2.and((short) 63).mul(x6)).add(acd);
                ShortVector x7 = ShortVector.broadcast(S, xq[x + 7]);
                acc = (a2.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(x7)).add(acc);
                acd = (e2.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(x7)).add(acd);
                SV.cast(acc).intoArray(sums, (2 * part + half) * 2 * L);
                SV.cast(acd).intoArray(sums, (2 * part + half) * 2 * L + L);
            }
        }
    }

    private static void q6k(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] bias, int xt, int dt,
                            float[] out, int ot) {
        final int nsb = nb / 8;
        final long gBytes = (long) nsb * Q6K_SB;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            for (int sl = 0; sl < Interleaved.ROWS; sl += L) { // slices of L rows: see Int8Kernels.q4
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
                for (int sb = 0; sb < nsb; sb++) {
                    long h = g + (long) sb * Q6K_SB + 4 * sl;
                    FloatVector d0 = FV.cast(FloatVector.fromMemorySegment(F, w, h, LE)), d1 = FV.cast(FloatVector.fromMemorySegment(F, w, h + 2 * L, LE));
                    for (int j = 0; j < 8; j++) {
                        long tile = h - 2 * sl + Q6K_HEADER + (long) j * Q6K_SUB;
                        int b = 8 * sb + j, xo = xt + 32 * b, bi = 4 * (dt + b);
                        // lo: the first sub-block (columns 0..15), hi: the second; each summed 8 columns at a time
                        // a sub-block's two 8-column sums are added as ints and converted once: the f32 sum of the two
                        // converted halves (this kernel's order before, and Int8FewTokens.q6kx2's) is exact too (integers
                        // below 2^17), so the bits are the same, for half the conversions (JMH/Int8KernelSpeed: +13 %
                        // with the two chains below, docs/PERFORMANCE.md "The output projection on plain int8 and the Q6_K
                        // kernel (branch outq29)")
                        IntVector li0 = IntVector.zero(I), li1 = li0, hi0i = li0, hi1i = li0;
                        for (int half = 0; half < 2; half++) {
                            // the 8 columns 8·half.. feed the first sub-block (lo), columns 16 + 8·half.. the second (hi)
                            long pa = tile + 64 + 192L * half, pb = pa + 384;
                            int xa = xo + 8 * half, xb = xa + 16;
                            ShortVector lo = ShortVector.broadcast(S, bias[bi + half]);
                            ShortVector a0 = SV.cast(ShortVector.fromMemorySegment(S, w, pa, LE));
                            ShortVector a1 = SV.cast(ShortVector.fromMemorySegment(S, w, pa + 64, LE));
                            ShortVector a2 = SV.cast(ShortVector.fromMemorySegment(S, w, pa + 128, LE));
                            // two chains per sub-block (even and odd columns), added at the end: the 16-bit sums wrap
                            // the same way in any order, and the final one is exact (see the class comment)
                            ShortVector lo2 = a0.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(xq[xa + 1]);
                            lo = (a0.and((short) 63).mul(xq[xa])).add(lo);
                            lo2 = (a0.lanewise(VectorOperators.LSHR, 12).or(a2.lanewise(VectorOperators.LSHR, 8).and((short) 0x30)).mul(xq[xa + 2])).add(lo2);
                            lo = (a1.and((short) 63).mul(xq[xa + 3])).add(lo);
                            lo2 = (a1.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(xq[xa + 4])).add(lo2);
                            lo = (a1.lanewise(VectorOperators.LSHR, 12).or(a2.lanewise(VectorOperators.LSHR, 10).and((short) 0x30)).mul(xq[xa + 5])).add(lo);
                            lo2 = (a2.and((short) 63).mul(xq[xa + 6])).add(lo2);
                            lo = (a2.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(xq[xa + 7])).add(lo);
                            lo = lo2.add(lo);
                            ShortVector hi = ShortVector.broadcast(S, bias[bi + 2 + half]);
                            ShortVector b0 = SV.cast(ShortVector.fromMemorySegment(S, w, pb, LE));
                            ShortVector b1 = SV.cast(ShortVector.fromMemorySegment(S, w, pb + 64, LE));
                            ShortVector b2 = SV.cast(ShortVector.fromMemorySegment(S, w, pb + 128, LE));
                            ShortVector hi2 = b0.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(xq[xb + 1]);
                            hi = (b0.and((short) 63).mul(xq[xb])).add(hi);
                            hi2 = (b0.lanewise(VectorOperators.LSHR, 12).or(b2.lanewise(VectorOperators.LSHR, 8).and((short) 0x30)).mul(xq[xb + 2])).add(hi2);
                            hi = (b1.and((short) 63).mul(xq[xb + 3])).add(hi);
                            hi2 = (b1.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(xq[xb + 4])).add(hi2);
                            hi = (b1.lanewise(VectorOperators.LSHR, 12).or(b2.lanewise(VectorOperators.LSHR, 10).and((short) 0x30)).mul(xq[xb + 5])).add(hi);
                            hi2 = (b2.and((short) 63).mul(xq[xb + 6])).add(hi2);
                            hi = (b2.lanewise(VectorOperators.LSHR, 6).and((short) 63).mul(xq[xb + 7])).add(hi);
                            hi = hi2.add(hi);
                            li0 = IV.cast(lo.convertShape(VectorOperators.S2I, I, 0)).add(li0);
                            li1 = IV.cast(lo.convertShape(VectorOperators.S2I, I, 1)).add(li1);
                            hi0i = IV.cast(hi.convertShape(VectorOperators.S2I, I, 0)).add(hi0i);
                            hi1i = IV.cast(hi.convertShape(VectorOperators.S2I, I, 1)).add(hi1i);
                        }
                        FloatVector lo0 = FV.cast(IV.cast(li0).convertShape(VectorOperators.I2F, F, 0));
                        FloatVector lo1 = FV.cast(IV.cast(li1).convertShape(VectorOperators.I2F, F, 0));
                        FloatVector hi0 = FV.cast(IV.cast(hi0i).convertShape(VectorOperators.I2F, F, 0));
                        FloatVector hi1 = FV.cast(IV.cast(hi1i).convertShape(VectorOperators.I2F, F, 0));
                        ShortVector sm = SV.cast(ShortVector.fromMemorySegment(S, w, tile, LE));
                        ShortVector sa = sm.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8);
                        ShortVector sb2 = sm.lanewise(VectorOperators.ASHR, 8);
                        FloatVector dx = FloatVector.broadcast(F, xd[dt + b]);
                        s0 = d0.mul(FV.cast(sa.convertShape(VectorOperators.S2F, F, 0))).mul(lo0)
                                .add(d0.mul(FV.cast(sb2.convertShape(VectorOperators.S2F, F, 0))).mul(hi0)).fma(dx, s0);
                        s1 = d1.mul(FV.cast(sa.convertShape(VectorOperators.S2F, F, 1))).mul(lo1)
                                .add(d1.mul(FV.cast(sb2.convertShape(VectorOperators.S2F, F, 1))).mul(hi1)).fma(dx, s1);
                    }
                }
                FloatVector t0 = FV.cast(s0), t1 = FV.cast(s1);
                if (rows - r0 >= 32) { // in place: see Int8Kernels.q4
                    t0.intoArray(out, o + sl);
                    t1.intoArray(out, o + sl + L / 2);
                } else {
                    t0.intoArray(out, o + sl, F.indexInRange(sl, rows - r0));
                    t1.intoArray(out, o + sl + L / 2, F.indexInRange(sl + L / 2, rows - r0));
                }
            }
        }
    }
}
