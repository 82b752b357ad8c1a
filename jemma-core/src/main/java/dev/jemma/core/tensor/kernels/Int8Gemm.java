package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Prefill over {@link Interleaved} Q4_0 weights with int8 activations — llama.cpp's arithmetic for batches (activations
 * quantized per 32-block, exact integer block sums, one f32 multiply-add per block by d_w·d_x), register-tiled.
 *
 * <p>Two groups (64 rows) are decoded at a time to a 16-bit tile of signed quants {@code wt[c·64 + r] = n − 8} and
 * their scales; every token of the batch then runs against it 4 at a time: per column two weight vectors, one
 * broadcast activation per token, 8 16-bit multiplies and 8 adds into 8 accumulators. A Q4_0 block sum
 * Σ (n − 8)·x lies in [−32512, 32512] (|x| ≤ 127), so the 16-bit accumulators are exact over a block; at each block's
 * end they are widened to f32 and added, scaled, into a per-token f32 sum. On one Zen 4 core this runs at ~75 G
 * multiply-adds/s against ~50 for the f32 FMA tile of {@link InterleavedGemm}: the 16-bit multiply does 32 products
 * per instruction where an FMA does 16, and the adds go to other vector pipes.
 *
 * <p>Each weight is decoded once per batch (the tile covers {@value #COLS} columns of all the batch's tokens), and the
 * per-token sums live in a small scratch array ({@code acc[t·64 + r]}) rather than in the strided output.
 */
public final class Int8Gemm {
    static final VectorSpecies<Short> S = ShortVector.SPECIES_512;
    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final FloatVector F16_MAGIC = FloatVector.broadcast(F, 0x1p112f);
    /** Rows per tile: two interleaved groups, so each broadcast activation feeds two multiplies. */
    static final int ROWS = 2 * Interleaved.ROWS;
    /** Columns per decoded tile: 128 × 64 × 2 bytes = 16 KB, half of L1. */
    static final int COLS = 128;

    private Int8Gemm() {
    }

    /** Whether batches over this type's interleaved copy run here (int8 activations). */
    public static boolean supports(GgmlType type) {
        return type == GgmlType.Q4_0;
    }

    /** Work items of a matrix: pairs of 32-row groups. */
    public static int pairs(int rows) {
        return (Interleaved.groups(rows) + 1) / 2;
    }

    /** Per-worker buffers, grown on demand so that the hot path does not allocate. */
    public static final class Scratch {
        final short[] w = new short[COLS * ROWS];
        final float[] d = new float[COLS / 32 * ROWS];
        float[] acc = new float[0];
    }

    /**
     * out[t·rows + r] = W[r] · x[t] for every token of {@code x} (already quantized) and the rows of group pairs
     * [p0, p1).
     */
    public static void gemm(GgmlType type, MemorySegment w, int rows, int cols, QuantizedActivations x, float[] out,
                            int p0, int p1, Scratch s) {
        if (type != GgmlType.Q4_0) throw new IllegalArgumentException("no int8 GEMM for " + type);
        final int n = x.tokens, nb = cols / 32, groups = Interleaved.groups(rows);
        final long gBytes = Interleaved.groupBytes(type, cols);
        if (s.acc.length < n * ROWS) s.acc = new float[n * ROWS];
        final float[] acc = s.acc;
        for (int p = p0; p < p1; p++) {
            int g = 2 * p, r0 = p * ROWS, valid = Math.min(ROWS, rows - r0);
            boolean second = g + 1 < groups;
            Arrays.fill(acc, 0, n * ROWS, 0f);
            if (!second) Arrays.fill(s.d, 0f); // the missing group's scales stay 0: its lanes add nothing
            for (int c0 = 0; c0 < cols; c0 += COLS) {
                int nc = Math.min(COLS, cols - c0);
                decodeQ4(w, g * gBytes, c0 / 32, nc / 32, s.w, s.d, 0);
                if (second) decodeQ4(w, (g + 1) * gBytes, c0 / 32, nc / 32, s.w, s.d, Interleaved.ROWS);
                int t = 0;
                for (; t + 4 <= n; t += 4) tile4(s.w, s.d, nc, x.q, x.d, t * cols + c0, t * nb + c0 / 32, cols, nb, acc, t * ROWS);
                for (; t < n; t++) tile1(s.w, s.d, nc, x.q, x.d, t * cols + c0, t * nb + c0 / 32, acc, t * ROWS);
            }
            for (int t = 0; t < n; t++) System.arraycopy(acc, t * ROWS, out, t * rows + r0, valid);
        }
    }

    /**
     * Blocks [b0, b0 + nBlocks) of a Q4_0 group into lanes [lane, lane + 32) of the tile: wt[(32·b + c)·64 + r] = n − 8,
     * ds[b·64 + r] = d (f16 → f32 in place, see {@link Int8Kernels}).
     */
    static void decodeQ4(MemorySegment w, long g, int b0, int nBlocks, short[] wt, float[] ds, int lane) {
        for (int b = 0; b < nBlocks; b++) {
            long t = g + (long) (b0 + b) * Interleaved.Q4_TILE;
            ShortVector h = ShortVector.fromMemorySegment(S, w, t, LE);
            ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC).intoArray(ds, b * ROWS + lane);
            ((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC).intoArray(ds, b * ROWS + lane + 16);
            int base = 32 * b;
            for (int qd = 0; qd < 8; qd++) {
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)
                ShortVector v = ShortVector.fromMemorySegment(S, w, t + 64 + 64L * qd, LE);
                int c = base + 2 * qd;
                v.and((short) 0xF).sub((short) 8).intoArray(wt, c * ROWS + lane);
                v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).sub((short) 8).intoArray(wt, (c + 16) * ROWS + lane);
                v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).sub((short) 8).intoArray(wt, (c + 1) * ROWS + lane);
                v.lanewise(VectorOperators.LSHR, 12).sub((short) 8).intoArray(wt, (c + 17) * ROWS + lane);
            }
        }
    }

    /**
     * Four tokens (quants at xo + j·cols, scales at xdo + j·nb) against nc tile columns, added into acc[ao + j·64 ..].
     * Everything stays in this one method: a helper taking or returning vectors that C2 declines to inline boxes them
     * on every block (docs/PERFORMANCE.md, "A JIT pitfall").
     */
    static void tile4(short[] wt, float[] ds, int nc, short[] xq, float[] xd, int xo, int xdo, int cols, int nb,
                      float[] acc, int ao) {
        final int x0 = xo, x1 = xo + cols, x2 = xo + 2 * cols, x3 = xo + 3 * cols;
        for (int b = 0; b < nc / 32; b++) {
            ShortVector a0 = ShortVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (int c = 32 * b, end = c + 32; c < end; c++) {
                ShortVector w0 = ShortVector.fromArray(S, wt, c * ROWS);
                ShortVector w1 = ShortVector.fromArray(S, wt, c * ROWS + 32);
                ShortVector v0 = ShortVector.broadcast(S, xq[x0 + c]);
                ShortVector v1 = ShortVector.broadcast(S, xq[x1 + c]);
                ShortVector v2 = ShortVector.broadcast(S, xq[x2 + c]);
                ShortVector v3 = ShortVector.broadcast(S, xq[x3 + c]);
                a0 = a0.add(w0.mul(v0));
                b0 = b0.add(w1.mul(v0));
                a1 = a1.add(w0.mul(v1));
                b1 = b1.add(w1.mul(v1));
                a2 = a2.add(w0.mul(v2));
                b2 = b2.add(w1.mul(v2));
                a3 = a3.add(w0.mul(v3));
                b3 = b3.add(w1.mul(v3));
            }
            FloatVector da = FloatVector.fromArray(F, ds, b * ROWS), db = FloatVector.fromArray(F, ds, b * ROWS + 16);
            FloatVector dc = FloatVector.fromArray(F, ds, b * ROWS + 32), dd = FloatVector.fromArray(F, ds, b * ROWS + 48);
            int xb = xdo + b;
            // token 0
            float s = xd[xb];
            int o = ao;
            ((FloatVector) a0.convertShape(VectorOperators.S2F, F, 0)).fma(da.mul(s), FloatVector.fromArray(F, acc, o)).intoArray(acc, o);
            ((FloatVector) a0.convertShape(VectorOperators.S2F, F, 1)).fma(db.mul(s), FloatVector.fromArray(F, acc, o + 16)).intoArray(acc, o + 16);
            ((FloatVector) b0.convertShape(VectorOperators.S2F, F, 0)).fma(dc.mul(s), FloatVector.fromArray(F, acc, o + 32)).intoArray(acc, o + 32);
            ((FloatVector) b0.convertShape(VectorOperators.S2F, F, 1)).fma(dd.mul(s), FloatVector.fromArray(F, acc, o + 48)).intoArray(acc, o + 48);
            // token 1
            s = xd[xb + nb];
            o = ao + ROWS;
            ((FloatVector) a1.convertShape(VectorOperators.S2F, F, 0)).fma(da.mul(s), FloatVector.fromArray(F, acc, o)).intoArray(acc, o);
            ((FloatVector) a1.convertShape(VectorOperators.S2F, F, 1)).fma(db.mul(s), FloatVector.fromArray(F, acc, o + 16)).intoArray(acc, o + 16);
            ((FloatVector) b1.convertShape(VectorOperators.S2F, F, 0)).fma(dc.mul(s), FloatVector.fromArray(F, acc, o + 32)).intoArray(acc, o + 32);
            ((FloatVector) b1.convertShape(VectorOperators.S2F, F, 1)).fma(dd.mul(s), FloatVector.fromArray(F, acc, o + 48)).intoArray(acc, o + 48);
            // token 2
            s = xd[xb + 2 * nb];
            o = ao + 2 * ROWS;
            ((FloatVector) a2.convertShape(VectorOperators.S2F, F, 0)).fma(da.mul(s), FloatVector.fromArray(F, acc, o)).intoArray(acc, o);
            ((FloatVector) a2.convertShape(VectorOperators.S2F, F, 1)).fma(db.mul(s), FloatVector.fromArray(F, acc, o + 16)).intoArray(acc, o + 16);
            ((FloatVector) b2.convertShape(VectorOperators.S2F, F, 0)).fma(dc.mul(s), FloatVector.fromArray(F, acc, o + 32)).intoArray(acc, o + 32);
            ((FloatVector) b2.convertShape(VectorOperators.S2F, F, 1)).fma(dd.mul(s), FloatVector.fromArray(F, acc, o + 48)).intoArray(acc, o + 48);
            // token 3
            s = xd[xb + 3 * nb];
            o = ao + 3 * ROWS;
            ((FloatVector) a3.convertShape(VectorOperators.S2F, F, 0)).fma(da.mul(s), FloatVector.fromArray(F, acc, o)).intoArray(acc, o);
            ((FloatVector) a3.convertShape(VectorOperators.S2F, F, 1)).fma(db.mul(s), FloatVector.fromArray(F, acc, o + 16)).intoArray(acc, o + 16);
            ((FloatVector) b3.convertShape(VectorOperators.S2F, F, 0)).fma(dc.mul(s), FloatVector.fromArray(F, acc, o + 32)).intoArray(acc, o + 32);
            ((FloatVector) b3.convertShape(VectorOperators.S2F, F, 1)).fma(dd.mul(s), FloatVector.fromArray(F, acc, o + 48)).intoArray(acc, o + 48);
        }
    }

    /** One token against nc tile columns (a batch's last 1–3), added into acc[ao ..]. */
    static void tile1(short[] wt, float[] ds, int nc, short[] xq, float[] xd, int xo, int xdo, float[] acc, int ao) {
        for (int b = 0; b < nc / 32; b++) {
            ShortVector a0 = ShortVector.zero(S), b0 = a0;
            for (int c = 32 * b, end = c + 32; c < end; c++) {
                ShortVector v = ShortVector.broadcast(S, xq[xo + c]);
                a0 = a0.add(ShortVector.fromArray(S, wt, c * ROWS).mul(v));
                b0 = b0.add(ShortVector.fromArray(S, wt, c * ROWS + 32).mul(v));
            }
            float s = xd[xdo + b];
            int d = b * ROWS;
            ((FloatVector) a0.convertShape(VectorOperators.S2F, F, 0)).fma(FloatVector.fromArray(F, ds, d).mul(s),
                    FloatVector.fromArray(F, acc, ao)).intoArray(acc, ao);
            ((FloatVector) a0.convertShape(VectorOperators.S2F, F, 1)).fma(FloatVector.fromArray(F, ds, d + 16).mul(s),
                    FloatVector.fromArray(F, acc, ao + 16)).intoArray(acc, ao + 16);
            ((FloatVector) b0.convertShape(VectorOperators.S2F, F, 0)).fma(FloatVector.fromArray(F, ds, d + 32).mul(s),
                    FloatVector.fromArray(F, acc, ao + 32)).intoArray(acc, ao + 32);
            ((FloatVector) b0.convertShape(VectorOperators.S2F, F, 1)).fma(FloatVector.fromArray(F, ds, d + 48).mul(s),
                    FloatVector.fromArray(F, acc, ao + 48)).intoArray(acc, ao + 48);
        }
    }
}
