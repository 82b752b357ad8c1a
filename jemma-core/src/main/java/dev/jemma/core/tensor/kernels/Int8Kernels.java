package dev.jemma.core.tensor.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

import static dev.jemma.core.tensor.kernels.VectorWidth.F16_MAGIC;
import static dev.jemma.core.tensor.kernels.VectorWidth.FV;
import static dev.jemma.core.tensor.kernels.VectorWidth.IV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SV;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Integer dot products of {@link Interleaved} Q4_0 / Q5_0 / Q8_0 weight groups (32 rows) with {@link QuantizedActivations}:
 * the rows of a group in the lanes of 16-bit vectors ({@link VectorWidth}: 32, 16 or 8 rows per vector, a group taken in
 * 1, 2 or 4 slices), one broadcast activation per column, exact integer sums per block,
 * then one f32 multiply-add per block by (weight scale × activation scale) — the arithmetic of llama.cpp's
 * {@code vec_dot_q4_0_q8_0} / {@code vec_dot_q8_0_q8_0}, laid out so that the Vector API's 16-bit multiply
 * ({@code vpmullw}, 32 products per instruction) stands in for the int8 dot-product instructions it cannot name.
 *
 * <p>Why 16 bits suffice: for Q4_0 the block sum Σ (n − 8)·x lies in [−32512, 28448] (|x| ≤ 127, 32 terms), so it
 * is accumulated in wrapping 16-bit arithmetic from the start value −8·Σx (see {@link QuantizedActivations#q4Bias})
 * and comes out exact. For Q8_0 a pair of products fits (|w·x| ≤ 128·127), and pairs are widened to 32 bits.
 */
public final class Int8Kernels {
    static final VectorSpecies<Short> S = VectorWidth.S;
    static final VectorSpecies<Float> F = VectorWidth.F;
    static final VectorSpecies<Integer> I = VectorWidth.I;
    static final VectorSpecies<Short> SH = VectorWidth.SH;
    static final VectorSpecies<Byte> BH = VectorWidth.BH;
    /** Rows per slice: a group's 32 rows are walked in slices of one vector of 16-bit lanes (1, 2 or 4 slices). */
    static final int L = VectorWidth.SHORTS;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /**
     * Whether the Q4_0, Q5_0 and Q8_0 single-token kernels (and Q5_K's at 256 bits, {@link KQuantKernels#Q5K_PAIRS}) take
     * two slices of a group per pass: below 512 bits, where a group has 2 or 4 slices; 512 bits keep their one-slice code
     * (a constant, so C2 compiles one branch). The two-slice kernels measured 1.3-1.7x the one-slice ones on one core,
     * equal them bit for bit (TwoSlicePassTest) and allocate nothing once compiled. The Q5_0 and Q6_K pairs were
     * deleted once because C2 sometimes compiled them with boxed vectors; the cause was found since (a vector method
     * called on a loop-carried vector binds through the JVM-wide receiver profile: see {@link VectorWidth#SV}), and the
     * single-token kernels here and in {@link KQuantKernels} call none any more — accumulations as {@code x.add(acc)},
     * loop-carried vectors cast to their exact class before a method is called on them — so Q5_0 pairs slices again
     * (docs/PERFORMANCE.md, "Why C2 sometimes boxed a kernel"; {@code BoxingRepro} in the test sources).
     */
    static final boolean PAIRS = L < 32;
    /** Whether Q5_0 takes two slices per pass: as {@link #PAIRS} (a name of its own for Int8FewTokens' limits). */
    static final boolean Q5_PAIRS = PAIRS;

    private Int8Kernels() {
    }

    /**
     * out[t·rows + r] = row r · token t for the rows of Q4_0 groups [g0, g1). The group loop lives inside the kernel:
     * C2 compiled a per-group call markedly worse (docs/PERFORMANCE.md, "A JIT pitfall").
     */
    public static void q4(MemorySegment w, int g0, int g1, int rows, int nb, QuantizedActivations a, int t, float[] out) {
        // L is a constant: C2 keeps one branch. 512 bits take a group in one slice; narrower vectors take two slices per
        // pass, so each broadcast activation feeds two multiplies and the loop and scale work is shared
        if (!PAIRS) q4(w, g0, g1, rows, nb, a.q, a.d, a.q4Bias, t * a.cols, t * nb, out, t * rows);
        else q4Pairs(w, g0, g1, rows, nb, a.q, a.d, a.q4Bias, t * a.cols, t * nb, out, t * rows);
    }

    static void q4(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] bias, int xt, int dt,
                           float[] out, int ot) {
        final long gBytes = (long) nb * Interleaved.Q4_TILE;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            // slices of L rows (one vector of 16-bit lanes): every per-row field of a tile lies at +2·l0
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) {
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
                for (int b = 0; b < nb; b++) {
                    long tile = g + (long) b * Interleaved.Q4_TILE + 2 * l0;
                    int xo = xt + 32 * b;
                    // four 16-bit block sums, one per nibble position: four dependency chains of 8 adds, not one of 32
                    // (one chain was the kernel's limit: 37 -> 49 G multiply-adds/s on one core, docs/PERFORMANCE.md "Where a
                    // 12B token goes"); the wrapped sums add up to the same exact block sum, so the bits do not change
                    ShortVector acc = ShortVector.broadcast(S, bias[dt + b]), ac1 = ShortVector.zero(S), ac2 = ac1, ac3 = ac1;
                    for (int qd = 0; qd < 8; qd++) {
                        ShortVector v = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * qd, LE);
                        int j = xo + 2 * qd;
                        ShortVector n0 = v.and((short) 0xF);
                        ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                        ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                        ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12);
                        // x.add(acc), never acc.add(x), and SV.cast / FV.cast on loop-carried vectors below: a method called
                        // on a loop-carried vector can be compiled as a boxing virtual call (VectorWidth.SV says why)
                        acc = (n0.mul(xq[j])).add(acc);
                        ac1 = (n1.mul(xq[j + 16])).add(ac1);
                        ac2 = (n2.mul(xq[j + 1])).add(ac2);
                        ac3 = (n3.mul(xq[j + 17])).add(ac3);
                    }
                    ShortVector sum = SV.cast(acc).add(ac1).add(SV.cast(ac2).add(ac3));
                    // conversions are written out in place: wrapping convertShape in a small helper method made C2's code for
                    // this loop ~2.4x slower (measured), as did interleaving them with the multiply-adds
                    ShortVector h = ShortVector.fromMemorySegment(S, w, tile, LE);
                    FloatVector d0 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC); // f16 -> f32 in place: see q5
                    FloatVector d1 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector a0 = (FloatVector) sum.convertShape(VectorOperators.S2F, F, 0);
                    FloatVector a1 = (FloatVector) sum.convertShape(VectorOperators.S2F, F, 1);
                    float dx = xd[dt + b];
                    s0 = a0.mul(d0).fma(FloatVector.broadcast(F, dx), s0);
                    s1 = a1.mul(d1).fma(FloatVector.broadcast(F, dx), s1);
                }
                // stored here, not through a helper: a call C2 declines to inline (node budget) forces the accumulators to be
                // boxed, and it then allocates a vector per block (measured: ~1.7 GB/s of garbage, 2x slower decode)
                if (rows - r0 >= 32) {
                    FV.cast(s0).intoArray(out, o + l0);
                    FV.cast(s1).intoArray(out, o + l0 + L / 2);
                } else {
                    FV.cast(s0).intoArray(out, o + l0, F.indexInRange(l0, rows - r0));
                    FV.cast(s1).intoArray(out, o + l0 + L / 2, F.indexInRange(l0 + L / 2, rows - r0));
                }
            }
        }
    }

    /**
     * {@link #q4} below 512 bits: slices l0 and l0 + L of a group in one pass (the whole group at 256 bits, half of it at
     * 128), within 16 vector registers: 4 f32 sums, 2 16-bit block sums, 2 weight vectors and the broadcasts.
     */
    static void q4Pairs(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] bias, int xt,
                                int dt, float[] out, int ot) {
        final long gBytes = (long) nb * Interleaved.Q4_TILE;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += 2 * L) {
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), u0 = FloatVector.zero(F), u1 = FloatVector.zero(F);
                for (int b = 0; b < nb; b++) {
                    long tile = g + (long) b * Interleaved.Q4_TILE + 2 * l0;
                    int xo = xt + 32 * b;
                    ShortVector acc = ShortVector.broadcast(S, bias[dt + b]), acd = acc;
                    for (int qd = 0; qd < 8; qd++) {
                        ShortVector v = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * qd, LE);
                        ShortVector e = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * qd + 2 * L, LE);
                        int j = xo + 2 * qd;
                        short x0 = xq[j], x1 = xq[j + 16], x2 = xq[j + 1], x3 = xq[j + 17];
                        acc = (v.and((short) 0xF).mul(x0)).add(acc);
                        acd = (e.and((short) 0xF).mul(x0)).add(acd);
                        acc = (v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(x1)).add(acc);
                        acd = (e.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(x1)).add(acd);
                        acc = (v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(x2)).add(acc);
                        acd = (e.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(x2)).add(acd);
                        acc = (v.lanewise(VectorOperators.LSHR, 12).mul(x3)).add(acc);
                        acd = (e.lanewise(VectorOperators.LSHR, 12).mul(x3)).add(acd);
                    }
                    // in place, as in q4 (helpers would box)
                    FloatVector dx = FloatVector.broadcast(F, xd[dt + b]);
                    ShortVector h = ShortVector.fromMemorySegment(S, w, tile, LE);
                    FloatVector d0 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector d1 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    s0 = ((FloatVector) SV.cast(acc).convertShape(VectorOperators.S2F, F, 0)).mul(d0).fma(dx, s0);
                    s1 = ((FloatVector) SV.cast(acc).convertShape(VectorOperators.S2F, F, 1)).mul(d1).fma(dx, s1);
                    ShortVector k = ShortVector.fromMemorySegment(S, w, tile + 2 * L, LE);
                    FloatVector e0 = ((IntVector) k.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector e1 = ((IntVector) k.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    u0 = ((FloatVector) SV.cast(acd).convertShape(VectorOperators.S2F, F, 0)).mul(e0).fma(dx, u0);
                    u1 = ((FloatVector) SV.cast(acd).convertShape(VectorOperators.S2F, F, 1)).mul(e1).fma(dx, u1);
                }
                if (rows - r0 >= 32) { // in place: see q4
                    FV.cast(s0).intoArray(out, o + l0);
                    FV.cast(s1).intoArray(out, o + l0 + L / 2);
                    FV.cast(u0).intoArray(out, o + l0 + L);
                    FV.cast(u1).intoArray(out, o + l0 + L + L / 2);
                } else {
                    FV.cast(s0).intoArray(out, o + l0, F.indexInRange(l0, rows - r0));
                    FV.cast(s1).intoArray(out, o + l0 + L / 2, F.indexInRange(l0 + L / 2, rows - r0));
                    FV.cast(u0).intoArray(out, o + l0 + L, F.indexInRange(l0 + L, rows - r0));
                    FV.cast(u1).intoArray(out, o + l0 + L + L / 2, F.indexInRange(l0 + L + L / 2, rows - r0));
                }
            }
        }
    }

    /** L bytes of a Q8_0 column at {@code off}, widened to 16-bit lanes. */
    static ShortVector col(MemorySegment w, long off) {
        return (ShortVector) ByteVector.fromMemorySegment(BH, w, off, LE).convertShape(VectorOperators.B2S, S, 0);
    }

    /** Even 16-bit lanes of {@code p} (a slice's rows from the first half of the group), sign-extended to 32 bits. */
    static IntVector even(ShortVector p) {
        return p.reinterpretAsInts().lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16);
    }

    /** Odd 16-bit lanes of {@code p} (the matching rows 16..31), sign-extended to 32 bits. */
    static IntVector odd(ShortVector p) {
        return p.reinterpretAsInts().lanewise(VectorOperators.ASHR, 16);
    }

    /**
     * {@link #q4} for Q5_0 groups. A 5-bit value (n − 16) times |x| ≤ 127 summed over 32 columns can reach 65024,
     * so each block keeps two 16-bit sums, over columns 0..15 and 16..31 (each within ±32512, exact as for Q4_0).
     * Values come three to a 16-bit lane ({@link Interleaved}): a shift and a mask each.
     */
    public static void q5(MemorySegment w, int g0, int g1, int rows, int nb, QuantizedActivations a, int t, float[] out) {
        if (!Q5_PAIRS) q5(w, g0, g1, rows, nb, a.q, a.d, a.q5BiasLo, a.q5BiasHi, t * a.cols, t * nb, out, t * rows);
        else q5Pairs(w, g0, g1, rows, nb, a.q, a.d, a.q5BiasLo, a.q5BiasHi, t * a.cols, t * nb, out, t * rows);
    }

    static void q5(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] biasLo,
                           short[] biasHi, int xt, int dt, float[] out, int ot) {
        final long gBytes = (long) nb * Interleaved.Q5_TILE;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) { // slices of L rows: see q4
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
                for (int b = 0; b < nb; b++) {
                    long tile = g + (long) b * Interleaved.Q5_TILE + 2 * l0;
                    int xo = xt + 32 * b;
                    ShortVector accL = ShortVector.broadcast(S, biasLo[dt + b]);
                    ShortVector accH = ShortVector.broadcast(S, biasHi[dt + b]);
                    for (int k = 0; k < 5; k++) {
                        ShortVector v = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * k, LE);
                        ShortVector u = ShortVector.fromMemorySegment(S, w, tile + 448 + 64L * k, LE);
                        int x = xo + 3 * k;
                        accL = (v.and((short) 31).mul(xq[x])).add(accL);
                        accH = (u.and((short) 31).mul(xq[x + 16])).add(accH);
                        accL = (v.lanewise(VectorOperators.LSHR, 5).and((short) 31).mul(xq[x + 1])).add(accL);
                        accH = (u.lanewise(VectorOperators.LSHR, 5).and((short) 31).mul(xq[x + 17])).add(accH);
                        accL = (v.lanewise(VectorOperators.LSHR, 10).mul(xq[x + 2])).add(accL);
                        accH = (u.lanewise(VectorOperators.LSHR, 10).mul(xq[x + 18])).add(accH);
                    }
                    ShortVector v = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * 5, LE); // columns 15 and 31
                    accL = (v.and((short) 31).mul(xq[xo + 15])).add(accL);
                    accH = (v.lanewise(VectorOperators.LSHR, 5).mul(xq[xo + 31])).add(accH);
                    // the scales' f16 -> f32 is written out in every kernel: through a helper method, C2 left the call un-inlined
                    // in this larger kernel and boxed the vectors on every block (~3 GB/s of garbage, found with JFR; tg on
                    // 1B Q4_K_M 20 -> 31 t/s). (sign-extended h << 13, sign and exponent-mantissa kept) · 2^112 is exact for
                    // every finite f16, subnormals included
                    ShortVector h = ShortVector.fromMemorySegment(S, w, tile, LE);
                    FloatVector d0 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector d1 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector l0v = (FloatVector) SV.cast(accL).convertShape(VectorOperators.S2F, F, 0);
                    FloatVector l1v = (FloatVector) SV.cast(accL).convertShape(VectorOperators.S2F, F, 1);
                    FloatVector u0 = (FloatVector) SV.cast(accH).convertShape(VectorOperators.S2F, F, 0);
                    FloatVector u1 = (FloatVector) SV.cast(accH).convertShape(VectorOperators.S2F, F, 1);
                    float dx = xd[dt + b];
                    s0 = l0v.add(u0).mul(d0).fma(FloatVector.broadcast(F, dx), s0);
                    s1 = l1v.add(u1).mul(d1).fma(FloatVector.broadcast(F, dx), s1);
                }
                if (rows - r0 >= 32) { // in place: see q4
                    FV.cast(s0).intoArray(out, o + l0);
                    FV.cast(s1).intoArray(out, o + l0 + L / 2);
                } else {
                    FV.cast(s0).intoArray(out, o + l0, F.indexInRange(l0, rows - r0));
                    FV.cast(s1).intoArray(out, o + l0 + L / 2, F.indexInRange(l0 + L / 2, rows - r0));
                }
            }
        }
    }

    /**
     * {@link #q5} below 512 bits: slices l0 and l0 + L of a group in one pass, so each broadcast activation feeds two
     * multiplies. Columns 0..15 are summed before 16..31 (the high sums start after the low loop) so that at most 4 of the
     * 16-bit sums, 4 f32 sums and 2 weight vectors are live at once: within 16 registers. The integer sums are the
     * one-slice kernel's (wrapping 16-bit addition does not depend on order) and the f32 steps are the same, so the result
     * is bit-identical.
     */
    static void q5Pairs(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] biasLo,
                                short[] biasHi, int xt, int dt, float[] out, int ot) {
        final long gBytes = (long) nb * Interleaved.Q5_TILE;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += 2 * L) {
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), u0 = FloatVector.zero(F), u1 = FloatVector.zero(F);
                for (int b = 0; b < nb; b++) {
                    long tile = g + (long) b * Interleaved.Q5_TILE + 2 * l0;
                    int xo = xt + 32 * b;
                    ShortVector accL = ShortVector.broadcast(S, biasLo[dt + b]), acdL = accL;
                    for (int k = 0; k < 5; k++) {
                        ShortVector v = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * k, LE);
                        ShortVector e = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * k + 2 * L, LE);
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
                        ShortVector v = ShortVector.fromMemorySegment(S, w, tile + 448 + 64L * k, LE);
                        ShortVector e = ShortVector.fromMemorySegment(S, w, tile + 448 + 64L * k + 2 * L, LE);
                        int x = xo + 16 + 3 * k;
                        short x0 = xq[x], x1 = xq[x + 1], x2 = xq[x + 2];
                        accH = (v.and((short) 31).mul(x0)).add(accH);
                        acdH = (e.and((short) 31).mul(x0)).add(acdH);
                        accH = (v.lanewise(VectorOperators.LSHR, 5).and((short) 31).mul(x1)).add(accH);
                        acdH = (e.lanewise(VectorOperators.LSHR, 5).and((short) 31).mul(x1)).add(acdH);
                        accH = (v.lanewise(VectorOperators.LSHR, 10).mul(x2)).add(accH);
                        acdH = (e.lanewise(VectorOperators.LSHR, 10).mul(x2)).add(acdH);
                    }
                    ShortVector v = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * 5, LE); // columns 15 and 31
                    ShortVector e = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * 5 + 2 * L, LE);
                    short x15 = xq[xo + 15], x31 = xq[xo + 31];
                    accL = (v.and((short) 31).mul(x15)).add(accL);
                    acdL = (e.and((short) 31).mul(x15)).add(acdL);
                    accH = (v.lanewise(VectorOperators.LSHR, 5).mul(x31)).add(accH);
                    acdH = (e.lanewise(VectorOperators.LSHR, 5).mul(x31)).add(acdH);
                    // in place, as in q5 (helpers would box)
                    FloatVector dx = FloatVector.broadcast(F, xd[dt + b]);
                    ShortVector h = ShortVector.fromMemorySegment(S, w, tile, LE);
                    FloatVector d0 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector d1 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    s0 = ((FloatVector) SV.cast(accL).convertShape(VectorOperators.S2F, F, 0)).add((FloatVector) SV.cast(accH).convertShape(VectorOperators.S2F, F, 0))
                            .mul(d0).fma(dx, s0);
                    s1 = ((FloatVector) SV.cast(accL).convertShape(VectorOperators.S2F, F, 1)).add((FloatVector) SV.cast(accH).convertShape(VectorOperators.S2F, F, 1))
                            .mul(d1).fma(dx, s1);
                    ShortVector k = ShortVector.fromMemorySegment(S, w, tile + 2 * L, LE);
                    FloatVector e0 = ((IntVector) k.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector e1 = ((IntVector) k.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    u0 = ((FloatVector) SV.cast(acdL).convertShape(VectorOperators.S2F, F, 0)).add((FloatVector) SV.cast(acdH).convertShape(VectorOperators.S2F, F, 0))
                            .mul(e0).fma(dx, u0);
                    u1 = ((FloatVector) SV.cast(acdL).convertShape(VectorOperators.S2F, F, 1)).add((FloatVector) SV.cast(acdH).convertShape(VectorOperators.S2F, F, 1))
                            .mul(e1).fma(dx, u1);
                }
                if (rows - r0 >= 32) { // in place: see q4
                    FV.cast(s0).intoArray(out, o + l0);
                    FV.cast(s1).intoArray(out, o + l0 + L / 2);
                    FV.cast(u0).intoArray(out, o + l0 + L);
                    FV.cast(u1).intoArray(out, o + l0 + L + L / 2);
                } else {
                    FV.cast(s0).intoArray(out, o + l0, F.indexInRange(l0, rows - r0));
                    FV.cast(s1).intoArray(out, o + l0 + L / 2, F.indexInRange(l0 + L / 2, rows - r0));
                    FV.cast(u0).intoArray(out, o + l0 + L, F.indexInRange(l0 + L, rows - r0));
                    FV.cast(u1).intoArray(out, o + l0 + L + L / 2, F.indexInRange(l0 + L + L / 2, rows - r0));
                }
            }
        }
    }

    /**
     * {@link #q4} for Q8_0 groups. A slice reads L bytes of each 32-byte column at +l0: the even bytes are rows
     * l0/2 .. l0/2 + L/2 of the group, the odd ones the same rows + 16 ({@link Interleaved}).
     */
    public static void q8(MemorySegment w, int g0, int g1, int rows, int nb, QuantizedActivations a, int t, float[] out) {
        // two slices per pass below 512 bits: see q4
        if (!PAIRS) q8(w, g0, g1, rows, nb, a.q, a.d, t * a.cols, t * nb, out, t * rows);
        else q8Pairs(w, g0, g1, rows, nb, a.q, a.d, t * a.cols, t * nb, out, t * rows);
    }

    static void q8(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, int xt, int dt, float[] out,
                   int ot) {
        final long gBytes = (long) nb * Interleaved.Q8_TILE;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) {
                final int e = l0 / 2; // the slice's first row
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
                for (int b = 0; b < nb; b++) {
                    long tile = g + (long) b * Interleaved.Q8_TILE;
                    int xo = xt + 32 * b;
                    IntVector i0 = IntVector.zero(I), i1 = IntVector.zero(I);
                    for (int k = 0; k < 32; k += 2) {
                        long c = tile + 64 + 32L * k + l0;
                        ShortVector p = col(w, c).mul(xq[xo + k]).add(col(w, c + 32).mul(xq[xo + k + 1]));
                        i0 = (even(p)).add(i0);
                        i1 = (odd(p)).add(i1);
                    }
                    // scales of rows e.. and 16 + e..: half-width loads, f16 -> f32 in place (see q5)
                    FloatVector d0 = ((IntVector) ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE).convertShape(VectorOperators.S2I, I, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector d1 = ((IntVector) ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE).convertShape(VectorOperators.S2I, I, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector c0 = (FloatVector) IV.cast(i0).convert(VectorOperators.I2F, 0), c1 = (FloatVector) IV.cast(i1).convert(VectorOperators.I2F, 0);
                    float dx = xd[dt + b];
                    s0 = c0.mul(d0).fma(FloatVector.broadcast(F, dx), s0);
                    s1 = c1.mul(d1).fma(FloatVector.broadcast(F, dx), s1);
                }
                if (rows - r0 >= 32) { // inline store: see q4
                    FV.cast(s0).intoArray(out, o + e);
                    FV.cast(s1).intoArray(out, o + 16 + e);
                } else {
                    FV.cast(s0).intoArray(out, o + e, F.indexInRange(e, rows - r0));
                    FV.cast(s1).intoArray(out, o + 16 + e, F.indexInRange(16 + e, rows - r0));
                }
            }
        }
    }

    /**
     * {@link #q8} below 512 bits, two slices (columns' bytes l0.. and l0 + L..) per pass. A pair of products p (16-bit,
     * exact: |w·x| ≤ 128·127) is widened to 32 bits per half. At 128 bits this takes 2 operations per half instead of 3:
     * with the sign bit of its even (low) 16-bit lane flipped, p read as an int is odd·65536 + (even + 32768) exactly, so
     * A = Σ that and B = Σ (p >> 16) = Σ odd give Σ even = A − 65536·B − 16·32768 for a block's 16 pairs (wrapping int
     * arithmetic, |Σ even| ≤ 16·32512). At 256 bits the shift pair (even = (p << 16) >> 16) measured faster (one core,
     * 2048 × 1152: 24.7 vs 19.1 G multiply-adds/s; at 128 bits 11.0 vs 13.3), so each width takes its own.
     */
    private static final boolean XOR_WIDEN = L <= 8;

    static void q8Pairs(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, int xt, int dt,
                                float[] out, int ot) {
        final long gBytes = (long) nb * Interleaved.Q8_TILE;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += 2 * L) {
                final int e = l0 / 2, f = e + L / 2; // the first rows of the two slices
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), u0 = FloatVector.zero(F), u1 = FloatVector.zero(F);
                for (int b = 0; b < nb; b++) {
                    long tile = g + (long) b * Interleaved.Q8_TILE;
                    int xo = xt + 32 * b;
                    IntVector i0 = IntVector.zero(I), i1 = i0, j0 = i0, j1 = i0;
                    for (int k = 0; k < 32; k += 2) {
                        long c = tile + 64 + 32L * k + l0;
                        short xa = xq[xo + k], xb = xq[xo + k + 1];
                        IntVector p = col(w, c).mul(xa).add(col(w, c + 32).mul(xb)).reinterpretAsInts();
                        IntVector q = col(w, c + L).mul(xa).add(col(w, c + 32 + L).mul(xb)).reinterpretAsInts();
                        if (XOR_WIDEN) {
                            i0 = (p.lanewise(VectorOperators.XOR, 0x8000)).add(i0);
                            j0 = (q.lanewise(VectorOperators.XOR, 0x8000)).add(j0);
                        } else {
                            i0 = (p.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(i0);
                            j0 = (q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)).add(j0);
                        }
                        i1 = (p.lanewise(VectorOperators.ASHR, 16)).add(i1);
                        j1 = (q.lanewise(VectorOperators.ASHR, 16)).add(j1);
                    }
                    if (XOR_WIDEN) { // i1 and j1 are loop-carried: cast before calling on them (docs/ARCHITECTURE.md, "Vector widths")
                        i0 = IV.cast(i0).sub(IV.cast(i1).lanewise(VectorOperators.LSHL, 16)).sub(16 * 32768);
                        j0 = IV.cast(j0).sub(IV.cast(j1).lanewise(VectorOperators.LSHL, 16)).sub(16 * 32768);
                    }
                    FloatVector dx = FloatVector.broadcast(F, xd[dt + b]);
                    // scales of rows e.., 16 + e.., f.., 16 + f..: half-width loads, f16 -> f32 in place (see q5)
                    FloatVector d0 = ((IntVector) ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE).convertShape(VectorOperators.S2I, I, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector d1 = ((IntVector) ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE).convertShape(VectorOperators.S2I, I, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    s0 = ((FloatVector) IV.cast(i0).convert(VectorOperators.I2F, 0)).mul(d0).fma(dx, s0);
                    s1 = ((FloatVector) IV.cast(i1).convert(VectorOperators.I2F, 0)).mul(d1).fma(dx, s1);
                    FloatVector e0 = ((IntVector) ShortVector.fromMemorySegment(SH, w, tile + 2 * f, LE).convertShape(VectorOperators.S2I, I, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector e1 = ((IntVector) ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * f, LE).convertShape(VectorOperators.S2I, I, 0))
                            .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    u0 = ((FloatVector) IV.cast(j0).convert(VectorOperators.I2F, 0)).mul(e0).fma(dx, u0);
                    u1 = ((FloatVector) IV.cast(j1).convert(VectorOperators.I2F, 0)).mul(e1).fma(dx, u1);
                }
                if (rows - r0 >= 32) { // in place: see q4
                    FV.cast(s0).intoArray(out, o + e);
                    FV.cast(s1).intoArray(out, o + 16 + e);
                    FV.cast(u0).intoArray(out, o + f);
                    FV.cast(u1).intoArray(out, o + 16 + f);
                } else {
                    FV.cast(s0).intoArray(out, o + e, F.indexInRange(e, rows - r0));
                    FV.cast(s1).intoArray(out, o + 16 + e, F.indexInRange(16 + e, rows - r0));
                    FV.cast(u0).intoArray(out, o + f, F.indexInRange(f, rows - r0));
                    FV.cast(u1).intoArray(out, o + 16 + f, F.indexInRange(16 + f, rows - r0));
                }
            }
        }
    }

}
