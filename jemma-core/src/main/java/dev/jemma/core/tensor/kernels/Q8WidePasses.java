package dev.jemma.core.tensor.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

import static dev.jemma.core.tensor.kernels.VectorWidth.BHV;
import static dev.jemma.core.tensor.kernels.VectorWidth.F16_MAGIC;
import static dev.jemma.core.tensor.kernels.VectorWidth.FV;
import static dev.jemma.core.tensor.kernels.VectorWidth.IV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SHV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SV;

/**
 * Q8_0 calls of 5, 6 or 7 tokens in one pass at 512 bits (32 registers: 2·k accumulators, two weight vectors and a
 * broadcast fit), where {@link Int8FewTokens#q8} runs two (4 + 1 is not a pass; 5 = 3 + 2, 6 = 4 + 2, 7 = 4 + 3) and so
 * widens every weight twice. These counts are common in a serving step's output projection (262,144 × 1,152, a third of
 * a decode step's CPU at C = 8): the decode rows of C − 1 streams while the C-th is still reading its prompt, and of
 * streams a step left behind as late. Each token's arithmetic is {@link Int8FewTokens}' q8x8's — the same exact integer
 * block sums in f32 lanes, then per block s = (S·d_w)·dx + s in the single-token kernel's order — so every result is
 * bit-identical to {@link Int8Kernels#q8} alone ({@code FewTokensTest}). One core, 262,144 × 1,152, thread CPU time on a
 * loaded machine: docs/PERFORMANCE.md, "Batched steps at 4 and 8 rows".
 */
final class Q8WidePasses {
    private static final VectorSpecies<Short> S = VectorWidth.S;
    private static final VectorSpecies<Float> F = VectorWidth.F;
    private static final VectorSpecies<Integer> I = VectorWidth.I;
    private static final VectorSpecies<Short> SH = VectorWidth.SH;
    private static final VectorSpecies<Byte> BH = VectorWidth.BH;
    private static final int L = VectorWidth.SHORTS;
    private static final int FL = VectorWidth.FLOATS;
    private static final int PASS = 2 * L;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Whether single passes of 5–7 tokens run (512 bits; below it 16 registers hold no more than a 4-token pass). */
    static final boolean ON = L >= 32 && !Boolean.getBoolean("jemma.q8WidePasses.off");

    private Q8WidePasses() {
    }

    /** Whether a call of n tokens over a Q8_0 copy runs here. */
    static boolean takes(int n) {
        return ON && n >= 5 && n <= 7;
    }

    /** {@link Int8FewTokens#q8} for 5 to 7 tokens ({@link #takes}), one pass per slice. */
    static void q8(MemorySegment w, int i0, int i1, int rows, int nb, QuantizedActivations a, float[] xf, float[] out, float[] acc) {
        final int n = a.tokens, groups = Interleaved.groups(rows);
        final long gBytes = (long) nb * Interleaved.Q8_TILE;
        for (int item = i0; item < i1; item++) {
            for (int g = 2 * item; g < Math.min(groups, 2 * item + 2); g++) {
                final int r0 = g * Interleaved.ROWS;
                for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) {
                    // a slice's rows: e .. e + FL − 1 (acc[0, FL)) and 16 + e .. (acc[FL, 2FL))
                    final int e = l0 / 2, lo = Math.min(FL, rows - r0 - e), hi = Math.min(FL, rows - r0 - 16 - e);
                    if (lo <= 0) continue;
                    if (n == 7) q8x7(w, g * gBytes, l0, nb, xf, a.d, a.tokens, 0, acc);
                    else if (n == 6) q8x6(w, g * gBytes, l0, nb, xf, a.d, a.tokens, 0, acc);
                    else q8x5(w, g * gBytes, l0, nb, xf, a.d, a.tokens, 0, acc);
                    for (int j = 0; j < n; j++) {
                        System.arraycopy(acc, j * PASS, out, j * rows + r0 + e, lo);
                        if (hi > 0) System.arraycopy(acc, j * PASS + FL, out, j * rows + r0 + 16 + e, hi);
                    }
                }
            }
        }
    }

    /** 5 tokens (t .. t + 4) in one pass: {@link Int8FewTokens}' q8x8 with 5 accumulator pairs. */
    private static void q8x5(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int n, int t, float[] acc) {
        Arrays.fill(acc, 0, 5 * PASS, 0f);
        final int e = l0 / 2;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0;
            // xo: the column's activations, token after token (QuantizedActivations.floats)
            for (int c = 32 * b, end = c + 32, xo = c * n + t; c < end; c++, xo += n) {
                ShortVector p = SV.cast(BHV.cast(ByteVector.fromMemorySegment(BH, w, tile + 64 + 32L * (c & 31) + l0, LE))
                        .convertShape(VectorOperators.B2S, S, 0));
                FloatVector lo = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0));
                FloatVector hi = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0));
                FloatVector v0 = FloatVector.broadcast(F, xf[xo]);
                a0 = lo.fma(v0, a0);
                b0 = hi.fma(v0, b0);
                FloatVector v1 = FloatVector.broadcast(F, xf[xo + 1]);
                a1 = lo.fma(v1, a1);
                b1 = hi.fma(v1, b1);
                FloatVector v2 = FloatVector.broadcast(F, xf[xo + 2]);
                a2 = lo.fma(v2, a2);
                b2 = hi.fma(v2, b2);
                FloatVector v3 = FloatVector.broadcast(F, xf[xo + 3]);
                a3 = lo.fma(v3, a3);
                b3 = hi.fma(v3, b3);
                FloatVector v4 = FloatVector.broadcast(F, xf[xo + 4]);
                a4 = lo.fma(v4, a4);
                b4 = hi.fma(v4, b4);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q8's operations in its order (S exact in f32 as in its int lanes)
            FloatVector dlo = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector dhi = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(a0).mul(dlo).fma(e0, FloatVector.fromArray(F, acc, 0 * PASS)).intoArray(acc, 0 * PASS);
            FV.cast(b0).mul(dhi).fma(e0, FloatVector.fromArray(F, acc, 0 * PASS + FL)).intoArray(acc, 0 * PASS + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(a1).mul(dlo).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(b1).mul(dhi).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FloatVector e2 = FloatVector.broadcast(F, xd[d2 + b]);
            FV.cast(a2).mul(dlo).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS)).intoArray(acc, 2 * PASS);
            FV.cast(b2).mul(dhi).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + FL)).intoArray(acc, 2 * PASS + FL);
            FloatVector e3 = FloatVector.broadcast(F, xd[d3 + b]);
            FV.cast(a3).mul(dlo).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS)).intoArray(acc, 3 * PASS);
            FV.cast(b3).mul(dhi).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS + FL)).intoArray(acc, 3 * PASS + FL);
            FloatVector e4 = FloatVector.broadcast(F, xd[d4 + b]);
            FV.cast(a4).mul(dlo).fma(e4, FloatVector.fromArray(F, acc, 4 * PASS)).intoArray(acc, 4 * PASS);
            FV.cast(b4).mul(dhi).fma(e4, FloatVector.fromArray(F, acc, 4 * PASS + FL)).intoArray(acc, 4 * PASS + FL);
        }
    }

    /** 6 tokens (t .. t + 5) in one pass: {@link Int8FewTokens}' q8x8 with 6 accumulator pairs. */
    private static void q8x6(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int n, int t, float[] acc) {
        Arrays.fill(acc, 0, 6 * PASS, 0f);
        final int e = l0 / 2;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb, d5 = d4 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0;
            // xo: the column's activations, token after token (QuantizedActivations.floats)
            for (int c = 32 * b, end = c + 32, xo = c * n + t; c < end; c++, xo += n) {
                ShortVector p = SV.cast(BHV.cast(ByteVector.fromMemorySegment(BH, w, tile + 64 + 32L * (c & 31) + l0, LE))
                        .convertShape(VectorOperators.B2S, S, 0));
                FloatVector lo = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0));
                FloatVector hi = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0));
                FloatVector v0 = FloatVector.broadcast(F, xf[xo]);
                a0 = lo.fma(v0, a0);
                b0 = hi.fma(v0, b0);
                FloatVector v1 = FloatVector.broadcast(F, xf[xo + 1]);
                a1 = lo.fma(v1, a1);
                b1 = hi.fma(v1, b1);
                FloatVector v2 = FloatVector.broadcast(F, xf[xo + 2]);
                a2 = lo.fma(v2, a2);
                b2 = hi.fma(v2, b2);
                FloatVector v3 = FloatVector.broadcast(F, xf[xo + 3]);
                a3 = lo.fma(v3, a3);
                b3 = hi.fma(v3, b3);
                FloatVector v4 = FloatVector.broadcast(F, xf[xo + 4]);
                a4 = lo.fma(v4, a4);
                b4 = hi.fma(v4, b4);
                FloatVector v5 = FloatVector.broadcast(F, xf[xo + 5]);
                a5 = lo.fma(v5, a5);
                b5 = hi.fma(v5, b5);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q8's operations in its order (S exact in f32 as in its int lanes)
            FloatVector dlo = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector dhi = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(a0).mul(dlo).fma(e0, FloatVector.fromArray(F, acc, 0 * PASS)).intoArray(acc, 0 * PASS);
            FV.cast(b0).mul(dhi).fma(e0, FloatVector.fromArray(F, acc, 0 * PASS + FL)).intoArray(acc, 0 * PASS + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(a1).mul(dlo).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(b1).mul(dhi).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FloatVector e2 = FloatVector.broadcast(F, xd[d2 + b]);
            FV.cast(a2).mul(dlo).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS)).intoArray(acc, 2 * PASS);
            FV.cast(b2).mul(dhi).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + FL)).intoArray(acc, 2 * PASS + FL);
            FloatVector e3 = FloatVector.broadcast(F, xd[d3 + b]);
            FV.cast(a3).mul(dlo).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS)).intoArray(acc, 3 * PASS);
            FV.cast(b3).mul(dhi).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS + FL)).intoArray(acc, 3 * PASS + FL);
            FloatVector e4 = FloatVector.broadcast(F, xd[d4 + b]);
            FV.cast(a4).mul(dlo).fma(e4, FloatVector.fromArray(F, acc, 4 * PASS)).intoArray(acc, 4 * PASS);
            FV.cast(b4).mul(dhi).fma(e4, FloatVector.fromArray(F, acc, 4 * PASS + FL)).intoArray(acc, 4 * PASS + FL);
            FloatVector e5 = FloatVector.broadcast(F, xd[d5 + b]);
            FV.cast(a5).mul(dlo).fma(e5, FloatVector.fromArray(F, acc, 5 * PASS)).intoArray(acc, 5 * PASS);
            FV.cast(b5).mul(dhi).fma(e5, FloatVector.fromArray(F, acc, 5 * PASS + FL)).intoArray(acc, 5 * PASS + FL);
        }
    }

    /** 7 tokens (t .. t + 6) in one pass: {@link Int8FewTokens}' q8x8 with 7 accumulator pairs. */
    private static void q8x7(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int n, int t, float[] acc) {
        Arrays.fill(acc, 0, 7 * PASS, 0f);
        final int e = l0 / 2;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb, d5 = d4 + nb, d6 = d5 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0, a6 = a0, b6 = a0;
            // xo: the column's activations, token after token (QuantizedActivations.floats)
            for (int c = 32 * b, end = c + 32, xo = c * n + t; c < end; c++, xo += n) {
                ShortVector p = SV.cast(BHV.cast(ByteVector.fromMemorySegment(BH, w, tile + 64 + 32L * (c & 31) + l0, LE))
                        .convertShape(VectorOperators.B2S, S, 0));
                FloatVector lo = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0));
                FloatVector hi = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0));
                FloatVector v0 = FloatVector.broadcast(F, xf[xo]);
                a0 = lo.fma(v0, a0);
                b0 = hi.fma(v0, b0);
                FloatVector v1 = FloatVector.broadcast(F, xf[xo + 1]);
                a1 = lo.fma(v1, a1);
                b1 = hi.fma(v1, b1);
                FloatVector v2 = FloatVector.broadcast(F, xf[xo + 2]);
                a2 = lo.fma(v2, a2);
                b2 = hi.fma(v2, b2);
                FloatVector v3 = FloatVector.broadcast(F, xf[xo + 3]);
                a3 = lo.fma(v3, a3);
                b3 = hi.fma(v3, b3);
                FloatVector v4 = FloatVector.broadcast(F, xf[xo + 4]);
                a4 = lo.fma(v4, a4);
                b4 = hi.fma(v4, b4);
                FloatVector v5 = FloatVector.broadcast(F, xf[xo + 5]);
                a5 = lo.fma(v5, a5);
                b5 = hi.fma(v5, b5);
                FloatVector v6 = FloatVector.broadcast(F, xf[xo + 6]);
                a6 = lo.fma(v6, a6);
                b6 = hi.fma(v6, b6);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q8's operations in its order (S exact in f32 as in its int lanes)
            FloatVector dlo = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector dhi = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(a0).mul(dlo).fma(e0, FloatVector.fromArray(F, acc, 0 * PASS)).intoArray(acc, 0 * PASS);
            FV.cast(b0).mul(dhi).fma(e0, FloatVector.fromArray(F, acc, 0 * PASS + FL)).intoArray(acc, 0 * PASS + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(a1).mul(dlo).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(b1).mul(dhi).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FloatVector e2 = FloatVector.broadcast(F, xd[d2 + b]);
            FV.cast(a2).mul(dlo).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS)).intoArray(acc, 2 * PASS);
            FV.cast(b2).mul(dhi).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + FL)).intoArray(acc, 2 * PASS + FL);
            FloatVector e3 = FloatVector.broadcast(F, xd[d3 + b]);
            FV.cast(a3).mul(dlo).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS)).intoArray(acc, 3 * PASS);
            FV.cast(b3).mul(dhi).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS + FL)).intoArray(acc, 3 * PASS + FL);
            FloatVector e4 = FloatVector.broadcast(F, xd[d4 + b]);
            FV.cast(a4).mul(dlo).fma(e4, FloatVector.fromArray(F, acc, 4 * PASS)).intoArray(acc, 4 * PASS);
            FV.cast(b4).mul(dhi).fma(e4, FloatVector.fromArray(F, acc, 4 * PASS + FL)).intoArray(acc, 4 * PASS + FL);
            FloatVector e5 = FloatVector.broadcast(F, xd[d5 + b]);
            FV.cast(a5).mul(dlo).fma(e5, FloatVector.fromArray(F, acc, 5 * PASS)).intoArray(acc, 5 * PASS);
            FV.cast(b5).mul(dhi).fma(e5, FloatVector.fromArray(F, acc, 5 * PASS + FL)).intoArray(acc, 5 * PASS + FL);
            FloatVector e6 = FloatVector.broadcast(F, xd[d6 + b]);
            FV.cast(a6).mul(dlo).fma(e6, FloatVector.fromArray(F, acc, 6 * PASS)).intoArray(acc, 6 * PASS);
            FV.cast(b6).mul(dhi).fma(e6, FloatVector.fromArray(F, acc, 6 * PASS + FL)).intoArray(acc, 6 * PASS + FL);
        }
    }
}
