package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import static dev.jemma.core.tensor.kernels.Int8FewTokens.*;
import static dev.jemma.core.tensor.kernels.Int8Kernels.col;
import static dev.jemma.core.tensor.kernels.Int8Kernels.even;
import static dev.jemma.core.tensor.kernels.Int8Kernels.odd;
import static dev.jemma.core.tensor.kernels.VectorWidth.BHV;
import static dev.jemma.core.tensor.kernels.VectorWidth.F16_MAGIC;
import static dev.jemma.core.tensor.kernels.VectorWidth.FV;
import static dev.jemma.core.tensor.kernels.VectorWidth.IV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SHV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SV;

/**
 * The few-token kernels ({@link Int8FewTokens}) against variants of them, 512 bits, one core, in one JVM, slices of CPU time
 * in turn (as {@link Q4Variants}), best and median G multiply-adds per CPU second, and each variant's max |Δ| from the
 * current kernel (0 where a variant must be bit-identical). Not a test. Usage:
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes \
 *        dev.jemma.core.tensor.kernels.FewRowVariants base,t,k Q8_0:65536:1152 8 0.3 9
 * </pre>
 */
public final class FewRowVariants {
    public static void main(String[] args) {
        String[] vs = args[0].split(",");
        String[] p = args[1].split(":");
        GgmlType type = GgmlType.valueOf(p[0]);
        int rows = Integer.parseInt(p[1]), cols = Integer.parseInt(p[2]), k = Integer.parseInt(args[2]);
        MemorySegment w = Int8KernelSpeed.packed(type, rows, cols);
        QuantizedActivations xq = Int8KernelSpeed.activations(k, cols);
        float[] xf = xq.floats();
        // the activations as floats in the layout before branch serve19d (token after token), for the old kernels
        float[] xf0 = new float[k * cols];
        for (int i = 0; i < xf0.length; i++) xf0[i] = xq.q[i];
        int nb = cols / 32, items = Int8FewTokens.items(rows);
        float[] acc = new float[Int8FewTokens.scratchFloats()], out = new float[k * rows], ref = new float[k * rows];
        float[] xt = new float[8 * cols];
        Runnable base = type == GgmlType.Q8_0 ? (Q8WidePasses.takes(k) ? () -> Q8WidePasses.q8(w, 0, items, rows, nb, xq, xf, out, acc)
                : () -> Int8FewTokens.q8(w, 0, items, rows, nb, xq, xf, out, acc))
                : () -> Int8FewTokens.q4(w, 0, items, rows, nb, xq, out, acc);
        if (type == GgmlType.Q4_0) xq.shortColumns();
        if (vs[0].startsWith("tok")) base = () -> Int8Kernels.q8(w, 0, Interleaved.groups(rows), rows, nb, xq, 0, out);
        base.run();
        System.arraycopy(out, 0, ref, 0, ref.length);
        F32KernelSpeed.Call[] calls = new F32KernelSpeed.Call[vs.length];
        for (int i = 0; i < vs.length; i++) {
            calls[i] = switch (vs[i]) {
                case "base" -> base::run;
                case "tok" -> () -> Int8Kernels.q8(w, 0, Interleaved.groups(rows), rows, nb, xq, 0, out);
                case "tok2" -> () -> tokQ8x2(w, 0, Interleaved.groups(rows), rows, nb, xq.q, xq.d, 0, 0, out, 0);
                case "q8i" -> () -> q8i(w, 0, items, rows, nb, xq, xf, out, acc);
                case "q8n" -> () -> q8n(w, 0, items, rows, nb, xq, xf, out, acc);
                case "old4" -> () -> oldQ4(w, 0, items, rows, nb, xq, out, acc);
                case "old" -> () -> oldQ8(w, 0, items, rows, nb, xq, xf0, out, acc);
                case "copy", "t", "k" -> { int v = vs[i].charAt(0); yield () -> q8(v, w, 0, items, rows, nb, xq, xf0, xt, out, acc); }
                default -> throw new IllegalArgumentException(vs[i]);
            };
        }
        Q4Variants.alternate(vs, calls, (double) rows * cols * k, Double.parseDouble(args[3]), Integer.parseInt(args.length > 4 ? args[4] : "9"));
        for (int i = 0; i < vs.length; i++) {
            Arrays.fill(out, 0f);
            calls[i].run();
            float maxd = 0;
            for (int r = 0; r < out.length; r++) maxd = Math.max(maxd, Math.abs(out[r] - ref[r]));
            System.out.printf("  %s max|d| vs base %g%n", vs[i], maxd);
        }
    }

    /** Int8FewTokens.q8 at 512 bits, 8 tokens a pass, with kernel variant v. */
    static void q8(int v, MemorySegment w, int i0, int i1, int rows, int nb, QuantizedActivations a, float[] xf, float[] xt, float[] out,
                   float[] acc) {
        final int n = a.tokens, groups = Interleaved.groups(rows);
        final long gBytes = (long) nb * Interleaved.Q8_TILE;
        if (v == 't') for (int c = 0; c < a.cols; c++) for (int j = 0; j < 8; j++) xt[8 * c + j] = xf[j * a.cols + c];
        for (int item = i0; item < i1; item++) {
            for (int g = 2 * item; g < Math.min(groups, 2 * item + 2); g++) {
                final int r0 = g * Interleaved.ROWS;
                for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) {
                    final int e = l0 / 2, lo = Math.min(FL, rows - r0 - e), hi = Math.min(FL, rows - r0 - 16 - e);
                    if (lo <= 0) continue;
                    if (v == 't') q8x8t(w, g * gBytes, l0, nb, xt, a.d, a.cols, 0, acc);
                    else if (v == 'k') q8x8k(w, g * gBytes, l0, nb, xf, a.d, a.cols, 0, acc);
                    else oldQ8x8(w, g * gBytes, l0, nb, xf, a.d, a.cols, 0, acc);
                    for (int j = 0; j < 8; j++) {
                        System.arraycopy(acc, j * PASS, out, j * rows + r0 + e, lo);
                        if (hi > 0) System.arraycopy(acc, j * PASS + FL, out, j * rows + r0 + 16 + e, hi);
                    }
                }
            }
        }
    }

    static void oldQ8x8(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int cols, int t, float[] acc) {
        Arrays.fill(acc, 0, 8 * PASS, 0f);
        final int e = l0 / 2;
        final int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols, x4 = x3 + cols, x5 = x4 + cols, x6 = x5 + cols, x7 = x6 + cols;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb, d5 = d4 + nb, d6 = d5 + nb, d7 = d6 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0, a6 = a0, b6 = a0, a7 = a0, b7 = a0;
            for (int c = 32 * b, end = c + 32; c < end; c++) {
                ShortVector p = SV.cast(BHV.cast(ByteVector.fromMemorySegment(BH, w, tile + 64 + 32L * (c & 31) + l0, LE))
                        .convertShape(VectorOperators.B2S, S, 0));
                FloatVector lo = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0));
                FloatVector hi = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0));
                FloatVector v0 = FloatVector.broadcast(F, xf[x0 + c]);
                a0 = lo.fma(v0, a0);
                b0 = hi.fma(v0, b0);
                FloatVector v1 = FloatVector.broadcast(F, xf[x1 + c]);
                a1 = lo.fma(v1, a1);
                b1 = hi.fma(v1, b1);
                FloatVector v2 = FloatVector.broadcast(F, xf[x2 + c]);
                a2 = lo.fma(v2, a2);
                b2 = hi.fma(v2, b2);
                FloatVector v3 = FloatVector.broadcast(F, xf[x3 + c]);
                a3 = lo.fma(v3, a3);
                b3 = hi.fma(v3, b3);
                FloatVector v4 = FloatVector.broadcast(F, xf[x4 + c]);
                a4 = lo.fma(v4, a4);
                b4 = hi.fma(v4, b4);
                FloatVector v5 = FloatVector.broadcast(F, xf[x5 + c]);
                a5 = lo.fma(v5, a5);
                b5 = hi.fma(v5, b5);
                FloatVector v6 = FloatVector.broadcast(F, xf[x6 + c]);
                a6 = lo.fma(v6, a6);
                b6 = hi.fma(v6, b6);
                FloatVector v7 = FloatVector.broadcast(F, xf[x7 + c]);
                a7 = lo.fma(v7, a7);
                b7 = hi.fma(v7, b7);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q8's operations in its order (S exact in f32 as in its int lanes)
            FloatVector dlo = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector dhi = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(a0).mul(dlo).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(b0).mul(dhi).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
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
            FloatVector e7 = FloatVector.broadcast(F, xd[d7 + b]);
            FV.cast(a7).mul(dlo).fma(e7, FloatVector.fromArray(F, acc, 7 * PASS)).intoArray(acc, 7 * PASS);
            FV.cast(b7).mul(dhi).fma(e7, FloatVector.fromArray(F, acc, 7 * PASS + FL)).intoArray(acc, 7 * PASS + FL);
        }
    }

    static void q8x8t(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int cols, int t, float[] acc) {
        Arrays.fill(acc, 0, 8 * PASS, 0f);
        final int e = l0 / 2;
        
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb, d5 = d4 + nb, d6 = d5 + nb, d7 = d6 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0, a6 = a0, b6 = a0, a7 = a0, b7 = a0;
            for (int c = 32 * b, end = c + 32; c < end; c++) {
                final int xo = 8 * c;
                ShortVector p = SV.cast(BHV.cast(ByteVector.fromMemorySegment(BH, w, tile + 64 + 32L * (c & 31) + l0, LE))
                        .convertShape(VectorOperators.B2S, S, 0));
                FloatVector lo = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0));
                FloatVector hi = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0));
                FloatVector v0 = FloatVector.broadcast(F, xf[xo + 0]);
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
                FloatVector v7 = FloatVector.broadcast(F, xf[xo + 7]);
                a7 = lo.fma(v7, a7);
                b7 = hi.fma(v7, b7);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q8's operations in its order (S exact in f32 as in its int lanes)
            FloatVector dlo = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector dhi = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(a0).mul(dlo).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(b0).mul(dhi).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
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
            FloatVector e7 = FloatVector.broadcast(F, xd[d7 + b]);
            FV.cast(a7).mul(dlo).fma(e7, FloatVector.fromArray(F, acc, 7 * PASS)).intoArray(acc, 7 * PASS);
            FV.cast(b7).mul(dhi).fma(e7, FloatVector.fromArray(F, acc, 7 * PASS + FL)).intoArray(acc, 7 * PASS + FL);
        }
    }

    static void q8x8k(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int cols, int t, float[] acc) {
        Arrays.fill(acc, 0, 8 * PASS, 0f);
        final int e = l0 / 2;
        final int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols, x4 = x3 + cols, x5 = x4 + cols, x6 = x5 + cols, x7 = x6 + cols;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb, d5 = d4 + nb, d6 = d5 + nb, d7 = d6 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0, a6 = a0, b6 = a0, a7 = a0, b7 = a0;
            for (int k = 0; k < 32; k++) {
                final int c = 32 * b + k;
                ShortVector p = SV.cast(BHV.cast(ByteVector.fromMemorySegment(BH, w, tile + 64 + 32L * k + l0, LE))
                        .convertShape(VectorOperators.B2S, S, 0));
                FloatVector lo = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0));
                FloatVector hi = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0));
                FloatVector v0 = FloatVector.broadcast(F, xf[x0 + c]);
                a0 = lo.fma(v0, a0);
                b0 = hi.fma(v0, b0);
                FloatVector v1 = FloatVector.broadcast(F, xf[x1 + c]);
                a1 = lo.fma(v1, a1);
                b1 = hi.fma(v1, b1);
                FloatVector v2 = FloatVector.broadcast(F, xf[x2 + c]);
                a2 = lo.fma(v2, a2);
                b2 = hi.fma(v2, b2);
                FloatVector v3 = FloatVector.broadcast(F, xf[x3 + c]);
                a3 = lo.fma(v3, a3);
                b3 = hi.fma(v3, b3);
                FloatVector v4 = FloatVector.broadcast(F, xf[x4 + c]);
                a4 = lo.fma(v4, a4);
                b4 = hi.fma(v4, b4);
                FloatVector v5 = FloatVector.broadcast(F, xf[x5 + c]);
                a5 = lo.fma(v5, a5);
                b5 = hi.fma(v5, b5);
                FloatVector v6 = FloatVector.broadcast(F, xf[x6 + c]);
                a6 = lo.fma(v6, a6);
                b6 = hi.fma(v6, b6);
                FloatVector v7 = FloatVector.broadcast(F, xf[x7 + c]);
                a7 = lo.fma(v7, a7);
                b7 = hi.fma(v7, b7);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q8's operations in its order (S exact in f32 as in its int lanes)
            FloatVector dlo = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector dhi = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(a0).mul(dlo).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(b0).mul(dhi).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
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
            FloatVector e7 = FloatVector.broadcast(F, xd[d7 + b]);
            FV.cast(a7).mul(dlo).fma(e7, FloatVector.fromArray(F, acc, 7 * PASS)).intoArray(acc, 7 * PASS);
            FV.cast(b7).mul(dhi).fma(e7, FloatVector.fromArray(F, acc, 7 * PASS + FL)).intoArray(acc, 7 * PASS + FL);
        }
    }



    /** Int8FewTokens.q8 at 512 bits before branch serve19d (activations token after token, one FMA chain per token and half). */
    static void oldQ8(MemorySegment w, int i0, int i1, int rows, int nb, QuantizedActivations a, float[] xf, float[] out, float[] acc) {
        final int n = a.tokens, groups = Interleaved.groups(rows);
        final long gBytes = (long) nb * Interleaved.Q8_TILE;
        for (int item = i0; item < i1; item++) {
            for (int g = 2 * item; g < Math.min(groups, 2 * item + 2); g++) {
                final int r0 = g * Interleaved.ROWS;
                for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) {
                    final int e = l0 / 2, lo = Math.min(FL, rows - r0 - e), hi = Math.min(FL, rows - r0 - 16 - e);
                    if (lo <= 0) continue;
                    for (int t = 0, k; t < n; t += k) {
                        k = n - t >= 8 && n - t != 9 ? 8 : n - t == 5 ? 3 : Math.min(4, n - t);
                        if (k == 8) oldQ8x8(w, g * gBytes, l0, nb, xf, a.d, a.cols, t, acc);
                        else if (k == 4) oldQ8x4(w, g * gBytes, l0, nb, xf, a.d, a.cols, t, acc);
                        else if (k == 3) oldQ8x3(w, g * gBytes, l0, nb, xf, a.d, a.cols, t, acc);
                        else oldQ8x2(w, g * gBytes, l0, nb, xf, a.d, a.cols, t, acc);
                        for (int j = 0; j < k; j++) {
                            System.arraycopy(acc, j * PASS, out, (t + j) * rows + r0 + e, lo);
                            if (hi > 0) System.arraycopy(acc, j * PASS + FL, out, (t + j) * rows + r0 + 16 + e, hi);
                        }
                    }
                }
            }
        }
    }

    static void oldQ8x2(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int cols, int t, float[] acc) {
        Arrays.fill(acc, 0, 2 * PASS, 0f);
        final int e = l0 / 2;
        final int x0 = t * cols, x1 = x0 + cols;
        final int d0 = t * nb, d1 = d0 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0;
            for (int c = 32 * b, end = c + 32; c < end; c++) {
                ShortVector p = SV.cast(BHV.cast(ByteVector.fromMemorySegment(BH, w, tile + 64 + 32L * (c & 31) + l0, LE))
                        .convertShape(VectorOperators.B2S, S, 0));
                FloatVector lo = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0));
                FloatVector hi = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0));
                FloatVector v0 = FloatVector.broadcast(F, xf[x0 + c]);
                a0 = lo.fma(v0, a0);
                b0 = hi.fma(v0, b0);
                FloatVector v1 = FloatVector.broadcast(F, xf[x1 + c]);
                a1 = lo.fma(v1, a1);
                b1 = hi.fma(v1, b1);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q8's operations in its order (S exact in f32 as in its int lanes)
            FloatVector dlo = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector dhi = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(a0).mul(dlo).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(b0).mul(dhi).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(a1).mul(dlo).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(b1).mul(dhi).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
        }
    }

    static void oldQ8x3(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int cols, int t, float[] acc) {
        Arrays.fill(acc, 0, 3 * PASS, 0f);
        final int e = l0 / 2;
        final int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0;
            for (int c = 32 * b, end = c + 32; c < end; c++) {
                ShortVector p = SV.cast(BHV.cast(ByteVector.fromMemorySegment(BH, w, tile + 64 + 32L * (c & 31) + l0, LE))
                        .convertShape(VectorOperators.B2S, S, 0));
                FloatVector lo = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0));
                FloatVector hi = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0));
                FloatVector v0 = FloatVector.broadcast(F, xf[x0 + c]);
                a0 = lo.fma(v0, a0);
                b0 = hi.fma(v0, b0);
                FloatVector v1 = FloatVector.broadcast(F, xf[x1 + c]);
                a1 = lo.fma(v1, a1);
                b1 = hi.fma(v1, b1);
                FloatVector v2 = FloatVector.broadcast(F, xf[x2 + c]);
                a2 = lo.fma(v2, a2);
                b2 = hi.fma(v2, b2);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q8's operations in its order (S exact in f32 as in its int lanes)
            FloatVector dlo = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector dhi = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(a0).mul(dlo).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(b0).mul(dhi).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(a1).mul(dlo).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(b1).mul(dhi).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FloatVector e2 = FloatVector.broadcast(F, xd[d2 + b]);
            FV.cast(a2).mul(dlo).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS)).intoArray(acc, 2 * PASS);
            FV.cast(b2).mul(dhi).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + FL)).intoArray(acc, 2 * PASS + FL);
        }
    }

    static void oldQ8x4(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int cols, int t, float[] acc) {
        Arrays.fill(acc, 0, 4 * PASS, 0f);
        final int e = l0 / 2;
        final int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            for (int c = 32 * b, end = c + 32; c < end; c++) {
                ShortVector p = SV.cast(BHV.cast(ByteVector.fromMemorySegment(BH, w, tile + 64 + 32L * (c & 31) + l0, LE))
                        .convertShape(VectorOperators.B2S, S, 0));
                FloatVector lo = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0));
                FloatVector hi = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0));
                FloatVector v0 = FloatVector.broadcast(F, xf[x0 + c]);
                a0 = lo.fma(v0, a0);
                b0 = hi.fma(v0, b0);
                FloatVector v1 = FloatVector.broadcast(F, xf[x1 + c]);
                a1 = lo.fma(v1, a1);
                b1 = hi.fma(v1, b1);
                FloatVector v2 = FloatVector.broadcast(F, xf[x2 + c]);
                a2 = lo.fma(v2, a2);
                b2 = hi.fma(v2, b2);
                FloatVector v3 = FloatVector.broadcast(F, xf[x3 + c]);
                a3 = lo.fma(v3, a3);
                b3 = hi.fma(v3, b3);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q8's operations in its order (S exact in f32 as in its int lanes)
            FloatVector dlo = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector dhi = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(a0).mul(dlo).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(b0).mul(dhi).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(a1).mul(dlo).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(b1).mul(dhi).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FloatVector e2 = FloatVector.broadcast(F, xd[d2 + b]);
            FV.cast(a2).mul(dlo).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS)).intoArray(acc, 2 * PASS);
            FV.cast(b2).mul(dhi).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + FL)).intoArray(acc, 2 * PASS + FL);
            FloatVector e3 = FloatVector.broadcast(F, xd[d3 + b]);
            FV.cast(a3).mul(dlo).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS)).intoArray(acc, 3 * PASS);
            FV.cast(b3).mul(dhi).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS + FL)).intoArray(acc, 3 * PASS + FL);
        }
    }

    /** Int8FewTokens.q4 before branch serve19d (activations token after token). */
    static void oldQ4(MemorySegment w, int i0, int i1, int rows, int nb, QuantizedActivations a, float[] out, float[] acc) {
        final int n = a.tokens, groups = Interleaved.groups(rows), padded = groups * Interleaved.ROWS;
        final long gBytes = (long) nb * Interleaved.Q4_TILE;
        for (int item = i0; item < i1; item++) {
            for (int r = item * ITEM; r < Math.min(rows, (item + 1) * ITEM); r += PASS) {
                final int valid = Math.min(PASS, rows - r), rb = r + L;
                final long va = (r / Interleaved.ROWS) * gBytes + 2 * (r % Interleaved.ROWS);
                final long vb = rb < padded ? (rb / Interleaved.ROWS) * gBytes + 2 * (rb % Interleaved.ROWS) : va;
                for (int t = 0, k; t < n; t += k) {
                    k = n - t == 5 ? 3 : Math.min(4, n - t);
                    if (k == 4) oldQ4x4(w, va, vb, nb, a.q, a.d, a.q4Bias, a.cols, t, acc);
                    else if (k == 3) oldQ4x3(w, va, vb, nb, a.q, a.d, a.q4Bias, a.cols, t, acc);
                    else oldQ4x2(w, va, vb, nb, a.q, a.d, a.q4Bias, a.cols, t, acc);
                    for (int j = 0; j < k; j++) System.arraycopy(acc, j * PASS, out, (t + j) * rows + r, valid);
                }
            }
        }
    }

    static void oldQ4x2(MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int cols, int t,
                             float[] acc) {
        Arrays.fill(acc, 0, 2 * PASS, 0f);
        final int x0 = t * cols, x1 = x0 + cols;
        final int d0 = t * nb, d1 = d0 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE, tb = vb + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            for (int qd = 0; qd < 8; qd++) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)
                int c0 = 32 * b + 2 * qd, c1 = c0 + 16, c2 = c0 + 1, c3 = c0 + 17;
                ShortVector n0 = v.and((short) 0xF), m0 = u.and((short) 0xF);
                ShortVector x00 = ShortVector.broadcast(S, xq[x0 + c0]);
                a0 = (n0.mul(x00)).add(a0);
                b0 = (m0.mul(x00)).add(b0);
                ShortVector x10 = ShortVector.broadcast(S, xq[x1 + c0]);
                a1 = (n0.mul(x10)).add(a1);
                b1 = (m0.mul(x10)).add(b1);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF), m1 = u.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                ShortVector x01 = ShortVector.broadcast(S, xq[x0 + c1]);
                a0 = (n1.mul(x01)).add(a0);
                b0 = (m1.mul(x01)).add(b0);
                ShortVector x11 = ShortVector.broadcast(S, xq[x1 + c1]);
                a1 = (n1.mul(x11)).add(a1);
                b1 = (m1.mul(x11)).add(b1);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF), m2 = u.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                ShortVector x02 = ShortVector.broadcast(S, xq[x0 + c2]);
                a0 = (n2.mul(x02)).add(a0);
                b0 = (m2.mul(x02)).add(b0);
                ShortVector x12 = ShortVector.broadcast(S, xq[x1 + c2]);
                a1 = (n2.mul(x12)).add(a1);
                b1 = (m2.mul(x12)).add(b1);
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12), m3 = u.lanewise(VectorOperators.LSHR, 12);
                ShortVector x03 = ShortVector.broadcast(S, xq[x0 + c3]);
                a0 = (n3.mul(x03)).add(a0);
                b0 = (m3.mul(x03)).add(b0);
                ShortVector x13 = ShortVector.broadcast(S, xq[x1 + c3]);
                a1 = (n3.mul(x13)).add(a1);
                b1 = (m3.mul(x13)).add(b1);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q4's operations in its order; f16 scales -> f32 in place (Int8Kernels.q5)
            ShortVector ha = SV.cast(ShortVector.fromMemorySegment(S, w, ta, LE)), hb = SV.cast(ShortVector.fromMemorySegment(S, w, tb, LE));
            FloatVector da0 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector da1 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector db0 = F16_MAGIC.mul(IV.cast(hb.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector db1 = F16_MAGIC.mul(IV.cast(hb.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FV.cast(SV.cast(b0).convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e0, FloatVector.fromArray(F, acc, 0 + L)).intoArray(acc, 0 + L);
            FV.cast(SV.cast(b0).convertShape(VectorOperators.S2F, F, 1)).mul(db1).fma(e0, FloatVector.fromArray(F, acc, 0 + L + FL)).intoArray(acc, 0 + L + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FV.cast(SV.cast(b1).convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + L)).intoArray(acc, 1 * PASS + L);
            FV.cast(SV.cast(b1).convertShape(VectorOperators.S2F, F, 1)).mul(db1).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + L + FL)).intoArray(acc, 1 * PASS + L + FL);
        }
    }

    static void oldQ4x3(MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int cols, int t,
                             float[] acc) {
        Arrays.fill(acc, 0, 3 * PASS, 0f);
        final int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE, tb = vb + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), b2 = a2;
            for (int qd = 0; qd < 8; qd++) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)
                int c0 = 32 * b + 2 * qd, c1 = c0 + 16, c2 = c0 + 1, c3 = c0 + 17;
                ShortVector n0 = v.and((short) 0xF), m0 = u.and((short) 0xF);
                ShortVector x00 = ShortVector.broadcast(S, xq[x0 + c0]);
                a0 = (n0.mul(x00)).add(a0);
                b0 = (m0.mul(x00)).add(b0);
                ShortVector x10 = ShortVector.broadcast(S, xq[x1 + c0]);
                a1 = (n0.mul(x10)).add(a1);
                b1 = (m0.mul(x10)).add(b1);
                ShortVector x20 = ShortVector.broadcast(S, xq[x2 + c0]);
                a2 = (n0.mul(x20)).add(a2);
                b2 = (m0.mul(x20)).add(b2);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF), m1 = u.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                ShortVector x01 = ShortVector.broadcast(S, xq[x0 + c1]);
                a0 = (n1.mul(x01)).add(a0);
                b0 = (m1.mul(x01)).add(b0);
                ShortVector x11 = ShortVector.broadcast(S, xq[x1 + c1]);
                a1 = (n1.mul(x11)).add(a1);
                b1 = (m1.mul(x11)).add(b1);
                ShortVector x21 = ShortVector.broadcast(S, xq[x2 + c1]);
                a2 = (n1.mul(x21)).add(a2);
                b2 = (m1.mul(x21)).add(b2);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF), m2 = u.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                ShortVector x02 = ShortVector.broadcast(S, xq[x0 + c2]);
                a0 = (n2.mul(x02)).add(a0);
                b0 = (m2.mul(x02)).add(b0);
                ShortVector x12 = ShortVector.broadcast(S, xq[x1 + c2]);
                a1 = (n2.mul(x12)).add(a1);
                b1 = (m2.mul(x12)).add(b1);
                ShortVector x22 = ShortVector.broadcast(S, xq[x2 + c2]);
                a2 = (n2.mul(x22)).add(a2);
                b2 = (m2.mul(x22)).add(b2);
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12), m3 = u.lanewise(VectorOperators.LSHR, 12);
                ShortVector x03 = ShortVector.broadcast(S, xq[x0 + c3]);
                a0 = (n3.mul(x03)).add(a0);
                b0 = (m3.mul(x03)).add(b0);
                ShortVector x13 = ShortVector.broadcast(S, xq[x1 + c3]);
                a1 = (n3.mul(x13)).add(a1);
                b1 = (m3.mul(x13)).add(b1);
                ShortVector x23 = ShortVector.broadcast(S, xq[x2 + c3]);
                a2 = (n3.mul(x23)).add(a2);
                b2 = (m3.mul(x23)).add(b2);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q4's operations in its order; f16 scales -> f32 in place (Int8Kernels.q5)
            ShortVector ha = SV.cast(ShortVector.fromMemorySegment(S, w, ta, LE)), hb = SV.cast(ShortVector.fromMemorySegment(S, w, tb, LE));
            FloatVector da0 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector da1 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector db0 = F16_MAGIC.mul(IV.cast(hb.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector db1 = F16_MAGIC.mul(IV.cast(hb.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FV.cast(SV.cast(b0).convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e0, FloatVector.fromArray(F, acc, 0 + L)).intoArray(acc, 0 + L);
            FV.cast(SV.cast(b0).convertShape(VectorOperators.S2F, F, 1)).mul(db1).fma(e0, FloatVector.fromArray(F, acc, 0 + L + FL)).intoArray(acc, 0 + L + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FV.cast(SV.cast(b1).convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + L)).intoArray(acc, 1 * PASS + L);
            FV.cast(SV.cast(b1).convertShape(VectorOperators.S2F, F, 1)).mul(db1).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + L + FL)).intoArray(acc, 1 * PASS + L + FL);
            FloatVector e2 = FloatVector.broadcast(F, xd[d2 + b]);
            FV.cast(SV.cast(a2).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS)).intoArray(acc, 2 * PASS);
            FV.cast(SV.cast(a2).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + FL)).intoArray(acc, 2 * PASS + FL);
            FV.cast(SV.cast(b2).convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + L)).intoArray(acc, 2 * PASS + L);
            FV.cast(SV.cast(b2).convertShape(VectorOperators.S2F, F, 1)).mul(db1).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + L + FL)).intoArray(acc, 2 * PASS + L + FL);
        }
    }

    static void oldQ4x4(MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int cols, int t,
                             float[] acc) {
        Arrays.fill(acc, 0, 4 * PASS, 0f);
        final int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE, tb = vb + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), b2 = a2;
            ShortVector a3 = ShortVector.broadcast(S, bias[d3 + b]), b3 = a3;
            for (int qd = 0; qd < 8; qd++) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)
                int c0 = 32 * b + 2 * qd, c1 = c0 + 16, c2 = c0 + 1, c3 = c0 + 17;
                ShortVector n0 = v.and((short) 0xF), m0 = u.and((short) 0xF);
                ShortVector x00 = ShortVector.broadcast(S, xq[x0 + c0]);
                a0 = (n0.mul(x00)).add(a0);
                b0 = (m0.mul(x00)).add(b0);
                ShortVector x10 = ShortVector.broadcast(S, xq[x1 + c0]);
                a1 = (n0.mul(x10)).add(a1);
                b1 = (m0.mul(x10)).add(b1);
                ShortVector x20 = ShortVector.broadcast(S, xq[x2 + c0]);
                a2 = (n0.mul(x20)).add(a2);
                b2 = (m0.mul(x20)).add(b2);
                ShortVector x30 = ShortVector.broadcast(S, xq[x3 + c0]);
                a3 = (n0.mul(x30)).add(a3);
                b3 = (m0.mul(x30)).add(b3);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF), m1 = u.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                ShortVector x01 = ShortVector.broadcast(S, xq[x0 + c1]);
                a0 = (n1.mul(x01)).add(a0);
                b0 = (m1.mul(x01)).add(b0);
                ShortVector x11 = ShortVector.broadcast(S, xq[x1 + c1]);
                a1 = (n1.mul(x11)).add(a1);
                b1 = (m1.mul(x11)).add(b1);
                ShortVector x21 = ShortVector.broadcast(S, xq[x2 + c1]);
                a2 = (n1.mul(x21)).add(a2);
                b2 = (m1.mul(x21)).add(b2);
                ShortVector x31 = ShortVector.broadcast(S, xq[x3 + c1]);
                a3 = (n1.mul(x31)).add(a3);
                b3 = (m1.mul(x31)).add(b3);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF), m2 = u.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                ShortVector x02 = ShortVector.broadcast(S, xq[x0 + c2]);
                a0 = (n2.mul(x02)).add(a0);
                b0 = (m2.mul(x02)).add(b0);
                ShortVector x12 = ShortVector.broadcast(S, xq[x1 + c2]);
                a1 = (n2.mul(x12)).add(a1);
                b1 = (m2.mul(x12)).add(b1);
                ShortVector x22 = ShortVector.broadcast(S, xq[x2 + c2]);
                a2 = (n2.mul(x22)).add(a2);
                b2 = (m2.mul(x22)).add(b2);
                ShortVector x32 = ShortVector.broadcast(S, xq[x3 + c2]);
                a3 = (n2.mul(x32)).add(a3);
                b3 = (m2.mul(x32)).add(b3);
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12), m3 = u.lanewise(VectorOperators.LSHR, 12);
                ShortVector x03 = ShortVector.broadcast(S, xq[x0 + c3]);
                a0 = (n3.mul(x03)).add(a0);
                b0 = (m3.mul(x03)).add(b0);
                ShortVector x13 = ShortVector.broadcast(S, xq[x1 + c3]);
                a1 = (n3.mul(x13)).add(a1);
                b1 = (m3.mul(x13)).add(b1);
                ShortVector x23 = ShortVector.broadcast(S, xq[x2 + c3]);
                a2 = (n3.mul(x23)).add(a2);
                b2 = (m3.mul(x23)).add(b2);
                ShortVector x33 = ShortVector.broadcast(S, xq[x3 + c3]);
                a3 = (n3.mul(x33)).add(a3);
                b3 = (m3.mul(x33)).add(b3);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q4's operations in its order; f16 scales -> f32 in place (Int8Kernels.q5)
            ShortVector ha = SV.cast(ShortVector.fromMemorySegment(S, w, ta, LE)), hb = SV.cast(ShortVector.fromMemorySegment(S, w, tb, LE));
            FloatVector da0 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector da1 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector db0 = F16_MAGIC.mul(IV.cast(hb.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector db1 = F16_MAGIC.mul(IV.cast(hb.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FV.cast(SV.cast(b0).convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e0, FloatVector.fromArray(F, acc, 0 + L)).intoArray(acc, 0 + L);
            FV.cast(SV.cast(b0).convertShape(VectorOperators.S2F, F, 1)).mul(db1).fma(e0, FloatVector.fromArray(F, acc, 0 + L + FL)).intoArray(acc, 0 + L + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FV.cast(SV.cast(b1).convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + L)).intoArray(acc, 1 * PASS + L);
            FV.cast(SV.cast(b1).convertShape(VectorOperators.S2F, F, 1)).mul(db1).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + L + FL)).intoArray(acc, 1 * PASS + L + FL);
            FloatVector e2 = FloatVector.broadcast(F, xd[d2 + b]);
            FV.cast(SV.cast(a2).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS)).intoArray(acc, 2 * PASS);
            FV.cast(SV.cast(a2).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + FL)).intoArray(acc, 2 * PASS + FL);
            FV.cast(SV.cast(b2).convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + L)).intoArray(acc, 2 * PASS + L);
            FV.cast(SV.cast(b2).convertShape(VectorOperators.S2F, F, 1)).mul(db1).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + L + FL)).intoArray(acc, 2 * PASS + L + FL);
            FloatVector e3 = FloatVector.broadcast(F, xd[d3 + b]);
            FV.cast(SV.cast(a3).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS)).intoArray(acc, 3 * PASS);
            FV.cast(SV.cast(a3).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS + FL)).intoArray(acc, 3 * PASS + FL);
            FV.cast(SV.cast(b3).convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS + L)).intoArray(acc, 3 * PASS + L);
            FV.cast(SV.cast(b3).convertShape(VectorOperators.S2F, F, 1)).mul(db1).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS + L + FL)).intoArray(acc, 3 * PASS + L + FL);
        }
    }

    /** Int8Kernels.q8 at 512 bits with two pairs of int sums per block (columns k, k + 1 and k + 2, k + 3). */
    static void tokQ8x2(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, int xt, int dt, float[] out,
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
                    IntVector i0 = IntVector.zero(I), i1 = i0, j0 = i0, j1 = i0;
                    for (int k = 0; k < 32; k += 4) {
                        long c = tile + 64 + 32L * k + l0;
                        ShortVector p = col(w, c).mul(xq[xo + k]).add(col(w, c + 32).mul(xq[xo + k + 1]));
                        i0 = (even(p)).add(i0);
                        i1 = (odd(p)).add(i1);
                        ShortVector q = col(w, c + 64).mul(xq[xo + k + 2]).add(col(w, c + 96).mul(xq[xo + k + 3]));
                        j0 = (even(q)).add(j0);
                        j1 = (odd(q)).add(j1);
                    }
                    i0 = IV.cast(i0).add(j0);
                    i1 = IV.cast(i1).add(j1);
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

    /** Int8FewTokens.q8 at 512 bits for 8 tokens with {@link #q8x8i}. */
    static void q8i(MemorySegment w, int i0, int i1, int rows, int nb, QuantizedActivations a, float[] xf, float[] out, float[] acc) {
        final int groups = Interleaved.groups(rows);
        final long gBytes = (long) nb * Interleaved.Q8_TILE;
        for (int item = i0; item < i1; item++) {
            for (int g = 2 * item; g < Math.min(groups, 2 * item + 2); g++) {
                final int r0 = g * Interleaved.ROWS;
                final int lo = Math.min(FL, rows - r0), hi = Math.min(FL, rows - r0 - 16);
                if (lo <= 0) continue;
                q8x8i(w, g * gBytes, 0, nb, xf, a.d, a.tokens, 0, acc);
                for (int j = 0; j < 8; j++) {
                    System.arraycopy(acc, j * PASS, out, j * rows + r0, lo);
                    if (hi > 0) System.arraycopy(acc, j * PASS + FL, out, j * rows + r0 + 16, hi);
                }
            }
        }
    }

    static void q8x8i(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int n, int t, float[] acc) {
        Arrays.fill(acc, 0, 8 * PASS, 0f);
        final int e = l0 / 2;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb, d5 = d4 + nb, d6 = d5 + nb, d7 = d6 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0, a6 = a0, b6 = a0, a7 = a0, b7 = a0;
            // xo: the column's activations, token after token (QuantizedActivations.floats)
            for (long off = tile + 64 + l0, end = off + 32 * 32, xo = (32L * b) * n + t; off < end; off += 32, xo += n) {
                ShortVector p = SV.cast(BHV.cast(ByteVector.fromMemorySegment(BH, w, off, LE))
                        .convertShape(VectorOperators.B2S, S, 0));
                FloatVector lo = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0));
                FloatVector hi = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0));
                FloatVector v0 = FloatVector.broadcast(F, xf[(int) xo]);
                a0 = lo.fma(v0, a0);
                b0 = hi.fma(v0, b0);
                FloatVector v1 = FloatVector.broadcast(F, xf[(int) xo + 1]);
                a1 = lo.fma(v1, a1);
                b1 = hi.fma(v1, b1);
                FloatVector v2 = FloatVector.broadcast(F, xf[(int) xo + 2]);
                a2 = lo.fma(v2, a2);
                b2 = hi.fma(v2, b2);
                FloatVector v3 = FloatVector.broadcast(F, xf[(int) xo + 3]);
                a3 = lo.fma(v3, a3);
                b3 = hi.fma(v3, b3);
                FloatVector v4 = FloatVector.broadcast(F, xf[(int) xo + 4]);
                a4 = lo.fma(v4, a4);
                b4 = hi.fma(v4, b4);
                FloatVector v5 = FloatVector.broadcast(F, xf[(int) xo + 5]);
                a5 = lo.fma(v5, a5);
                b5 = hi.fma(v5, b5);
                FloatVector v6 = FloatVector.broadcast(F, xf[(int) xo + 6]);
                a6 = lo.fma(v6, a6);
                b6 = hi.fma(v6, b6);
                FloatVector v7 = FloatVector.broadcast(F, xf[(int) xo + 7]);
                a7 = lo.fma(v7, a7);
                b7 = hi.fma(v7, b7);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q8's operations in its order (S exact in f32 as in its int lanes)
            FloatVector dlo = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector dhi = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(a0).mul(dlo).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(b0).mul(dhi).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
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
            FloatVector e7 = FloatVector.broadcast(F, xd[d7 + b]);
            FV.cast(a7).mul(dlo).fma(e7, FloatVector.fromArray(F, acc, 7 * PASS)).intoArray(acc, 7 * PASS);
            FV.cast(b7).mul(dhi).fma(e7, FloatVector.fromArray(F, acc, 7 * PASS + FL)).intoArray(acc, 7 * PASS + FL);
        }
    }

    /** Bound: q8x8 with one token's block scaling (wrong results): what the per-block epilogue costs. */
    static void q8n(MemorySegment w, int i0, int i1, int rows, int nb, QuantizedActivations a, float[] xf, float[] out, float[] acc) {
        final int groups = Interleaved.groups(rows);
        final long gBytes = (long) nb * Interleaved.Q8_TILE;
        for (int item = i0; item < i1; item++) {
            for (int g = 2 * item; g < Math.min(groups, 2 * item + 2); g++) {
                final int r0 = g * Interleaved.ROWS;
                final int lo = Math.min(FL, rows - r0), hi = Math.min(FL, rows - r0 - 16);
                if (lo <= 0) continue;
                q8x8n(w, g * gBytes, 0, nb, xf, a.d, a.tokens, 0, acc);
                for (int j = 0; j < 8; j++) {
                    System.arraycopy(acc, j * PASS, out, j * rows + r0, lo);
                    if (hi > 0) System.arraycopy(acc, j * PASS + FL, out, j * rows + r0 + 16, hi);
                }
            }
        }
    }
    static void q8x8n(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int n, int t, float[] acc) {
        Arrays.fill(acc, 0, 8 * PASS, 0f);
        final int e = l0 / 2;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb, d5 = d4 + nb, d6 = d5 + nb, d7 = d6 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0, a6 = a0, b6 = a0, a7 = a0, b7 = a0;
            // xo: the column's activations, token after token (QuantizedActivations.floats)
            for (long off = tile + 64 + l0, end = off + 32 * 32, xo = (32L * b) * n + t; off < end; off += 32, xo += n) {
                ShortVector p = SV.cast(BHV.cast(ByteVector.fromMemorySegment(BH, w, off, LE))
                        .convertShape(VectorOperators.B2S, S, 0));
                FloatVector lo = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .convert(VectorOperators.I2F, 0));
                FloatVector hi = FV.cast(IV.cast(p.reinterpretAsInts()).lanewise(VectorOperators.ASHR, 16).convert(VectorOperators.I2F, 0));
                FloatVector v0 = FloatVector.broadcast(F, xf[(int) xo]);
                a0 = lo.fma(v0, a0);
                b0 = hi.fma(v0, b0);
                FloatVector v1 = FloatVector.broadcast(F, xf[(int) xo + 1]);
                a1 = lo.fma(v1, a1);
                b1 = hi.fma(v1, b1);
                FloatVector v2 = FloatVector.broadcast(F, xf[(int) xo + 2]);
                a2 = lo.fma(v2, a2);
                b2 = hi.fma(v2, b2);
                FloatVector v3 = FloatVector.broadcast(F, xf[(int) xo + 3]);
                a3 = lo.fma(v3, a3);
                b3 = hi.fma(v3, b3);
                FloatVector v4 = FloatVector.broadcast(F, xf[(int) xo + 4]);
                a4 = lo.fma(v4, a4);
                b4 = hi.fma(v4, b4);
                FloatVector v5 = FloatVector.broadcast(F, xf[(int) xo + 5]);
                a5 = lo.fma(v5, a5);
                b5 = hi.fma(v5, b5);
                FloatVector v6 = FloatVector.broadcast(F, xf[(int) xo + 6]);
                a6 = lo.fma(v6, a6);
                b6 = hi.fma(v6, b6);
                FloatVector v7 = FloatVector.broadcast(F, xf[(int) xo + 7]);
                a7 = lo.fma(v7, a7);
                b7 = hi.fma(v7, b7);
            }
            // per token s = (S·d)·dx + s: Int8Kernels.q8's operations in its order (S exact in f32 as in its int lanes)
            FloatVector dlo = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector dhi = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tile + 32 + 2 * e, LE)).convertShape(VectorOperators.S2I, I, 0))
                    .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(a0).mul(dlo).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(b0).mul(dhi).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
        }
    }
}
