package dev.jemma.core.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

import static dev.jemma.core.tensor.kernels.VectorWidth.F16_MAGIC;
import static dev.jemma.core.tensor.kernels.VectorWidth.FV;
import static dev.jemma.core.tensor.kernels.VectorWidth.IV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SV;

/**
 * Q4_0 passes of 5 to 8 tokens at 512 bits, where {@link Int8FewTokens#q4}'s own passes take at most 4 (16 accumulators of
 * the 32 registers, two weight vectors, their nibbles and a broadcast fit): each weight vector is loaded and taken apart
 * once for all the pass's tokens, not once per 4. A serving step at C = 8 runs 6 to 8 decode rows through every Q4_0
 * matrix (more than half of its CPU); one core, 6912 × 1152, 8 tokens: 105-109 against 78-80 G multiply-adds per CPU
 * second in two passes of 4 (docs/PERFORMANCE.md, "Eight rows per step at 512 bits"). Each token's arithmetic is
 * {@link Int8FewTokens}' q4x4's — exact wrapping 16-bit block sums from the bias, then per block the single-token
 * kernel's f32 operations in its order — so every result is bit-identical to {@link Int8Kernels#q4} alone
 * ({@code FewTokensTest}). Generated per token count (tools/gen_q4_wide_passes.py): vector values never cross a method
 * boundary and no loop chooses between accumulators (C2 would box them).
 */
final class Q4WidePasses {
    private static final VectorSpecies<Short> S = VectorWidth.S;
    private static final VectorSpecies<Float> F = VectorWidth.F;
    private static final VectorSpecies<Integer> I = VectorWidth.I;
    private static final int L = VectorWidth.SHORTS;
    private static final int FL = VectorWidth.FLOATS;
    private static final int PASS = 2 * L;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Where in acc a pass's 16-bit sum vectors wait for {@link #blockEnd} (Int8FewTokens' place for them). */
    private static final int SUMS = Int8FewTokens.SUMS;
    /** Whether passes of 5-8 tokens run (512 bits: below it 16 registers hold no more than a 4-token pass). */
    static final boolean ON = L >= 32 && !Boolean.getBoolean("jemma.q4WidePasses.off");

    private Q4WidePasses() {
    }

    /**
     * Tokens the next pass takes when {@code left} (2 or more) remain, with these passes on: 8 while 8 or more remain
     * (but 9 = 5 + 4: no lone token), 5-7 in one pass, otherwise {@link Int8FewTokens}' 4, 3 or 2.
     */
    static int block(int left) {
        if (left >= 8) return left == 9 ? 5 : 8;
        return left >= 5 ? left : Math.min(4, left);
    }

    /** The pass of k = 5..8 tokens (t .. t + k − 1) against the two row vectors at byte va / vb: acc[j·PASS + i]. */
    static void pass(int k, MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int n, int t, float[] acc) {
        if (k == 8) q4x8(w, va, vb, nb, xq, xd, bias, n, t, acc);
        else if (k == 7) q4x7(w, va, vb, nb, xq, xd, bias, n, t, acc);
        else if (k == 6) q4x6(w, va, vb, nb, xq, xd, bias, n, t, acc);
        else q4x5(w, va, vb, nb, xq, xd, bias, n, t, acc);
    }

    /**
     * The f32 part of a Q4_0 block for the k tokens of a pass: token j's 16-bit sums S (its two row vectors at
     * acc[SUMS + 2j·FL] and acc[SUMS + (2j + 1)·FL]) to acc[j·PASS + i] as Int8Kernels.q4 does, s = (S·d)·dx + s, with
     * the rows' f16 scales d at ta / tb converted to f32 in place (Int8Kernels.q5). The same operations in the same order
     * as when they were inline in each pass, so the same bits.
     */
    private static void blockEnd(MemorySegment w, long ta, long tb, int k, float[] xd, int d0, int nb, int b, float[] acc) {
        ShortVector ha = SV.cast(ShortVector.fromMemorySegment(S, w, ta, LE)), hb = SV.cast(ShortVector.fromMemorySegment(S, w, tb, LE));
        FloatVector da0 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                .and(0x8FFFFFFF).reinterpretAsFloats());
        FloatVector da1 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                .and(0x8FFFFFFF).reinterpretAsFloats());
        FloatVector db0 = F16_MAGIC.mul(IV.cast(hb.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                .and(0x8FFFFFFF).reinterpretAsFloats());
        FloatVector db1 = F16_MAGIC.mul(IV.cast(hb.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                .and(0x8FFFFFFF).reinterpretAsFloats());
        for (int j = 0; j < k; j++) {
            final int o = j * PASS;
            ShortVector sa = SV.cast(FV.cast(FloatVector.fromArray(F, acc, SUMS + 2 * j * FL)).reinterpretAsShorts());
            ShortVector sb = SV.cast(FV.cast(FloatVector.fromArray(F, acc, SUMS + (2 * j + 1) * FL)).reinterpretAsShorts());
            FloatVector e = FloatVector.broadcast(F, xd[d0 + j * nb + b]);
            FV.cast(sa.convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e, FloatVector.fromArray(F, acc, o)).intoArray(acc, o);
            FV.cast(sa.convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e, FloatVector.fromArray(F, acc, o + FL)).intoArray(acc, o + FL);
            FV.cast(sb.convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e, FloatVector.fromArray(F, acc, o + L)).intoArray(acc, o + L);
            FV.cast(sb.convertShape(VectorOperators.S2F, F, 1)).mul(db1).fma(e, FloatVector.fromArray(F, acc, o + L + FL)).intoArray(acc, o + L + FL);
        }
    }

    /** 8 tokens (t .. t + 7): {@link Int8FewTokens}' q4x4 with 16 accumulators. */
    private static void q4x8(MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int n, int t,
                             float[] acc) {
        Arrays.fill(acc, 0, 8 * PASS, 0f);
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb, d5 = d4 + nb, d6 = d5 + nb, d7 = d6 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE, tb = vb + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), b2 = a2;
            ShortVector a3 = ShortVector.broadcast(S, bias[d3 + b]), b3 = a3;
            ShortVector a4 = ShortVector.broadcast(S, bias[d4 + b]), b4 = a4;
            ShortVector a5 = ShortVector.broadcast(S, bias[d5 + b]), b5 = a5;
            ShortVector a6 = ShortVector.broadcast(S, bias[d6 + b]), b6 = a6;
            ShortVector a7 = ShortVector.broadcast(S, bias[d7 + b]), b7 = a7;
            // y: column 32b + 2qd's activations, token after token (QuantizedActivations.shortColumns)
            for (int qd = 0, y = 32 * b * n + t; qd < 8; qd++, y += 2 * n) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)
                final int y1 = y + 16 * n, y2 = y + n, y3 = y + 17 * n; // columns + 16, + 1, + 17
                ShortVector n0 = v.and((short) 0xF), m0 = u.and((short) 0xF);
                ShortVector x00 = ShortVector.broadcast(S, xq[y]);
                a0 = (n0.mul(x00)).add(a0);
                b0 = (m0.mul(x00)).add(b0);
                ShortVector x10 = ShortVector.broadcast(S, xq[y + 1]);
                a1 = (n0.mul(x10)).add(a1);
                b1 = (m0.mul(x10)).add(b1);
                ShortVector x20 = ShortVector.broadcast(S, xq[y + 2]);
                a2 = (n0.mul(x20)).add(a2);
                b2 = (m0.mul(x20)).add(b2);
                ShortVector x30 = ShortVector.broadcast(S, xq[y + 3]);
                a3 = (n0.mul(x30)).add(a3);
                b3 = (m0.mul(x30)).add(b3);
                ShortVector x40 = ShortVector.broadcast(S, xq[y + 4]);
                a4 = (n0.mul(x40)).add(a4);
                b4 = (m0.mul(x40)).add(b4);
                ShortVector x50 = ShortVector.broadcast(S, xq[y + 5]);
                a5 = (n0.mul(x50)).add(a5);
                b5 = (m0.mul(x50)).add(b5);
                ShortVector x60 = ShortVector.broadcast(S, xq[y + 6]);
                a6 = (n0.mul(x60)).add(a6);
                b6 = (m0.mul(x60)).add(b6);
                ShortVector x70 = ShortVector.broadcast(S, xq[y + 7]);
                a7 = (n0.mul(x70)).add(a7);
                b7 = (m0.mul(x70)).add(b7);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF), m1 = u.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                ShortVector x01 = ShortVector.broadcast(S, xq[y1]);
                a0 = (n1.mul(x01)).add(a0);
                b0 = (m1.mul(x01)).add(b0);
                ShortVector x11 = ShortVector.broadcast(S, xq[y1 + 1]);
                a1 = (n1.mul(x11)).add(a1);
                b1 = (m1.mul(x11)).add(b1);
                ShortVector x21 = ShortVector.broadcast(S, xq[y1 + 2]);
                a2 = (n1.mul(x21)).add(a2);
                b2 = (m1.mul(x21)).add(b2);
                ShortVector x31 = ShortVector.broadcast(S, xq[y1 + 3]);
                a3 = (n1.mul(x31)).add(a3);
                b3 = (m1.mul(x31)).add(b3);
                ShortVector x41 = ShortVector.broadcast(S, xq[y1 + 4]);
                a4 = (n1.mul(x41)).add(a4);
                b4 = (m1.mul(x41)).add(b4);
                ShortVector x51 = ShortVector.broadcast(S, xq[y1 + 5]);
                a5 = (n1.mul(x51)).add(a5);
                b5 = (m1.mul(x51)).add(b5);
                ShortVector x61 = ShortVector.broadcast(S, xq[y1 + 6]);
                a6 = (n1.mul(x61)).add(a6);
                b6 = (m1.mul(x61)).add(b6);
                ShortVector x71 = ShortVector.broadcast(S, xq[y1 + 7]);
                a7 = (n1.mul(x71)).add(a7);
                b7 = (m1.mul(x71)).add(b7);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF), m2 = u.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                ShortVector x02 = ShortVector.broadcast(S, xq[y2]);
                a0 = (n2.mul(x02)).add(a0);
                b0 = (m2.mul(x02)).add(b0);
                ShortVector x12 = ShortVector.broadcast(S, xq[y2 + 1]);
                a1 = (n2.mul(x12)).add(a1);
                b1 = (m2.mul(x12)).add(b1);
                ShortVector x22 = ShortVector.broadcast(S, xq[y2 + 2]);
                a2 = (n2.mul(x22)).add(a2);
                b2 = (m2.mul(x22)).add(b2);
                ShortVector x32 = ShortVector.broadcast(S, xq[y2 + 3]);
                a3 = (n2.mul(x32)).add(a3);
                b3 = (m2.mul(x32)).add(b3);
                ShortVector x42 = ShortVector.broadcast(S, xq[y2 + 4]);
                a4 = (n2.mul(x42)).add(a4);
                b4 = (m2.mul(x42)).add(b4);
                ShortVector x52 = ShortVector.broadcast(S, xq[y2 + 5]);
                a5 = (n2.mul(x52)).add(a5);
                b5 = (m2.mul(x52)).add(b5);
                ShortVector x62 = ShortVector.broadcast(S, xq[y2 + 6]);
                a6 = (n2.mul(x62)).add(a6);
                b6 = (m2.mul(x62)).add(b6);
                ShortVector x72 = ShortVector.broadcast(S, xq[y2 + 7]);
                a7 = (n2.mul(x72)).add(a7);
                b7 = (m2.mul(x72)).add(b7);
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12), m3 = u.lanewise(VectorOperators.LSHR, 12);
                ShortVector x03 = ShortVector.broadcast(S, xq[y3]);
                a0 = (n3.mul(x03)).add(a0);
                b0 = (m3.mul(x03)).add(b0);
                ShortVector x13 = ShortVector.broadcast(S, xq[y3 + 1]);
                a1 = (n3.mul(x13)).add(a1);
                b1 = (m3.mul(x13)).add(b1);
                ShortVector x23 = ShortVector.broadcast(S, xq[y3 + 2]);
                a2 = (n3.mul(x23)).add(a2);
                b2 = (m3.mul(x23)).add(b2);
                ShortVector x33 = ShortVector.broadcast(S, xq[y3 + 3]);
                a3 = (n3.mul(x33)).add(a3);
                b3 = (m3.mul(x33)).add(b3);
                ShortVector x43 = ShortVector.broadcast(S, xq[y3 + 4]);
                a4 = (n3.mul(x43)).add(a4);
                b4 = (m3.mul(x43)).add(b4);
                ShortVector x53 = ShortVector.broadcast(S, xq[y3 + 5]);
                a5 = (n3.mul(x53)).add(a5);
                b5 = (m3.mul(x53)).add(b5);
                ShortVector x63 = ShortVector.broadcast(S, xq[y3 + 6]);
                a6 = (n3.mul(x63)).add(a6);
                b6 = (m3.mul(x63)).add(b6);
                ShortVector x73 = ShortVector.broadcast(S, xq[y3 + 7]);
                a7 = (n3.mul(x73)).add(a7);
                b7 = (m3.mul(x73)).add(b7);
            }
            // the 16-bit sums wait in acc past the f32 sums and the per-block f32 part runs in a method of its own: with it
            // inline these passes were too big for C1's profiled tier (docs/PERFORMANCE.md, "Boxed once in a whole-model step")
            FV.cast(SV.cast(a0).reinterpretAsFloats()).intoArray(acc, SUMS + 0 * FL);
            FV.cast(SV.cast(b0).reinterpretAsFloats()).intoArray(acc, SUMS + 1 * FL);
            FV.cast(SV.cast(a1).reinterpretAsFloats()).intoArray(acc, SUMS + 2 * FL);
            FV.cast(SV.cast(b1).reinterpretAsFloats()).intoArray(acc, SUMS + 3 * FL);
            FV.cast(SV.cast(a2).reinterpretAsFloats()).intoArray(acc, SUMS + 4 * FL);
            FV.cast(SV.cast(b2).reinterpretAsFloats()).intoArray(acc, SUMS + 5 * FL);
            FV.cast(SV.cast(a3).reinterpretAsFloats()).intoArray(acc, SUMS + 6 * FL);
            FV.cast(SV.cast(b3).reinterpretAsFloats()).intoArray(acc, SUMS + 7 * FL);
            FV.cast(SV.cast(a4).reinterpretAsFloats()).intoArray(acc, SUMS + 8 * FL);
            FV.cast(SV.cast(b4).reinterpretAsFloats()).intoArray(acc, SUMS + 9 * FL);
            FV.cast(SV.cast(a5).reinterpretAsFloats()).intoArray(acc, SUMS + 10 * FL);
            FV.cast(SV.cast(b5).reinterpretAsFloats()).intoArray(acc, SUMS + 11 * FL);
            FV.cast(SV.cast(a6).reinterpretAsFloats()).intoArray(acc, SUMS + 12 * FL);
            FV.cast(SV.cast(b6).reinterpretAsFloats()).intoArray(acc, SUMS + 13 * FL);
            FV.cast(SV.cast(a7).reinterpretAsFloats()).intoArray(acc, SUMS + 14 * FL);
            FV.cast(SV.cast(b7).reinterpretAsFloats()).intoArray(acc, SUMS + 15 * FL);
            blockEnd(w, ta, tb, 8, xd, d0, nb, b, acc);
        }
    }

    /** 7 tokens (t .. t + 6): {@link Int8FewTokens}' q4x4 with 14 accumulators. */
    private static void q4x7(MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int n, int t,
                             float[] acc) {
        Arrays.fill(acc, 0, 7 * PASS, 0f);
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb, d5 = d4 + nb, d6 = d5 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE, tb = vb + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), b2 = a2;
            ShortVector a3 = ShortVector.broadcast(S, bias[d3 + b]), b3 = a3;
            ShortVector a4 = ShortVector.broadcast(S, bias[d4 + b]), b4 = a4;
            ShortVector a5 = ShortVector.broadcast(S, bias[d5 + b]), b5 = a5;
            ShortVector a6 = ShortVector.broadcast(S, bias[d6 + b]), b6 = a6;
            // y: column 32b + 2qd's activations, token after token (QuantizedActivations.shortColumns)
            for (int qd = 0, y = 32 * b * n + t; qd < 8; qd++, y += 2 * n) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)
                final int y1 = y + 16 * n, y2 = y + n, y3 = y + 17 * n; // columns + 16, + 1, + 17
                ShortVector n0 = v.and((short) 0xF), m0 = u.and((short) 0xF);
                ShortVector x00 = ShortVector.broadcast(S, xq[y]);
                a0 = (n0.mul(x00)).add(a0);
                b0 = (m0.mul(x00)).add(b0);
                ShortVector x10 = ShortVector.broadcast(S, xq[y + 1]);
                a1 = (n0.mul(x10)).add(a1);
                b1 = (m0.mul(x10)).add(b1);
                ShortVector x20 = ShortVector.broadcast(S, xq[y + 2]);
                a2 = (n0.mul(x20)).add(a2);
                b2 = (m0.mul(x20)).add(b2);
                ShortVector x30 = ShortVector.broadcast(S, xq[y + 3]);
                a3 = (n0.mul(x30)).add(a3);
                b3 = (m0.mul(x30)).add(b3);
                ShortVector x40 = ShortVector.broadcast(S, xq[y + 4]);
                a4 = (n0.mul(x40)).add(a4);
                b4 = (m0.mul(x40)).add(b4);
                ShortVector x50 = ShortVector.broadcast(S, xq[y + 5]);
                a5 = (n0.mul(x50)).add(a5);
                b5 = (m0.mul(x50)).add(b5);
                ShortVector x60 = ShortVector.broadcast(S, xq[y + 6]);
                a6 = (n0.mul(x60)).add(a6);
                b6 = (m0.mul(x60)).add(b6);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF), m1 = u.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                ShortVector x01 = ShortVector.broadcast(S, xq[y1]);
                a0 = (n1.mul(x01)).add(a0);
                b0 = (m1.mul(x01)).add(b0);
                ShortVector x11 = ShortVector.broadcast(S, xq[y1 + 1]);
                a1 = (n1.mul(x11)).add(a1);
                b1 = (m1.mul(x11)).add(b1);
                ShortVector x21 = ShortVector.broadcast(S, xq[y1 + 2]);
                a2 = (n1.mul(x21)).add(a2);
                b2 = (m1.mul(x21)).add(b2);
                ShortVector x31 = ShortVector.broadcast(S, xq[y1 + 3]);
                a3 = (n1.mul(x31)).add(a3);
                b3 = (m1.mul(x31)).add(b3);
                ShortVector x41 = ShortVector.broadcast(S, xq[y1 + 4]);
                a4 = (n1.mul(x41)).add(a4);
                b4 = (m1.mul(x41)).add(b4);
                ShortVector x51 = ShortVector.broadcast(S, xq[y1 + 5]);
                a5 = (n1.mul(x51)).add(a5);
                b5 = (m1.mul(x51)).add(b5);
                ShortVector x61 = ShortVector.broadcast(S, xq[y1 + 6]);
                a6 = (n1.mul(x61)).add(a6);
                b6 = (m1.mul(x61)).add(b6);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF), m2 = u.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                ShortVector x02 = ShortVector.broadcast(S, xq[y2]);
                a0 = (n2.mul(x02)).add(a0);
                b0 = (m2.mul(x02)).add(b0);
                ShortVector x12 = ShortVector.broadcast(S, xq[y2 + 1]);
                a1 = (n2.mul(x12)).add(a1);
                b1 = (m2.mul(x12)).add(b1);
                ShortVector x22 = ShortVector.broadcast(S, xq[y2 + 2]);
                a2 = (n2.mul(x22)).add(a2);
                b2 = (m2.mul(x22)).add(b2);
                ShortVector x32 = ShortVector.broadcast(S, xq[y2 + 3]);
                a3 = (n2.mul(x32)).add(a3);
                b3 = (m2.mul(x32)).add(b3);
                ShortVector x42 = ShortVector.broadcast(S, xq[y2 + 4]);
                a4 = (n2.mul(x42)).add(a4);
                b4 = (m2.mul(x42)).add(b4);
                ShortVector x52 = ShortVector.broadcast(S, xq[y2 + 5]);
                a5 = (n2.mul(x52)).add(a5);
                b5 = (m2.mul(x52)).add(b5);
                ShortVector x62 = ShortVector.broadcast(S, xq[y2 + 6]);
                a6 = (n2.mul(x62)).add(a6);
                b6 = (m2.mul(x62)).add(b6);
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12), m3 = u.lanewise(VectorOperators.LSHR, 12);
                ShortVector x03 = ShortVector.broadcast(S, xq[y3]);
                a0 = (n3.mul(x03)).add(a0);
                b0 = (m3.mul(x03)).add(b0);
                ShortVector x13 = ShortVector.broadcast(S, xq[y3 + 1]);
                a1 = (n3.mul(x13)).add(a1);
                b1 = (m3.mul(x13)).add(b1);
                ShortVector x23 = ShortVector.broadcast(S, xq[y3 + 2]);
                a2 = (n3.mul(x23)).add(a2);
                b2 = (m3.mul(x23)).add(b2);
                ShortVector x33 = ShortVector.broadcast(S, xq[y3 + 3]);
                a3 = (n3.mul(x33)).add(a3);
                b3 = (m3.mul(x33)).add(b3);
                ShortVector x43 = ShortVector.broadcast(S, xq[y3 + 4]);
                a4 = (n3.mul(x43)).add(a4);
                b4 = (m3.mul(x43)).add(b4);
                ShortVector x53 = ShortVector.broadcast(S, xq[y3 + 5]);
                a5 = (n3.mul(x53)).add(a5);
                b5 = (m3.mul(x53)).add(b5);
                ShortVector x63 = ShortVector.broadcast(S, xq[y3 + 6]);
                a6 = (n3.mul(x63)).add(a6);
                b6 = (m3.mul(x63)).add(b6);
            }
            // the 16-bit sums wait in acc past the f32 sums and the per-block f32 part runs in a method of its own: with it
            // inline these passes were too big for C1's profiled tier (docs/PERFORMANCE.md, "Boxed once in a whole-model step")
            FV.cast(SV.cast(a0).reinterpretAsFloats()).intoArray(acc, SUMS + 0 * FL);
            FV.cast(SV.cast(b0).reinterpretAsFloats()).intoArray(acc, SUMS + 1 * FL);
            FV.cast(SV.cast(a1).reinterpretAsFloats()).intoArray(acc, SUMS + 2 * FL);
            FV.cast(SV.cast(b1).reinterpretAsFloats()).intoArray(acc, SUMS + 3 * FL);
            FV.cast(SV.cast(a2).reinterpretAsFloats()).intoArray(acc, SUMS + 4 * FL);
            FV.cast(SV.cast(b2).reinterpretAsFloats()).intoArray(acc, SUMS + 5 * FL);
            FV.cast(SV.cast(a3).reinterpretAsFloats()).intoArray(acc, SUMS + 6 * FL);
            FV.cast(SV.cast(b3).reinterpretAsFloats()).intoArray(acc, SUMS + 7 * FL);
            FV.cast(SV.cast(a4).reinterpretAsFloats()).intoArray(acc, SUMS + 8 * FL);
            FV.cast(SV.cast(b4).reinterpretAsFloats()).intoArray(acc, SUMS + 9 * FL);
            FV.cast(SV.cast(a5).reinterpretAsFloats()).intoArray(acc, SUMS + 10 * FL);
            FV.cast(SV.cast(b5).reinterpretAsFloats()).intoArray(acc, SUMS + 11 * FL);
            FV.cast(SV.cast(a6).reinterpretAsFloats()).intoArray(acc, SUMS + 12 * FL);
            FV.cast(SV.cast(b6).reinterpretAsFloats()).intoArray(acc, SUMS + 13 * FL);
            blockEnd(w, ta, tb, 7, xd, d0, nb, b, acc);
        }
    }

    /** 6 tokens (t .. t + 5): {@link Int8FewTokens}' q4x4 with 12 accumulators. */
    private static void q4x6(MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int n, int t,
                             float[] acc) {
        Arrays.fill(acc, 0, 6 * PASS, 0f);
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb, d5 = d4 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE, tb = vb + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), b2 = a2;
            ShortVector a3 = ShortVector.broadcast(S, bias[d3 + b]), b3 = a3;
            ShortVector a4 = ShortVector.broadcast(S, bias[d4 + b]), b4 = a4;
            ShortVector a5 = ShortVector.broadcast(S, bias[d5 + b]), b5 = a5;
            // y: column 32b + 2qd's activations, token after token (QuantizedActivations.shortColumns)
            for (int qd = 0, y = 32 * b * n + t; qd < 8; qd++, y += 2 * n) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)
                final int y1 = y + 16 * n, y2 = y + n, y3 = y + 17 * n; // columns + 16, + 1, + 17
                ShortVector n0 = v.and((short) 0xF), m0 = u.and((short) 0xF);
                ShortVector x00 = ShortVector.broadcast(S, xq[y]);
                a0 = (n0.mul(x00)).add(a0);
                b0 = (m0.mul(x00)).add(b0);
                ShortVector x10 = ShortVector.broadcast(S, xq[y + 1]);
                a1 = (n0.mul(x10)).add(a1);
                b1 = (m0.mul(x10)).add(b1);
                ShortVector x20 = ShortVector.broadcast(S, xq[y + 2]);
                a2 = (n0.mul(x20)).add(a2);
                b2 = (m0.mul(x20)).add(b2);
                ShortVector x30 = ShortVector.broadcast(S, xq[y + 3]);
                a3 = (n0.mul(x30)).add(a3);
                b3 = (m0.mul(x30)).add(b3);
                ShortVector x40 = ShortVector.broadcast(S, xq[y + 4]);
                a4 = (n0.mul(x40)).add(a4);
                b4 = (m0.mul(x40)).add(b4);
                ShortVector x50 = ShortVector.broadcast(S, xq[y + 5]);
                a5 = (n0.mul(x50)).add(a5);
                b5 = (m0.mul(x50)).add(b5);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF), m1 = u.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                ShortVector x01 = ShortVector.broadcast(S, xq[y1]);
                a0 = (n1.mul(x01)).add(a0);
                b0 = (m1.mul(x01)).add(b0);
                ShortVector x11 = ShortVector.broadcast(S, xq[y1 + 1]);
                a1 = (n1.mul(x11)).add(a1);
                b1 = (m1.mul(x11)).add(b1);
                ShortVector x21 = ShortVector.broadcast(S, xq[y1 + 2]);
                a2 = (n1.mul(x21)).add(a2);
                b2 = (m1.mul(x21)).add(b2);
                ShortVector x31 = ShortVector.broadcast(S, xq[y1 + 3]);
                a3 = (n1.mul(x31)).add(a3);
                b3 = (m1.mul(x31)).add(b3);
                ShortVector x41 = ShortVector.broadcast(S, xq[y1 + 4]);
                a4 = (n1.mul(x41)).add(a4);
                b4 = (m1.mul(x41)).add(b4);
                ShortVector x51 = ShortVector.broadcast(S, xq[y1 + 5]);
                a5 = (n1.mul(x51)).add(a5);
                b5 = (m1.mul(x51)).add(b5);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF), m2 = u.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                ShortVector x02 = ShortVector.broadcast(S, xq[y2]);
                a0 = (n2.mul(x02)).add(a0);
                b0 = (m2.mul(x02)).add(b0);
                ShortVector x12 = ShortVector.broadcast(S, xq[y2 + 1]);
                a1 = (n2.mul(x12)).add(a1);
                b1 = (m2.mul(x12)).add(b1);
                ShortVector x22 = ShortVector.broadcast(S, xq[y2 + 2]);
                a2 = (n2.mul(x22)).add(a2);
                b2 = (m2.mul(x22)).add(b2);
                ShortVector x32 = ShortVector.broadcast(S, xq[y2 + 3]);
                a3 = (n2.mul(x32)).add(a3);
                b3 = (m2.mul(x32)).add(b3);
                ShortVector x42 = ShortVector.broadcast(S, xq[y2 + 4]);
                a4 = (n2.mul(x42)).add(a4);
                b4 = (m2.mul(x42)).add(b4);
                ShortVector x52 = ShortVector.broadcast(S, xq[y2 + 5]);
                a5 = (n2.mul(x52)).add(a5);
                b5 = (m2.mul(x52)).add(b5);
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12), m3 = u.lanewise(VectorOperators.LSHR, 12);
                ShortVector x03 = ShortVector.broadcast(S, xq[y3]);
                a0 = (n3.mul(x03)).add(a0);
                b0 = (m3.mul(x03)).add(b0);
                ShortVector x13 = ShortVector.broadcast(S, xq[y3 + 1]);
                a1 = (n3.mul(x13)).add(a1);
                b1 = (m3.mul(x13)).add(b1);
                ShortVector x23 = ShortVector.broadcast(S, xq[y3 + 2]);
                a2 = (n3.mul(x23)).add(a2);
                b2 = (m3.mul(x23)).add(b2);
                ShortVector x33 = ShortVector.broadcast(S, xq[y3 + 3]);
                a3 = (n3.mul(x33)).add(a3);
                b3 = (m3.mul(x33)).add(b3);
                ShortVector x43 = ShortVector.broadcast(S, xq[y3 + 4]);
                a4 = (n3.mul(x43)).add(a4);
                b4 = (m3.mul(x43)).add(b4);
                ShortVector x53 = ShortVector.broadcast(S, xq[y3 + 5]);
                a5 = (n3.mul(x53)).add(a5);
                b5 = (m3.mul(x53)).add(b5);
            }
            // the 16-bit sums wait in acc past the f32 sums and the per-block f32 part runs in a method of its own: with it
            // inline these passes were too big for C1's profiled tier (docs/PERFORMANCE.md, "Boxed once in a whole-model step")
            FV.cast(SV.cast(a0).reinterpretAsFloats()).intoArray(acc, SUMS + 0 * FL);
            FV.cast(SV.cast(b0).reinterpretAsFloats()).intoArray(acc, SUMS + 1 * FL);
            FV.cast(SV.cast(a1).reinterpretAsFloats()).intoArray(acc, SUMS + 2 * FL);
            FV.cast(SV.cast(b1).reinterpretAsFloats()).intoArray(acc, SUMS + 3 * FL);
            FV.cast(SV.cast(a2).reinterpretAsFloats()).intoArray(acc, SUMS + 4 * FL);
            FV.cast(SV.cast(b2).reinterpretAsFloats()).intoArray(acc, SUMS + 5 * FL);
            FV.cast(SV.cast(a3).reinterpretAsFloats()).intoArray(acc, SUMS + 6 * FL);
            FV.cast(SV.cast(b3).reinterpretAsFloats()).intoArray(acc, SUMS + 7 * FL);
            FV.cast(SV.cast(a4).reinterpretAsFloats()).intoArray(acc, SUMS + 8 * FL);
            FV.cast(SV.cast(b4).reinterpretAsFloats()).intoArray(acc, SUMS + 9 * FL);
            FV.cast(SV.cast(a5).reinterpretAsFloats()).intoArray(acc, SUMS + 10 * FL);
            FV.cast(SV.cast(b5).reinterpretAsFloats()).intoArray(acc, SUMS + 11 * FL);
            blockEnd(w, ta, tb, 6, xd, d0, nb, b, acc);
        }
    }

    /** 5 tokens (t .. t + 4): {@link Int8FewTokens}' q4x4 with 10 accumulators. */
    private static void q4x5(MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int n, int t,
                             float[] acc) {
        Arrays.fill(acc, 0, 5 * PASS, 0f);
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE, tb = vb + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), b2 = a2;
            ShortVector a3 = ShortVector.broadcast(S, bias[d3 + b]), b3 = a3;
            ShortVector a4 = ShortVector.broadcast(S, bias[d4 + b]), b4 = a4;
            // y: column 32b + 2qd's activations, token after token (QuantizedActivations.shortColumns)
            for (int qd = 0, y = 32 * b * n + t; qd < 8; qd++, y += 2 * n) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)
                final int y1 = y + 16 * n, y2 = y + n, y3 = y + 17 * n; // columns + 16, + 1, + 17
                ShortVector n0 = v.and((short) 0xF), m0 = u.and((short) 0xF);
                ShortVector x00 = ShortVector.broadcast(S, xq[y]);
                a0 = (n0.mul(x00)).add(a0);
                b0 = (m0.mul(x00)).add(b0);
                ShortVector x10 = ShortVector.broadcast(S, xq[y + 1]);
                a1 = (n0.mul(x10)).add(a1);
                b1 = (m0.mul(x10)).add(b1);
                ShortVector x20 = ShortVector.broadcast(S, xq[y + 2]);
                a2 = (n0.mul(x20)).add(a2);
                b2 = (m0.mul(x20)).add(b2);
                ShortVector x30 = ShortVector.broadcast(S, xq[y + 3]);
                a3 = (n0.mul(x30)).add(a3);
                b3 = (m0.mul(x30)).add(b3);
                ShortVector x40 = ShortVector.broadcast(S, xq[y + 4]);
                a4 = (n0.mul(x40)).add(a4);
                b4 = (m0.mul(x40)).add(b4);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF), m1 = u.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                ShortVector x01 = ShortVector.broadcast(S, xq[y1]);
                a0 = (n1.mul(x01)).add(a0);
                b0 = (m1.mul(x01)).add(b0);
                ShortVector x11 = ShortVector.broadcast(S, xq[y1 + 1]);
                a1 = (n1.mul(x11)).add(a1);
                b1 = (m1.mul(x11)).add(b1);
                ShortVector x21 = ShortVector.broadcast(S, xq[y1 + 2]);
                a2 = (n1.mul(x21)).add(a2);
                b2 = (m1.mul(x21)).add(b2);
                ShortVector x31 = ShortVector.broadcast(S, xq[y1 + 3]);
                a3 = (n1.mul(x31)).add(a3);
                b3 = (m1.mul(x31)).add(b3);
                ShortVector x41 = ShortVector.broadcast(S, xq[y1 + 4]);
                a4 = (n1.mul(x41)).add(a4);
                b4 = (m1.mul(x41)).add(b4);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF), m2 = u.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                ShortVector x02 = ShortVector.broadcast(S, xq[y2]);
                a0 = (n2.mul(x02)).add(a0);
                b0 = (m2.mul(x02)).add(b0);
                ShortVector x12 = ShortVector.broadcast(S, xq[y2 + 1]);
                a1 = (n2.mul(x12)).add(a1);
                b1 = (m2.mul(x12)).add(b1);
                ShortVector x22 = ShortVector.broadcast(S, xq[y2 + 2]);
                a2 = (n2.mul(x22)).add(a2);
                b2 = (m2.mul(x22)).add(b2);
                ShortVector x32 = ShortVector.broadcast(S, xq[y2 + 3]);
                a3 = (n2.mul(x32)).add(a3);
                b3 = (m2.mul(x32)).add(b3);
                ShortVector x42 = ShortVector.broadcast(S, xq[y2 + 4]);
                a4 = (n2.mul(x42)).add(a4);
                b4 = (m2.mul(x42)).add(b4);
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12), m3 = u.lanewise(VectorOperators.LSHR, 12);
                ShortVector x03 = ShortVector.broadcast(S, xq[y3]);
                a0 = (n3.mul(x03)).add(a0);
                b0 = (m3.mul(x03)).add(b0);
                ShortVector x13 = ShortVector.broadcast(S, xq[y3 + 1]);
                a1 = (n3.mul(x13)).add(a1);
                b1 = (m3.mul(x13)).add(b1);
                ShortVector x23 = ShortVector.broadcast(S, xq[y3 + 2]);
                a2 = (n3.mul(x23)).add(a2);
                b2 = (m3.mul(x23)).add(b2);
                ShortVector x33 = ShortVector.broadcast(S, xq[y3 + 3]);
                a3 = (n3.mul(x33)).add(a3);
                b3 = (m3.mul(x33)).add(b3);
                ShortVector x43 = ShortVector.broadcast(S, xq[y3 + 4]);
                a4 = (n3.mul(x43)).add(a4);
                b4 = (m3.mul(x43)).add(b4);
            }
            // the 16-bit sums wait in acc past the f32 sums and the per-block f32 part runs in a method of its own: with it
            // inline these passes were too big for C1's profiled tier (docs/PERFORMANCE.md, "Boxed once in a whole-model step")
            FV.cast(SV.cast(a0).reinterpretAsFloats()).intoArray(acc, SUMS + 0 * FL);
            FV.cast(SV.cast(b0).reinterpretAsFloats()).intoArray(acc, SUMS + 1 * FL);
            FV.cast(SV.cast(a1).reinterpretAsFloats()).intoArray(acc, SUMS + 2 * FL);
            FV.cast(SV.cast(b1).reinterpretAsFloats()).intoArray(acc, SUMS + 3 * FL);
            FV.cast(SV.cast(a2).reinterpretAsFloats()).intoArray(acc, SUMS + 4 * FL);
            FV.cast(SV.cast(b2).reinterpretAsFloats()).intoArray(acc, SUMS + 5 * FL);
            FV.cast(SV.cast(a3).reinterpretAsFloats()).intoArray(acc, SUMS + 6 * FL);
            FV.cast(SV.cast(b3).reinterpretAsFloats()).intoArray(acc, SUMS + 7 * FL);
            FV.cast(SV.cast(a4).reinterpretAsFloats()).intoArray(acc, SUMS + 8 * FL);
            FV.cast(SV.cast(b4).reinterpretAsFloats()).intoArray(acc, SUMS + 9 * FL);
            blockEnd(w, ta, tb, 5, xd, d0, nb, b, acc);
        }
    }
}
