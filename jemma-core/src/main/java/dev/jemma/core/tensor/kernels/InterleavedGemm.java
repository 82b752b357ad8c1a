package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Prefill over {@link Interleaved} Q8_0 / Q5_K / Q6_K / F16 weights with f32 activations (Q4_0, Q5_0 and Q4_K batches
 * run on {@link Int8Gemm}): a group's weights are decoded exactly to an f32 tile, column by column with the 32 rows
 * side by side ({@code tile[c·32 + r]}), and every token of the batch is multiplied against it 4 at a time: per column
 * two weight vectors, one broadcast per token, two FMAs per token — 8 accumulators in registers, no horizontal sums. A
 * weight is decoded once per {@value #TOKEN_BLOCK} tokens. On one Zen 4 core this runs at the f32 FMA peak (~49 G
 * multiply-adds/s). These types stay here because their 16-bit integer sums would have to be widened too often: one
 * Q8_0 product reaches 16 256, Q6_K's sums fit 16 bits over 8 columns only.
 */
public final class InterleavedGemm {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_512;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    static final VectorSpecies<Short> S256 = ShortVector.SPECIES_256;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final FloatVector F16_MAGIC = FloatVector.broadcast(F, 0x1p112f);
    /** Columns decoded per tile: 128 × 32 f32 = 16 KB, half of L1. */
    static final int COLS = 128;
    /** Tokens per pass over the weights: their activations (≤ 64 × cols f32) stay in L2. */
    static final int TOKEN_BLOCK = 64;

    private InterleavedGemm() {
    }


    /**
     * out[t·rows + r] = W[r] · x[t] for tokens [t0, t1) and the rows of groups [g0, g1).
     */
    public static void gemm(GgmlType type, MemorySegment w, int rows, int cols, float[] x, int t0, int t1, float[] out,
                            int g0, int g1, float[] tile, float[] part) {
        final int nb = cols / 32;
        final long gBytes = Interleaved.groupBytes(type, cols);
        final boolean f16 = type == GgmlType.F16, q6k = type == GgmlType.Q6_K, q5k = type == GgmlType.Q5_K;
        if (!f16 && !q6k && !q5k && type != GgmlType.Q8_0) {
            throw new IllegalArgumentException(type + " batches run on Int8Gemm, not on the f32 tile GEMM");
        }
        for (int g = g0; g < g1; g++) {
            int r0 = g * Interleaved.ROWS, valid = Math.min(Interleaved.ROWS, rows - r0);
            for (int c0 = 0; c0 < cols; c0 += COLS) {
                int nc = Math.min(COLS, cols - c0);
                if (f16) decodeF16(w, g * gBytes, c0 / 32, nc / 32, tile);
                else if (q6k) KQuantKernels.decodeQ6K(w, g * gBytes, c0 / 32, nc / 32, tile);
                else if (q5k) KQuantKernels.decodeQ5K(w, g * gBytes, c0 / 32, nc / 32, tile);
                else decodeQ8(w, g * gBytes, c0 / 32, nc / 32, tile);
                boolean first = c0 == 0;
                int t = t0;
                for (; t + 4 <= t1; t += 4) tile4(tile, nc, x, t * cols + c0, cols, out, t * rows + r0, rows, valid, first, part);
                for (; t < t1; t++) tile1(tile, nc, x, t * cols + c0, out, t * rows + r0, valid, first, part);
            }
        }
        assert nb > 0;
    }

    /** Blocks [b0, b0 + n) of a Q8_0 group into tile[(32·(b − b0) + c)·32 + r] = d_r · q. */
    static void decodeQ8(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            long t = g + (long) (b0 + b) * Interleaved.Q8_TILE;
            ShortVector h = ShortVector.fromMemorySegment(S, w, t, LE);
            FloatVector d0 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC); // f16 -> f32 in place: see Int8Kernels.q5
            FloatVector d1 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
            for (int k = 0; k < 32; k++) {
                // 16-bit lane i holds row i (low byte) and row 16 + i (high byte)
                IntVector v = (IntVector) ShortVector.fromMemorySegment(S256, w, t + 64 + 32L * k, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector lo = v.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24);
                IntVector hi = v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 24);
                FloatVector l = (FloatVector) lo.convert(VectorOperators.I2F, 0);
                FloatVector u = (FloatVector) hi.convert(VectorOperators.I2F, 0);
                int c = 32 * b + k;
                l.mul(d0).intoArray(tile, c * 32);
                u.mul(d1).intoArray(tile, c * 32 + 16);
            }
        }
    }

    /** Blocks [b0, b0 + n) of an F16 group into the same tile layout (exact: f16 → f32 by bit placement, × 2^112). */
    static void decodeF16(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            long t = g + (long) (b0 + b) * Interleaved.F16_TILE;
            for (int k = 0; k < 32; k++) {
                IntVector i0 = (IntVector) ShortVector.fromMemorySegment(S256, w, t + 64L * k, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i1 = (IntVector) ShortVector.fromMemorySegment(S256, w, t + 64L * k + 32, LE).convertShape(VectorOperators.S2I, I, 0);
                FloatVector l = i0.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector u = i1.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                int c = 32 * b + k;
                l.intoArray(tile, c * 32);
                u.intoArray(tile, c * 32 + 16);
            }
        }
    }

    /**
     * One token against the rows of F16 groups [g0, g1): out[o + r] = W[r] · x[xo ..], f32 activations. The f16 → f32
     * step (sign-extend, shift, mask, ×2^112: 4 vector operations per 16 weights) is written out in place for the
     * reasons given in {@link Int8Kernels}; 4 accumulators keep the FMA latency off the critical path.
     */
    public static void gemvF16(MemorySegment w, int g0, int g1, int rows, int cols, float[] x, int xo, float[] out, int o) {
        final int nb = cols / 32;
        final long gBytes = (long) nb * Interleaved.F16_TILE;
        for (int g = g0; g < g1; g++) {
            FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b1 = FloatVector.zero(F);
            final long base = g * gBytes;
            for (int c = 0; c < cols; c += 2) {
                long t = base + (long) (c >> 5) * Interleaved.F16_TILE + 64L * (c & 31);
                IntVector i0 = (IntVector) ShortVector.fromMemorySegment(S256, w, t, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i1 = (IntVector) ShortVector.fromMemorySegment(S256, w, t + 32, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i2 = (IntVector) ShortVector.fromMemorySegment(S256, w, t + 64, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i3 = (IntVector) ShortVector.fromMemorySegment(S256, w, t + 96, LE).convertShape(VectorOperators.S2I, I, 0);
                FloatVector w0 = i0.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector w1 = i1.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector w2 = i2.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector w3 = i3.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector v0 = FloatVector.broadcast(F, x[xo + c]);
                FloatVector v1 = FloatVector.broadcast(F, x[xo + c + 1]);
                a0 = w0.fma(v0, a0);
                b0 = w1.fma(v0, b0);
                a1 = w2.fma(v1, a1);
                b1 = w3.fma(v1, b1);
            }
            int r0 = g * Interleaved.ROWS, oo = o + r0;
            FloatVector lo = a0.add(a1), hi = b0.add(b1);
            if (rows - r0 >= 32) { // in place, not through a helper: see Int8Kernels
                lo.intoArray(out, oo);
                hi.intoArray(out, oo + 16);
            } else {
                lo.intoArray(out, oo, F.indexInRange(0, rows - r0));
                hi.intoArray(out, oo + 16, F.indexInRange(16, rows - r0));
            }
        }
    }

    /** Four tokens (x rows at xo + k·cols) against nc tile columns; adds into (or, if first, sets) out at o + k·rows. */
    static void tile4(float[] tile, int nc, float[] x, int xo, int cols, float[] out, int o, int rows, int valid, boolean first, float[] part) {
        FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F), b2 = FloatVector.zero(F), a3 = FloatVector.zero(F), b3 = FloatVector.zero(F);
        int x0 = xo, x1 = xo + cols, x2 = xo + 2 * cols, x3 = xo + 3 * cols;
        for (int c = 0; c < nc; c++) {
            FloatVector w0 = FloatVector.fromArray(F, tile, c * 32);
            FloatVector w1 = FloatVector.fromArray(F, tile, c * 32 + 16);
            FloatVector v0 = FloatVector.broadcast(F, x[x0 + c]);
            FloatVector v1 = FloatVector.broadcast(F, x[x1 + c]);
            FloatVector v2 = FloatVector.broadcast(F, x[x2 + c]);
            FloatVector v3 = FloatVector.broadcast(F, x[x3 + c]);
            a0 = w0.fma(v0, a0);
            b0 = w1.fma(v0, b0);
            a1 = w0.fma(v1, a1);
            b1 = w1.fma(v1, b1);
            a2 = w0.fma(v2, a2);
            b2 = w1.fma(v2, b2);
            a3 = w0.fma(v3, a3);
            b3 = w1.fma(v3, b3);
        }
        // results go out through arrays, never as vector arguments of a call C2 might not inline: that would box
        // the accumulators (an allocation per loop iteration, measured in Int8Kernels)
        if (valid == 32 && !first) {
            a0.add(FloatVector.fromArray(F, out, o)).intoArray(out, o);
            b0.add(FloatVector.fromArray(F, out, o + 16)).intoArray(out, o + 16);
            a1.add(FloatVector.fromArray(F, out, o + rows)).intoArray(out, o + rows);
            b1.add(FloatVector.fromArray(F, out, o + rows + 16)).intoArray(out, o + rows + 16);
            a2.add(FloatVector.fromArray(F, out, o + 2 * rows)).intoArray(out, o + 2 * rows);
            b2.add(FloatVector.fromArray(F, out, o + 2 * rows + 16)).intoArray(out, o + 2 * rows + 16);
            a3.add(FloatVector.fromArray(F, out, o + 3 * rows)).intoArray(out, o + 3 * rows);
            b3.add(FloatVector.fromArray(F, out, o + 3 * rows + 16)).intoArray(out, o + 3 * rows + 16);
        } else {
            float[] r = part;
            a0.intoArray(r, 0);
            b0.intoArray(r, 16);
            a1.intoArray(r, 32);
            b1.intoArray(r, 48);
            a2.intoArray(r, 64);
            b2.intoArray(r, 80);
            a3.intoArray(r, 96);
            b3.intoArray(r, 112);
            for (int k = 0; k < 4; k++) merge(r, 32 * k, out, o + k * rows, valid, first);
        }
    }

    /** out[o .. o + valid) = (first ? 0 : out) + r[ro ..]. */
    static void merge(float[] r, int ro, float[] out, int o, int valid, boolean first) {
        for (int i = 0; i < valid; i++) out[o + i] = first ? r[ro + i] : out[o + i] + r[ro + i];
    }

    static void tile1(float[] tile, int nc, float[] x, int xo, float[] out, int o, int valid, boolean first, float[] part) {
        FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b1 = FloatVector.zero(F);
        int c = 0;
        for (; c + 2 <= nc; c += 2) {
            FloatVector v0 = FloatVector.broadcast(F, x[xo + c]);
            FloatVector v1 = FloatVector.broadcast(F, x[xo + c + 1]);
            a0 = FloatVector.fromArray(F, tile, c * 32).fma(v0, a0);
            b0 = FloatVector.fromArray(F, tile, c * 32 + 16).fma(v0, b0);
            a1 = FloatVector.fromArray(F, tile, c * 32 + 32).fma(v1, a1);
            b1 = FloatVector.fromArray(F, tile, c * 32 + 48).fma(v1, b1);
        }
        for (; c < nc; c++) {
            FloatVector v0 = FloatVector.broadcast(F, x[xo + c]);
            a0 = FloatVector.fromArray(F, tile, c * 32).fma(v0, a0);
            b0 = FloatVector.fromArray(F, tile, c * 32 + 16).fma(v0, b0);
        }
        a0.add(a1).intoArray(part, 0);
        b0.add(b1).intoArray(part, 16);
        merge(part, 0, out, o, valid, first);
    }

}
