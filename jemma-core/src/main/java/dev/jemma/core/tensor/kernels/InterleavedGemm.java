package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import jdk.incubator.vector.FloatVector;

import static dev.jemma.core.tensor.kernels.VectorWidth.F16_MAGIC;
import static dev.jemma.core.tensor.kernels.VectorWidth.FV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SV;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q5K_HEADER;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q5K_SB;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q5K_SUB;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q6K_HEADER;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q6K_SB;
import static dev.jemma.core.tensor.kernels.KQuantInterleaved.Q6K_SUB;

/**
 * Prefill over {@link Interleaved} Q8_0 / Q5_K / Q6_K / F16 weights with f32 activations, and over Q4_0 / Q4_K / Q5_0
 * where a matrix asks for residual rows (Gemma 3n's layers: {@link FastMatMul#f32TileForResidualRows}; other Q4_0 / Q4_K /
 * Q5_0 batches run on {@link Int8Gemm}): a group's weights are decoded exactly to an f32 tile, column by column with the 32 rows
 * side by side ({@code tile[c·32 + r]}), and every token of the batch is multiplied against it 4 at a time: per column
 * two weight vectors, one broadcast per token, two FMAs per token — 8 accumulators in registers, no horizontal sums
 * (below 512 bits 6 at a time, 12 accumulators: {@link #tile6}). A weight is decoded once per {@link #TOKEN_BLOCK}
 * tokens. On one Zen 4 core this runs at the f32 FMA peak (~49 G
 * multiply-adds/s). These types stay here because their 16-bit integer sums would have to be widened too often: one
 * Q8_0 product reaches 16 256, Q6_K's sums fit 16 bits over 8 columns only.
 *
 * <p>Width: written over {@link VectorWidth}'s species. The layout (and the tile's) stays 32 rows per group at every
 * width; the kernels walk a group in slices of rows. The tile kernels take slices of {@code 2 · FLOATS} rows (32, 16 or
 * 8: two float vectors per column, so 8 accumulators + 2 weights + 4 broadcasts fit AVX2's 16 registers); the decoders
 * take slices of {@link VectorWidth#SHORTS} rows, reading the 16-bit per-row fields at byte {@code 2·l0} of each 64-byte
 * vector and the f32 per-row headers at {@code 4·l0} (first half) and {@code 4·l0 + 2·SHORTS} (second half). Slice loops
 * have constant trip counts (1 at 512 bits, where the code is what it was). Vector values stay in one method's locals.
 */
public final class InterleavedGemm {
    static final VectorSpecies<Float> F = VectorWidth.F;
    static final VectorSpecies<Short> S = VectorWidth.S;
    static final VectorSpecies<Integer> I = VectorWidth.I;
    /** One 16-bit lane per float lane: f16 values and Q8_0 column pairs widen from these. */
    static final VectorSpecies<Short> SH = VectorWidth.SH;
    static final int FL = VectorWidth.FLOATS;
    static final int SHORTS = VectorWidth.SHORTS;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Columns decoded per tile: 128 × 32 f32 = 16 KB, half of L1. */
    static final int COLS = 128;
    /**
     * Tokens per pass over the weights: their activations (≤ 64 × cols f32) stay in L2. At 256 bits 128: a tile is then
     * decoded (and the weights streamed) half as often, measured 3–5 % faster on the Q8_0 tile GEMM (docs/PERFORMANCE.md,
     * "Q8_0 prefill at 256 bits"); at 128 bits it measured the same either way and stays 64.
     */
    static final int TOKEN_BLOCK = SHORTS == 16 ? 128 : 64;
    /** Widest matrix (columns) whose 256-bit passes take {@code 2 · TOKEN_BLOCK} tokens: see {@link #tokenBlock}. */
    static final int WIDE_BLOCK_COLS = 1152;

    /**
     * Tokens per pass over a matrix of {@code cols} columns (the caller's block loop): {@link #TOKEN_BLOCK}, but 256 at
     * 256 bits up to {@link #WIDE_BLOCK_COLS} columns. Each pass decodes every weight slab again, and the decoder's cost
     * is its weights' first read from memory (~5 % of the Q8_0 GEMM at 256 bits; free when the weights sit in L2): 256
     * tokens halve it where the block's activations (256 × 1152 f32: 1.2 MB) still come from L2 and L3 fast enough —
     * Q8_0 6912×1152×512, one core, 12 rounds alternated: median 46.7 → 48.0, best 48.6 → 49.7 G multiply-adds/s. Wider
     * matrices keep 128 (ffn_down, 6912 columns: 256 measured slower, docs/PERFORMANCE.md "256-bit prompts for Q8_0").
     * Per token the same bits: a token's sums depend only on which tile takes it, and 6- and 4-token tiles agree.
     */
    public static int tokenBlock(int cols) {
        return SHORTS == 16 && cols <= WIDE_BLOCK_COLS ? 2 * TOKEN_BLOCK : TOKEN_BLOCK;
    }
    /**
     * {@link #gemvF16}'s columns per pass below 512 bits: each row slice passes over these 256 columns (16 KB of the
     * group, in L1) before the next slice does; at 512 bits one slice covers the group and takes all columns at once.
     */
    static final int GEMV_COLS = SHORTS >= Interleaved.ROWS ? Integer.MAX_VALUE : 256;

    private InterleavedGemm() {
    }


    /** Floats a caller's {@code part} array must hold: one group's partial sums of up to 6 tokens ({@link #tile6}). */
    public static final int PART = 6 * 32;

    /**
     * out[t·rows + r] = W[r] · x[t] for tokens [t0, t1) and the rows of groups [g0, g1); {@code part} holds at least
     * {@link #PART} floats.
     */
    public static void gemm(GgmlType type, MemorySegment w, int rows, int cols, float[] x, int t0, int t1, float[] out,
                            int g0, int g1, float[] tile, float[] part) {
        if (SHORTS == 32) { // 512 bits (a constant): the code of before the width became a parameter, verbatim
            gemm512(type, w, rows, cols, x, t0, t1, out, g0, g1, tile, part);
            return;
        }
        final int nb = cols / 32;
        final long gBytes = Interleaved.groupBytes(type, cols);
        final boolean f16 = type == GgmlType.F16, q6k = type == GgmlType.Q6_K, q5k = type == GgmlType.Q5_K;
        final boolean q4 = type == GgmlType.Q4_0, q4k = type == GgmlType.Q4_K, q5 = type == GgmlType.Q5_0;
        if (!f16 && !q6k && !q5k && !q4 && !q4k && !q5 && type != GgmlType.Q8_0) {
            throw new IllegalArgumentException("no f32 tile decoder for " + type);
        }
        for (int g = g0; g < g1; g++) {
            int r0 = g * Interleaved.ROWS, valid = Math.min(Interleaved.ROWS, rows - r0);
            for (int c0 = 0; c0 < cols; c0 += COLS) {
                int nc = Math.min(COLS, cols - c0);
                if (q4) decodeQ4(w, g * gBytes, c0 / 32, nc / 32, tile);
                else if (q4k) decodeQ4K(w, g * gBytes, c0 / 32, nc / 32, tile);
                else if (q5) decodeQ5(w, g * gBytes, c0 / 32, nc / 32, tile);
                else if (f16) decodeF16(w, g * gBytes, c0 / 32, nc / 32, tile);
                else if (q6k) decodeQ6K(w, g * gBytes, c0 / 32, nc / 32, tile);
                else if (q5k) decodeQ5K(w, g * gBytes, c0 / 32, nc / 32, tile);
                else decodeQ8(w, g * gBytes, c0 / 32, nc / 32, tile);
                boolean first = c0 == 0;
                int t = t0;
                // 6-token tiles, but a remainder of 2 or 3 runs as 4 + 4 (+ 1) rather than as 2–3 one-token passes, which
                // cost ~3× a tile's CPU per token (128 = 20·6 + 2·4: tile1 was ~3 % of a 256-bit Q8_0 pp512's samples)
                int r6 = (t1 - t0) % 6, end6 = t1 - ((r6 == 2 || r6 == 3) && t1 - t0 >= 6 + r6 ? 6 + r6 : r6);
                for (; t < end6; t += 6) tile6(tile, nc, x, t * cols + c0, cols, out, t * rows + r0, rows, valid, first, part);
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
            // 16-bit lane i of a column holds row i (low byte) and row 16 + i (high byte): a slice of FL lanes at
            // lane j gives rows j.. and 16 + j..; the scales of those rows are f16 at bytes 2j and 32 + 2j
            for (int j = 0; j < 16; j += FL) {
                FloatVector d0 = ((IntVector) ShortVector.fromMemorySegment(SH, w, t + 2L * j, LE).convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC); // f16 -> f32 in place: see Int8Kernels.q5
                FloatVector d1 = ((IntVector) ShortVector.fromMemorySegment(SH, w, t + 32 + 2L * j, LE).convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                for (int k = 0; k < 32; k++) {
                    IntVector v = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64 + 32L * k + 2L * j, LE).convertShape(VectorOperators.S2I, I, 0);
                    IntVector lo = v.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24);
                    IntVector hi = v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 24);
                    FloatVector l = (FloatVector) lo.convert(VectorOperators.I2F, 0);
                    FloatVector u = (FloatVector) hi.convert(VectorOperators.I2F, 0);
                    int c = 32 * b + k;
                    l.mul(d0).intoArray(tile, c * 32 + j);
                    u.mul(d1).intoArray(tile, c * 32 + 16 + j);
                }
            }
        }
    }

    /**
     * Blocks [b0, b0 + n) of a Q4_0 group into the same tile layout: d · (n − 8), the product the file's decoder rounds
     * (exact here: an f16 scale times a 4-bit integer fits f32's mantissa). Quad qd, 16-bit lane r holds the nibbles of
     * columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 of row r ({@link Interleaved}); a slice of {@link VectorWidth#SHORTS} rows
     * widens to two float vectors (rows l0.. and l0 + FL..). Loads and intermediates are cast to their exact class, as
     * in {@link Int8Gemm#quads}: uncast, a late-inlined vector operation can bind from the JVM-wide profile and box.
     */
    static void decodeQ4(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            long t = g + (long) (b0 + b) * Interleaved.Q4_TILE;
            int base = 32 * b;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += SHORTS) {
                ShortVector h = SV.cast(ShortVector.fromMemorySegment(S, w, t + 2L * l0, LE));
                FloatVector d0 = FV.cast(((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                        .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC)); // f16 -> f32 in place: see Int8Kernels.q5
                FloatVector d1 = FV.cast(((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                        .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC));
                for (int qd = 0; qd < 8; qd++) {
                    ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, t + 64 + 64L * qd + 2L * l0, LE));
                    int o = (base + 2 * qd) * 32 + l0;
                    ShortVector n0 = SV.cast(SV.cast(v.and((short) 0xF)).sub((short) 8));
                    ShortVector n1 = SV.cast(SV.cast(SV.cast(v.lanewise(VectorOperators.LSHR, 4)).and((short) 0xF)).sub((short) 8));
                    ShortVector n2 = SV.cast(SV.cast(SV.cast(v.lanewise(VectorOperators.LSHR, 8)).and((short) 0xF)).sub((short) 8));
                    ShortVector n3 = SV.cast(SV.cast(v.lanewise(VectorOperators.LSHR, 12)).sub((short) 8));
                    FV.cast(n0.convertShape(VectorOperators.S2F, F, 0)).mul(d0).intoArray(tile, o);
                    FV.cast(n0.convertShape(VectorOperators.S2F, F, 1)).mul(d1).intoArray(tile, o + FL);
                    FV.cast(n1.convertShape(VectorOperators.S2F, F, 0)).mul(d0).intoArray(tile, o + 16 * 32);
                    FV.cast(n1.convertShape(VectorOperators.S2F, F, 1)).mul(d1).intoArray(tile, o + 16 * 32 + FL);
                    FV.cast(n2.convertShape(VectorOperators.S2F, F, 0)).mul(d0).intoArray(tile, o + 32);
                    FV.cast(n2.convertShape(VectorOperators.S2F, F, 1)).mul(d1).intoArray(tile, o + 32 + FL);
                    FV.cast(n3.convertShape(VectorOperators.S2F, F, 0)).mul(d0).intoArray(tile, o + 17 * 32);
                    FV.cast(n3.convertShape(VectorOperators.S2F, F, 1)).mul(d1).intoArray(tile, o + 17 * 32 + FL);
                }
            }
        }
    }

    /**
     * Blocks [b0, b0 + n) of a Q4_K group ({@link KQuantInterleaved}) into the same tile layout: (d·sc)·q − dmin·m, in
     * the file's decoder's order of rounding; the quads as Q4_0's, the nibble unbiased (0..15).
     */
    static void decodeQ4K(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            int blk = b0 + b;
            long h = g + (long) (blk >>> 3) * KQuantInterleaved.Q4K_SB;
            long t = h + KQuantInterleaved.Q4K_HEADER + (long) (blk & 7) * KQuantInterleaved.Q4K_SUB;
            int base = 32 * b;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += SHORTS) { // per-row fields: 16-bit at +2·l0, f32 at +4·l0
                ShortVector sm = SV.cast(ShortVector.fromMemorySegment(S, w, t + 2L * l0, LE));
                ShortVector sc = SV.cast(sm.and((short) 0xff)), mn = SV.cast(sm.lanewise(VectorOperators.LSHR, 8));
                long hl = h + 4L * l0;
                FloatVector a0 = FV.cast(FloatVector.fromMemorySegment(F, w, hl, LE)).mul(FV.cast(sc.convertShape(VectorOperators.S2F, F, 0)));
                FloatVector a1 = FV.cast(FloatVector.fromMemorySegment(F, w, hl + 2 * SHORTS, LE)).mul(FV.cast(sc.convertShape(VectorOperators.S2F, F, 1)));
                FloatVector k0 = FV.cast(FloatVector.fromMemorySegment(F, w, hl + 128, LE)).mul(FV.cast(mn.convertShape(VectorOperators.S2F, F, 0)));
                FloatVector k1 = FV.cast(FloatVector.fromMemorySegment(F, w, hl + 128 + 2 * SHORTS, LE)).mul(FV.cast(mn.convertShape(VectorOperators.S2F, F, 1)));
                for (int qd = 0; qd < 8; qd++) {
                    ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, t + 64 + 64L * qd + 2L * l0, LE));
                    int o = (base + 2 * qd) * 32 + l0;
                    ShortVector n0 = SV.cast(v.and((short) 0xF));
                    ShortVector n1 = SV.cast(SV.cast(v.lanewise(VectorOperators.LSHR, 4)).and((short) 0xF));
                    ShortVector n2 = SV.cast(SV.cast(v.lanewise(VectorOperators.LSHR, 8)).and((short) 0xF));
                    ShortVector n3 = SV.cast(v.lanewise(VectorOperators.LSHR, 12));
                    FV.cast(n0.convertShape(VectorOperators.S2F, F, 0)).mul(a0).sub(k0).intoArray(tile, o);
                    FV.cast(n0.convertShape(VectorOperators.S2F, F, 1)).mul(a1).sub(k1).intoArray(tile, o + FL);
                    FV.cast(n1.convertShape(VectorOperators.S2F, F, 0)).mul(a0).sub(k0).intoArray(tile, o + 16 * 32);
                    FV.cast(n1.convertShape(VectorOperators.S2F, F, 1)).mul(a1).sub(k1).intoArray(tile, o + 16 * 32 + FL);
                    FV.cast(n2.convertShape(VectorOperators.S2F, F, 0)).mul(a0).sub(k0).intoArray(tile, o + 32);
                    FV.cast(n2.convertShape(VectorOperators.S2F, F, 1)).mul(a1).sub(k1).intoArray(tile, o + 32 + FL);
                    FV.cast(n3.convertShape(VectorOperators.S2F, F, 0)).mul(a0).sub(k0).intoArray(tile, o + 17 * 32);
                    FV.cast(n3.convertShape(VectorOperators.S2F, F, 1)).mul(a1).sub(k1).intoArray(tile, o + 17 * 32 + FL);
                }
            }
        }
    }

    /** Blocks [b0, b0 + n) of a Q5_0 group into the same tile layout: d · (n − 16) (exact, as Q4_0's). */
    static void decodeQ5(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            long t = g + (long) (b0 + b) * Interleaved.Q5_TILE;
            int base = 32 * b;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += SHORTS) {
                ShortVector h = SV.cast(ShortVector.fromMemorySegment(S, w, t + 2L * l0, LE));
                FloatVector d0 = FV.cast(((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                        .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC));
                FloatVector d1 = FV.cast(((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                        .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC));
                for (int k = 0; k < 11; k++) {
                    ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, t + 64 + 64L * k + 2L * l0, LE));
                    // columns of the vector's slots 0, 1, 2 (vector 5: columns 15 and 31, slot 2 unused)
                    int o0 = (base + Interleaved.q5Column(k, 0)) * 32 + l0, o1 = (base + Interleaved.q5Column(k, 1)) * 32 + l0;
                    ShortVector n0 = SV.cast(SV.cast(v.and((short) 31)).sub((short) 16));
                    ShortVector n1 = SV.cast(SV.cast(SV.cast(v.lanewise(VectorOperators.LSHR, 5)).and((short) 31)).sub((short) 16));
                    FV.cast(n0.convertShape(VectorOperators.S2F, F, 0)).mul(d0).intoArray(tile, o0);
                    FV.cast(n0.convertShape(VectorOperators.S2F, F, 1)).mul(d1).intoArray(tile, o0 + FL);
                    FV.cast(n1.convertShape(VectorOperators.S2F, F, 0)).mul(d0).intoArray(tile, o1);
                    FV.cast(n1.convertShape(VectorOperators.S2F, F, 1)).mul(d1).intoArray(tile, o1 + FL);
                    if (k != 5) {
                        int o2 = (base + Interleaved.q5Column(k, 2)) * 32 + l0;
                        ShortVector n2 = SV.cast(SV.cast(v.lanewise(VectorOperators.LSHR, 10)).sub((short) 16));
                        FV.cast(n2.convertShape(VectorOperators.S2F, F, 0)).mul(d0).intoArray(tile, o2);
                        FV.cast(n2.convertShape(VectorOperators.S2F, F, 1)).mul(d1).intoArray(tile, o2 + FL);
                    }
                }
            }
        }
    }

    /** Blocks [b0, b0 + n) of an F16 group into the same tile layout (exact: f16 → f32 by bit placement, × 2^112). */
    static void decodeF16(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            long t = g + (long) (b0 + b) * Interleaved.F16_TILE;
            for (int k = 0; k < 32; k++) {
                int c = 32 * b + k;
                for (int j = 0; j < 32; j += 2 * FL) {
                    IntVector i0 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64L * k + 2L * j, LE).convertShape(VectorOperators.S2I, I, 0);
                    IntVector i1 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64L * k + 2L * (j + FL), LE).convertShape(VectorOperators.S2I, I, 0);
                    FloatVector l = i0.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector u = i1.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    l.intoArray(tile, c * 32 + j);
                    u.intoArray(tile, c * 32 + j + FL);
                }
            }
        }
    }

    /**
     * Blocks [b0, b0 + n) of a Q5_K group into the same tile layout: (d·sc)·q − dmin·m, as the file's decoder. (Moved
     * here from {@link KQuantKernels}, with the other f32 tile decoders.)
     */
    static void decodeQ5K(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            int blk = b0 + b;
            long h = g + (long) (blk >>> 3) * Q5K_SB, t = h + Q5K_HEADER + (long) (blk & 7) * Q5K_SUB;
            int base = 32 * b;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += SHORTS) {
                ShortVector sm = ShortVector.fromMemorySegment(S, w, t + 2L * l0, LE);
                ShortVector sc = sm.and((short) 0xff), mn = sm.lanewise(VectorOperators.LSHR, 8);
                FloatVector a0 = FloatVector.fromMemorySegment(F, w, h + 4L * l0, LE).mul((FloatVector) sc.convertShape(VectorOperators.S2F, F, 0));
                FloatVector a1 = FloatVector.fromMemorySegment(F, w, h + 4L * l0 + 2 * SHORTS, LE).mul((FloatVector) sc.convertShape(VectorOperators.S2F, F, 1));
                FloatVector k0 = FloatVector.fromMemorySegment(F, w, h + 128 + 4L * l0, LE).mul((FloatVector) mn.convertShape(VectorOperators.S2F, F, 0));
                FloatVector k1 = FloatVector.fromMemorySegment(F, w, h + 128 + 4L * l0 + 2 * SHORTS, LE).mul((FloatVector) mn.convertShape(VectorOperators.S2F, F, 1));
                for (int k = 0; k < 11; k++) {
                    ShortVector v = ShortVector.fromMemorySegment(S, w, t + 64 + 64L * k + 2L * l0, LE);
                    // columns of the vector's slots 0, 1, 2 (vector 5: columns 15 and 31, slot 2 unused)
                    int c0 = Interleaved.q5Column(k, 0), c1 = Interleaved.q5Column(k, 1);
                    ShortVector n0 = v.and((short) 31);
                    ShortVector n1 = v.lanewise(VectorOperators.LSHR, 5).and((short) 31);
                    ((FloatVector) n0.convertShape(VectorOperators.S2F, F, 0)).mul(a0).sub(k0).intoArray(tile, (base + c0) * 32 + l0);
                    ((FloatVector) n0.convertShape(VectorOperators.S2F, F, 1)).mul(a1).sub(k1).intoArray(tile, (base + c0) * 32 + l0 + FL);
                    ((FloatVector) n1.convertShape(VectorOperators.S2F, F, 0)).mul(a0).sub(k0).intoArray(tile, (base + c1) * 32 + l0);
                    ((FloatVector) n1.convertShape(VectorOperators.S2F, F, 1)).mul(a1).sub(k1).intoArray(tile, (base + c1) * 32 + l0 + FL);
                    if (k != 5) {
                        int c2 = Interleaved.q5Column(k, 2);
                        ShortVector n2 = v.lanewise(VectorOperators.LSHR, 10);
                        ((FloatVector) n2.convertShape(VectorOperators.S2F, F, 0)).mul(a0).sub(k0).intoArray(tile, (base + c2) * 32 + l0);
                        ((FloatVector) n2.convertShape(VectorOperators.S2F, F, 1)).mul(a1).sub(k1).intoArray(tile, (base + c2) * 32 + l0 + FL);
                    }
                }
            }
        }
    }

    /**
     * Blocks [b0, b0 + n) of a Q6_K group into the same tile layout: (d·sc)·(q − 32), as the file's decoder. (Moved
     * here from {@link KQuantKernels}, with the other f32 tile decoders.)
     */
    static void decodeQ6K(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            int blk = b0 + b;
            long h = g + (long) (blk >>> 3) * Q6K_SB, t = h + Q6K_HEADER + (long) (blk & 7) * Q6K_SUB;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += SHORTS) {
                ShortVector sm = ShortVector.fromMemorySegment(S, w, t + 2L * l0, LE);
                FloatVector d0 = FloatVector.fromMemorySegment(F, w, h + 4L * l0, LE);
                FloatVector d1 = FloatVector.fromMemorySegment(F, w, h + 4L * l0 + 2 * SHORTS, LE);
                for (int k = 0; k < 4; k++) {
                    // columns 8k..8k+7: groups 0 and 1 take the first sub-block's scale (low byte), 2 and 3 the second's;
                    // selected by a shift count, not by choosing between vectors (a vector phi can make C2 box)
                    ShortVector sc = sm.lanewise(VectorOperators.LSHL, k < 2 ? 8 : 0).lanewise(VectorOperators.ASHR, 8);
                    FloatVector s0 = d0.mul((FloatVector) sc.convertShape(VectorOperators.S2F, F, 0));
                    FloatVector s1 = d1.mul((FloatVector) sc.convertShape(VectorOperators.S2F, F, 1));
                    long p = t + 64 + 192L * k + 2L * l0;
                    ShortVector q0 = ShortVector.fromMemorySegment(S, w, p, LE);
                    ShortVector q1 = ShortVector.fromMemorySegment(S, w, p + 64, LE);
                    ShortVector q2 = ShortVector.fromMemorySegment(S, w, p + 128, LE);
                    int o = (32 * b + 8 * k) * 32 + l0;
                    ShortVector v0 = q0.and((short) 63).sub((short) 32);
                    ShortVector v1 = q0.lanewise(VectorOperators.LSHR, 6).and((short) 63).sub((short) 32);
                    ShortVector v2 = q0.lanewise(VectorOperators.LSHR, 12).or(q2.lanewise(VectorOperators.LSHR, 8).and((short) 0x30)).sub((short) 32);
                    ShortVector v3 = q1.and((short) 63).sub((short) 32);
                    ShortVector v4 = q1.lanewise(VectorOperators.LSHR, 6).and((short) 63).sub((short) 32);
                    ShortVector v5 = q1.lanewise(VectorOperators.LSHR, 12).or(q2.lanewise(VectorOperators.LSHR, 10).and((short) 0x30)).sub((short) 32);
                    ShortVector v6 = q2.and((short) 63).sub((short) 32);
                    ShortVector v7 = q2.lanewise(VectorOperators.LSHR, 6).and((short) 63).sub((short) 32);
                    ((FloatVector) v0.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o);
                    ((FloatVector) v0.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + FL);
                    ((FloatVector) v1.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 32);
                    ((FloatVector) v1.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 32 + FL);
                    ((FloatVector) v2.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 64);
                    ((FloatVector) v2.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 64 + FL);
                    ((FloatVector) v3.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 96);
                    ((FloatVector) v3.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 96 + FL);
                    ((FloatVector) v4.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 128);
                    ((FloatVector) v4.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 128 + FL);
                    ((FloatVector) v5.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 160);
                    ((FloatVector) v5.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 160 + FL);
                    ((FloatVector) v6.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 192);
                    ((FloatVector) v6.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 192 + FL);
                    ((FloatVector) v7.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 224);
                    ((FloatVector) v7.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 224 + FL);
                }
            }
        }
    }

    /** {@link #decodeQ5K} at 512 bits: the decoder as it was written for 32 lanes (one slice), kept verbatim. */
    private static void decodeQ5K512(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            int blk = b0 + b;
            long h = g + (long) (blk >>> 3) * Q5K_SB, t = h + Q5K_HEADER + (long) (blk & 7) * Q5K_SUB;
            ShortVector sm = ShortVector.fromMemorySegment(S, w, t, LE);
            ShortVector sc = sm.and((short) 0xff), mn = sm.lanewise(VectorOperators.LSHR, 8);
            FloatVector a0 = FloatVector.fromMemorySegment(F, w, h, LE).mul((FloatVector) sc.convertShape(VectorOperators.S2F, F, 0));
            FloatVector a1 = FloatVector.fromMemorySegment(F, w, h + 64, LE).mul((FloatVector) sc.convertShape(VectorOperators.S2F, F, 1));
            FloatVector k0 = FloatVector.fromMemorySegment(F, w, h + 128, LE).mul((FloatVector) mn.convertShape(VectorOperators.S2F, F, 0));
            FloatVector k1 = FloatVector.fromMemorySegment(F, w, h + 192, LE).mul((FloatVector) mn.convertShape(VectorOperators.S2F, F, 1));
            int base = 32 * b;
            for (int k = 0; k < 11; k++) {
                ShortVector v = ShortVector.fromMemorySegment(S, w, t + 64 + 64L * k, LE);
                // columns of the vector's slots 0, 1, 2 (vector 5: columns 15 and 31, slot 2 unused)
                int c0 = Interleaved.q5Column(k, 0), c1 = Interleaved.q5Column(k, 1);
                ShortVector n0 = v.and((short) 31);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 5).and((short) 31);
                ((FloatVector) n0.convertShape(VectorOperators.S2F, F, 0)).mul(a0).sub(k0).intoArray(tile, (base + c0) * 32);
                ((FloatVector) n0.convertShape(VectorOperators.S2F, F, 1)).mul(a1).sub(k1).intoArray(tile, (base + c0) * 32 + 16);
                ((FloatVector) n1.convertShape(VectorOperators.S2F, F, 0)).mul(a0).sub(k0).intoArray(tile, (base + c1) * 32);
                ((FloatVector) n1.convertShape(VectorOperators.S2F, F, 1)).mul(a1).sub(k1).intoArray(tile, (base + c1) * 32 + 16);
                if (k != 5) {
                    ShortVector n2 = v.lanewise(VectorOperators.LSHR, 10);
                    ((FloatVector) n2.convertShape(VectorOperators.S2F, F, 0)).mul(a0).sub(k0).intoArray(tile, (base + Interleaved.q5Column(k, 2)) * 32);
                    ((FloatVector) n2.convertShape(VectorOperators.S2F, F, 1)).mul(a1).sub(k1).intoArray(tile, (base + Interleaved.q5Column(k, 2)) * 32 + 16);
                }
            }
        }
    }

    /** {@link #decodeQ6K} at 512 bits, likewise. */
    private static void decodeQ6K512(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            int blk = b0 + b;
            long h = g + (long) (blk >>> 3) * Q6K_SB, t = h + Q6K_HEADER + (long) (blk & 7) * Q6K_SUB;
            ShortVector sm = ShortVector.fromMemorySegment(S, w, t, LE);
            FloatVector d0 = FloatVector.fromMemorySegment(F, w, h, LE), d1 = FloatVector.fromMemorySegment(F, w, h + 64, LE);
            for (int k = 0; k < 4; k++) {
                // columns 8k..8k+7: groups 0 and 1 take the first sub-block's scale (low byte), 2 and 3 the second's;
                // selected by a shift count, not by choosing between vectors (a vector phi can make C2 box)
                ShortVector sc = sm.lanewise(VectorOperators.LSHL, k < 2 ? 8 : 0).lanewise(VectorOperators.ASHR, 8);
                FloatVector s0 = d0.mul((FloatVector) sc.convertShape(VectorOperators.S2F, F, 0));
                FloatVector s1 = d1.mul((FloatVector) sc.convertShape(VectorOperators.S2F, F, 1));
                long p = t + 64 + 192L * k;
                ShortVector l0 = ShortVector.fromMemorySegment(S, w, p, LE);
                ShortVector l1 = ShortVector.fromMemorySegment(S, w, p + 64, LE);
                ShortVector l2 = ShortVector.fromMemorySegment(S, w, p + 128, LE);
                int o = (32 * b + 8 * k) * 32;
                ShortVector v0 = l0.and((short) 63).sub((short) 32);
                ShortVector v1 = l0.lanewise(VectorOperators.LSHR, 6).and((short) 63).sub((short) 32);
                ShortVector v2 = l0.lanewise(VectorOperators.LSHR, 12).or(l2.lanewise(VectorOperators.LSHR, 8).and((short) 0x30)).sub((short) 32);
                ShortVector v3 = l1.and((short) 63).sub((short) 32);
                ShortVector v4 = l1.lanewise(VectorOperators.LSHR, 6).and((short) 63).sub((short) 32);
                ShortVector v5 = l1.lanewise(VectorOperators.LSHR, 12).or(l2.lanewise(VectorOperators.LSHR, 10).and((short) 0x30)).sub((short) 32);
                ShortVector v6 = l2.and((short) 63).sub((short) 32);
                ShortVector v7 = l2.lanewise(VectorOperators.LSHR, 6).and((short) 63).sub((short) 32);
                ((FloatVector) v0.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o);
                ((FloatVector) v0.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 16);
                ((FloatVector) v1.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 32);
                ((FloatVector) v1.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 48);
                ((FloatVector) v2.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 64);
                ((FloatVector) v2.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 80);
                ((FloatVector) v3.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 96);
                ((FloatVector) v3.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 112);
                ((FloatVector) v4.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 128);
                ((FloatVector) v4.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 144);
                ((FloatVector) v5.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 160);
                ((FloatVector) v5.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 176);
                ((FloatVector) v6.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 192);
                ((FloatVector) v6.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 208);
                ((FloatVector) v7.convertShape(VectorOperators.S2F, F, 0)).mul(s0).intoArray(tile, o + 224);
                ((FloatVector) v7.convertShape(VectorOperators.S2F, F, 1)).mul(s1).intoArray(tile, o + 240);
            }
        }
    }

    /**
     * One token against the rows of F16 groups [g0, g1): out[o + r] = W[r] · x[xo ..], f32 activations. The f16 → f32
     * step (sign-extend, shift, mask, ×2^112: 4 vector operations per FLOATS weights) is written out in place for the
     * reasons given in {@link Int8Kernels}; 4 accumulators keep the FMA latency off the critical path. Each slice of
     * {@link VectorWidth#SHORTS} rows passes over {@link #GEMV_COLS} columns at a time (all of them at 512 bits).
     */
    public static void gemvF16(MemorySegment w, int g0, int g1, int rows, int cols, float[] x, int xo, float[] out, int o) {
        if (SHORTS == 32) { // 512 bits (a constant): the code of before the width became a parameter
            gemvF16x512(w, g0, g1, rows, cols, x, xo, out, o);
            return;
        }
        final int nb = cols / 32;
        final long gBytes = (long) nb * Interleaved.F16_TILE;
        for (int g = g0; g < g1; g++) {
            final long base = g * gBytes;
            final int r0 = g * Interleaved.ROWS, valid = rows - r0;
            for (int cs = 0; cs < cols; ) {
                final int ce = cols - cs <= GEMV_COLS ? cols : cs + GEMV_COLS;
                for (int l0 = 0; l0 < Interleaved.ROWS; l0 += SHORTS) {
                    FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b1 = FloatVector.zero(F);
                    for (int c = cs; c < ce; c += 2) {
                        long t = base + (long) (c >> 5) * Interleaved.F16_TILE + 64L * (c & 31) + 2L * l0;
                        IntVector i0 = (IntVector) ShortVector.fromMemorySegment(SH, w, t, LE).convertShape(VectorOperators.S2I, I, 0);
                        IntVector i1 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 2 * FL, LE).convertShape(VectorOperators.S2I, I, 0);
                        IntVector i2 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64, LE).convertShape(VectorOperators.S2I, I, 0);
                        IntVector i3 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64 + 2 * FL, LE).convertShape(VectorOperators.S2I, I, 0);
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
                    int oo = o + r0 + l0;
                    FloatVector lo = FV.cast(a0).add(a1), hi = FV.cast(b0).add(b1);
                    // in place, not through a helper: see Int8Kernels
                    if (valid >= l0 + SHORTS) {
                        if (cs == 0) {
                            lo.intoArray(out, oo);
                            hi.intoArray(out, oo + FL);
                        } else {
                            lo.add(FloatVector.fromArray(F, out, oo)).intoArray(out, oo);
                            hi.add(FloatVector.fromArray(F, out, oo + FL)).intoArray(out, oo + FL);
                        }
                    } else if (cs == 0) {
                        lo.intoArray(out, oo, F.indexInRange(l0, valid));
                        hi.intoArray(out, oo + FL, F.indexInRange(l0 + FL, valid));
                    } else {
                        lo.add(FloatVector.fromArray(F, out, oo, F.indexInRange(l0, valid))).intoArray(out, oo, F.indexInRange(l0, valid));
                        hi.add(FloatVector.fromArray(F, out, oo + FL, F.indexInRange(l0 + FL, valid))).intoArray(out, oo + FL, F.indexInRange(l0 + FL, valid));
                    }
                }
                cs = ce;
            }
        }
    }

    /** Activations from this magnitude on would overflow f32 once scaled by 2^112 (2^128 is past the largest float). */
    static final float F16_SCALED_LIMIT = 0x1p16f;

    /**
     * into[0, n) = x[0, n) · 2^112 (exact: a power of two, no overflow below {@link #F16_SCALED_LIMIT}) for
     * {@link #gemvF16Scaled}; false, with {@code into} partly written, where some |x| is not below that limit (or NaN):
     * the caller then runs {@link #gemvF16} on x itself.
     */
    public static boolean scaleForF16(float[] x, int n, float[] into) {
        for (int i = 0; i < n; i++) {
            float v = x[i];
            if (!(Math.abs(v) < F16_SCALED_LIMIT)) return false;
            into[i] = v * 0x1p112f;
        }
        return true;
    }

    /**
     * {@link #gemvF16} for x pre-scaled by 2^112 ({@link #scaleForF16}): the weights' f16 bits placed in f32 without the
     * × 2^112 (one vector operation fewer per {@link VectorWidth#FLOATS} weights, the output projection being ~30 % of a
     * 12B token's CPU). The same sums bit for bit: w' = w · 2^-112 exactly (a subnormal f32 for a subnormal f16), so each
     * product w' · (x · 2^112) is the same real number w · x and every FMA rounds the same.
     */
    public static void gemvF16Scaled(MemorySegment w, int g0, int g1, int rows, int cols, float[] x, int xo, float[] out, int o) {
        if (SHORTS == 32) { // 512 bits (a constant): the code of before the width became a parameter
            gemvF16Scaledx512(w, g0, g1, rows, cols, x, xo, out, o);
            return;
        }
        final int nb = cols / 32;
        final long gBytes = (long) nb * Interleaved.F16_TILE;
        for (int g = g0; g < g1; g++) {
            final long base = g * gBytes;
            final int r0 = g * Interleaved.ROWS, valid = rows - r0;
            for (int cs = 0; cs < cols; ) {
                final int ce = cols - cs <= GEMV_COLS ? cols : cs + GEMV_COLS;
                for (int l0 = 0; l0 < Interleaved.ROWS; l0 += SHORTS) {
                    FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b1 = FloatVector.zero(F);
                    for (int c = cs; c < ce; c += 2) {
                        long t = base + (long) (c >> 5) * Interleaved.F16_TILE + 64L * (c & 31) + 2L * l0;
                        IntVector i0 = (IntVector) ShortVector.fromMemorySegment(SH, w, t, LE).convertShape(VectorOperators.S2I, I, 0);
                        IntVector i1 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 2 * FL, LE).convertShape(VectorOperators.S2I, I, 0);
                        IntVector i2 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64, LE).convertShape(VectorOperators.S2I, I, 0);
                        IntVector i3 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64 + 2 * FL, LE).convertShape(VectorOperators.S2I, I, 0);
                        FloatVector w0 = i0.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats();
                        FloatVector w1 = i1.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats();
                        FloatVector w2 = i2.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats();
                        FloatVector w3 = i3.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats();
                        FloatVector v0 = FloatVector.broadcast(F, x[xo + c]);
                        FloatVector v1 = FloatVector.broadcast(F, x[xo + c + 1]);
                        a0 = w0.fma(v0, a0);
                        b0 = w1.fma(v0, b0);
                        a1 = w2.fma(v1, a1);
                        b1 = w3.fma(v1, b1);
                    }
                    int oo = o + r0 + l0;
                    FloatVector lo = FV.cast(a0).add(a1), hi = FV.cast(b0).add(b1);
                    // in place, not through a helper: see Int8Kernels
                    if (valid >= l0 + SHORTS) {
                        if (cs == 0) {
                            lo.intoArray(out, oo);
                            hi.intoArray(out, oo + FL);
                        } else {
                            lo.add(FloatVector.fromArray(F, out, oo)).intoArray(out, oo);
                            hi.add(FloatVector.fromArray(F, out, oo + FL)).intoArray(out, oo + FL);
                        }
                    } else if (cs == 0) {
                        lo.intoArray(out, oo, F.indexInRange(l0, valid));
                        hi.intoArray(out, oo + FL, F.indexInRange(l0 + FL, valid));
                    } else {
                        lo.add(FloatVector.fromArray(F, out, oo, F.indexInRange(l0, valid))).intoArray(out, oo, F.indexInRange(l0, valid));
                        hi.add(FloatVector.fromArray(F, out, oo + FL, F.indexInRange(l0 + FL, valid))).intoArray(out, oo + FL, F.indexInRange(l0 + FL, valid));
                    }
                }
                cs = ce;
            }
        }
    }

    /**
     * Four tokens (x rows at xo + k·cols) against nc tile columns; adds into (or, if first, sets) out at o + k·rows.
     * Rows in slices of 2·FLOATS (one slice at 512 bits): 8 accumulators per slice.
     */
    /**
     * As {@link #tile4} for 6 tokens: 12 accumulators + 2 weight vectors + a broadcast fill the 16 registers of AVX2 /
     * SSE. Below 512 bits the FMA's latency (4–5 cycles on 2 pipes) wants more than tile4's 8 independent sums in flight;
     * each (row, token) sum takes the same FMAs in the same order as in tile4, so the results are the same bit for bit
     * (docs/PERFORMANCE.md, "Q8_0 prefill at 256 bits").
     */
    static void tile6(float[] tile, int nc, float[] x, int xo, int cols, float[] out, int o, int rows, int valid, boolean first, float[] part) {
        // a full group writes straight into out: added on later column tiles, stored on the first (what merge would do,
        // same bits, without the round trip through part)
        final boolean direct = valid == 32 && !first, store = valid == 32 && first;
        int x0 = xo, x1 = xo + cols, x2 = xo + 2 * cols, x3 = xo + 3 * cols, x4 = xo + 4 * cols, x5 = xo + 5 * cols;
        for (int l0 = 0; l0 < Interleaved.ROWS; l0 += 2 * FL) {
            FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F), b2 = FloatVector.zero(F), a3 = FloatVector.zero(F), b3 = FloatVector.zero(F);
            FloatVector a4 = FloatVector.zero(F), b4 = FloatVector.zero(F), a5 = FloatVector.zero(F), b5 = FloatVector.zero(F);
            for (int c = 0; c < nc; c++) {
                FloatVector w0 = FloatVector.fromArray(F, tile, c * 32 + l0);
                FloatVector w1 = FloatVector.fromArray(F, tile, c * 32 + l0 + FL);
                FloatVector v0 = FloatVector.broadcast(F, x[x0 + c]);
                a0 = w0.fma(v0, a0);
                b0 = w1.fma(v0, b0);
                FloatVector v1 = FloatVector.broadcast(F, x[x1 + c]);
                a1 = w0.fma(v1, a1);
                b1 = w1.fma(v1, b1);
                FloatVector v2 = FloatVector.broadcast(F, x[x2 + c]);
                a2 = w0.fma(v2, a2);
                b2 = w1.fma(v2, b2);
                FloatVector v3 = FloatVector.broadcast(F, x[x3 + c]);
                a3 = w0.fma(v3, a3);
                b3 = w1.fma(v3, b3);
                FloatVector v4 = FloatVector.broadcast(F, x[x4 + c]);
                a4 = w0.fma(v4, a4);
                b4 = w1.fma(v4, b4);
                FloatVector v5 = FloatVector.broadcast(F, x[x5 + c]);
                a5 = w0.fma(v5, a5);
                b5 = w1.fma(v5, b5);
            }
            // loop-carried vectors: cast to the exact class before a method is called on them (VectorWidth.FV)
            if (direct) {
                int p = o + l0, q = p + FL;
                FloatVector.fromArray(F, out, p).add(FV.cast(a0)).intoArray(out, p);
                FloatVector.fromArray(F, out, q).add(FV.cast(b0)).intoArray(out, q);
                FloatVector.fromArray(F, out, p + rows).add(FV.cast(a1)).intoArray(out, p + rows);
                FloatVector.fromArray(F, out, q + rows).add(FV.cast(b1)).intoArray(out, q + rows);
                FloatVector.fromArray(F, out, p + 2 * rows).add(FV.cast(a2)).intoArray(out, p + 2 * rows);
                FloatVector.fromArray(F, out, q + 2 * rows).add(FV.cast(b2)).intoArray(out, q + 2 * rows);
                FloatVector.fromArray(F, out, p + 3 * rows).add(FV.cast(a3)).intoArray(out, p + 3 * rows);
                FloatVector.fromArray(F, out, q + 3 * rows).add(FV.cast(b3)).intoArray(out, q + 3 * rows);
                FloatVector.fromArray(F, out, p + 4 * rows).add(FV.cast(a4)).intoArray(out, p + 4 * rows);
                FloatVector.fromArray(F, out, q + 4 * rows).add(FV.cast(b4)).intoArray(out, q + 4 * rows);
                FloatVector.fromArray(F, out, p + 5 * rows).add(FV.cast(a5)).intoArray(out, p + 5 * rows);
                FloatVector.fromArray(F, out, q + 5 * rows).add(FV.cast(b5)).intoArray(out, q + 5 * rows);
            } else if (store) {
                int p = o + l0, q = p + FL;
                FV.cast(a0).intoArray(out, p);
                FV.cast(b0).intoArray(out, q);
                FV.cast(a1).intoArray(out, p + rows);
                FV.cast(b1).intoArray(out, q + rows);
                FV.cast(a2).intoArray(out, p + 2 * rows);
                FV.cast(b2).intoArray(out, q + 2 * rows);
                FV.cast(a3).intoArray(out, p + 3 * rows);
                FV.cast(b3).intoArray(out, q + 3 * rows);
                FV.cast(a4).intoArray(out, p + 4 * rows);
                FV.cast(b4).intoArray(out, q + 4 * rows);
                FV.cast(a5).intoArray(out, p + 5 * rows);
                FV.cast(b5).intoArray(out, q + 5 * rows);
            } else {
                float[] r = part;
                FV.cast(a0).intoArray(r, l0);
                FV.cast(b0).intoArray(r, l0 + FL);
                FV.cast(a1).intoArray(r, 32 + l0);
                FV.cast(b1).intoArray(r, 32 + l0 + FL);
                FV.cast(a2).intoArray(r, 64 + l0);
                FV.cast(b2).intoArray(r, 64 + l0 + FL);
                FV.cast(a3).intoArray(r, 96 + l0);
                FV.cast(b3).intoArray(r, 96 + l0 + FL);
                FV.cast(a4).intoArray(r, 128 + l0);
                FV.cast(b4).intoArray(r, 128 + l0 + FL);
                FV.cast(a5).intoArray(r, 160 + l0);
                FV.cast(b5).intoArray(r, 160 + l0 + FL);
            }
        }
        if (!direct && !store) for (int k = 0; k < 6; k++) merge(part, 32 * k, out, o + k * rows, valid, first);
    }

    static void tile4(float[] tile, int nc, float[] x, int xo, int cols, float[] out, int o, int rows, int valid, boolean first, float[] part) {
        final boolean direct = valid == 32 && !first, store = valid == 32 && first; // as in tile6
        int x0 = xo, x1 = xo + cols, x2 = xo + 2 * cols, x3 = xo + 3 * cols;
        for (int l0 = 0; l0 < Interleaved.ROWS; l0 += 2 * FL) {
            FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F), b2 = FloatVector.zero(F), a3 = FloatVector.zero(F), b3 = FloatVector.zero(F);
            for (int c = 0; c < nc; c++) {
                FloatVector w0 = FloatVector.fromArray(F, tile, c * 32 + l0);
                FloatVector w1 = FloatVector.fromArray(F, tile, c * 32 + l0 + FL);
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
            // loop-carried vectors: cast to the exact class before a method is called on them (VectorWidth.FV); results
            // go out through arrays, never as vector arguments of a call C2 might not inline: that would box the
            // accumulators (an allocation per loop iteration, measured in Int8Kernels)
            if (direct) {
                int p = o + l0, q = p + FL;
                FloatVector.fromArray(F, out, p).add(FV.cast(a0)).intoArray(out, p);
                FloatVector.fromArray(F, out, q).add(FV.cast(b0)).intoArray(out, q);
                FloatVector.fromArray(F, out, p + rows).add(FV.cast(a1)).intoArray(out, p + rows);
                FloatVector.fromArray(F, out, q + rows).add(FV.cast(b1)).intoArray(out, q + rows);
                FloatVector.fromArray(F, out, p + 2 * rows).add(FV.cast(a2)).intoArray(out, p + 2 * rows);
                FloatVector.fromArray(F, out, q + 2 * rows).add(FV.cast(b2)).intoArray(out, q + 2 * rows);
                FloatVector.fromArray(F, out, p + 3 * rows).add(FV.cast(a3)).intoArray(out, p + 3 * rows);
                FloatVector.fromArray(F, out, q + 3 * rows).add(FV.cast(b3)).intoArray(out, q + 3 * rows);
            } else if (store) {
                int p = o + l0, q = p + FL;
                FV.cast(a0).intoArray(out, p);
                FV.cast(b0).intoArray(out, q);
                FV.cast(a1).intoArray(out, p + rows);
                FV.cast(b1).intoArray(out, q + rows);
                FV.cast(a2).intoArray(out, p + 2 * rows);
                FV.cast(b2).intoArray(out, q + 2 * rows);
                FV.cast(a3).intoArray(out, p + 3 * rows);
                FV.cast(b3).intoArray(out, q + 3 * rows);
            } else {
                float[] r = part;
                FV.cast(a0).intoArray(r, l0);
                FV.cast(b0).intoArray(r, l0 + FL);
                FV.cast(a1).intoArray(r, 32 + l0);
                FV.cast(b1).intoArray(r, 32 + l0 + FL);
                FV.cast(a2).intoArray(r, 64 + l0);
                FV.cast(b2).intoArray(r, 64 + l0 + FL);
                FV.cast(a3).intoArray(r, 96 + l0);
                FV.cast(b3).intoArray(r, 96 + l0 + FL);
            }
        }
        if (!direct && !store) for (int k = 0; k < 4; k++) merge(part, 32 * k, out, o + k * rows, valid, first);
    }

    /** out[o .. o + valid) = (first ? 0 : out) + r[ro ..]. */
    static void merge(float[] r, int ro, float[] out, int o, int valid, boolean first) {
        for (int i = 0; i < valid; i++) out[o + i] = first ? r[ro + i] : out[o + i] + r[ro + i];
    }

    /**
     * One token against nc tile columns. Each (row, token) sum takes the FMAs of {@link #tile4} / {@link #tile6} in their
     * order, one chain per row vector from zero over the columns, so a token's bits do not depend on where it falls in a
     * batch (a block's last 1 or 5 tokens run here). Two chains per row vector (even and odd columns, added at the end)
     * would hide more of the FMA latency, but summed in another order; this tile runs for a call's last 1–3 tokens at most.
     */
    static void tile1(float[] tile, int nc, float[] x, int xo, float[] out, int o, int valid, boolean first, float[] part) {
        for (int l0 = 0; l0 < Interleaved.ROWS; l0 += 2 * FL) {
            FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F);
            for (int c = 0; c < nc; c++) {
                FloatVector v0 = FloatVector.broadcast(F, x[xo + c]);
                a0 = FloatVector.fromArray(F, tile, c * 32 + l0).fma(v0, a0);
                b0 = FloatVector.fromArray(F, tile, c * 32 + l0 + FL).fma(v0, b0);
            }
            FV.cast(a0).intoArray(part, l0);
            FV.cast(b0).intoArray(part, l0 + FL);
        }
        merge(part, 0, out, o, valid, first);
    }

    // ---- 512 bits: the kernels as written for 32 x 16-bit / 16 x f32 lanes, unchanged (see the dispatch in each) ----

    private static void gemm512(GgmlType type, MemorySegment w, int rows, int cols, float[] x, int t0, int t1, float[] out,
                            int g0, int g1, float[] tile, float[] part) {
        final int nb = cols / 32;
        final long gBytes = Interleaved.groupBytes(type, cols);
        final boolean f16 = type == GgmlType.F16, q6k = type == GgmlType.Q6_K, q5k = type == GgmlType.Q5_K;
        final boolean q4 = type == GgmlType.Q4_0, q4k = type == GgmlType.Q4_K, q5 = type == GgmlType.Q5_0;
        if (!f16 && !q6k && !q5k && !q4 && !q4k && !q5 && type != GgmlType.Q8_0) {
            throw new IllegalArgumentException("no f32 tile decoder for " + type);
        }
        for (int g = g0; g < g1; g++) {
            int r0 = g * Interleaved.ROWS, valid = Math.min(Interleaved.ROWS, rows - r0);
            for (int c0 = 0; c0 < cols; c0 += COLS) {
                int nc = Math.min(COLS, cols - c0);
                if (q4) decodeQ4(w, g * gBytes, c0 / 32, nc / 32, tile); // one slice at 512 bits: no separate copy
                else if (q4k) decodeQ4K(w, g * gBytes, c0 / 32, nc / 32, tile);
                else if (q5) decodeQ5(w, g * gBytes, c0 / 32, nc / 32, tile);
                else if (f16) decodeF16x512(w, g * gBytes, c0 / 32, nc / 32, tile);
                else if (q6k) decodeQ6K512(w, g * gBytes, c0 / 32, nc / 32, tile);
                else if (q5k) decodeQ5K512(w, g * gBytes, c0 / 32, nc / 32, tile);
                else decodeQ8x512(w, g * gBytes, c0 / 32, nc / 32, tile);
                boolean first = c0 == 0;
                int t = t0;
                for (; t + 4 <= t1; t += 4) tile4x512(tile, nc, x, t * cols + c0, cols, out, t * rows + r0, rows, valid, first, part);
                for (; t < t1; t++) tile1x512(tile, nc, x, t * cols + c0, out, t * rows + r0, valid, first, part);
            }
        }
        assert nb > 0;
    }

    private static void decodeQ8x512(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            long t = g + (long) (b0 + b) * Interleaved.Q8_TILE;
            ShortVector h = ShortVector.fromMemorySegment(S, w, t, LE);
            FloatVector d0 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC); // f16 -> f32 in place: see Int8Kernels.q5
            FloatVector d1 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
            for (int k = 0; k < 32; k++) {
                // 16-bit lane i holds row i (low byte) and row 16 + i (high byte)
                IntVector v = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64 + 32L * k, LE).convertShape(VectorOperators.S2I, I, 0);
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

    private static void decodeF16x512(MemorySegment w, long g, int b0, int n, float[] tile) {
        for (int b = 0; b < n; b++) {
            long t = g + (long) (b0 + b) * Interleaved.F16_TILE;
            for (int k = 0; k < 32; k++) {
                IntVector i0 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64L * k, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i1 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64L * k + 32, LE).convertShape(VectorOperators.S2I, I, 0);
                FloatVector l = i0.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector u = i1.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                int c = 32 * b + k;
                l.intoArray(tile, c * 32);
                u.intoArray(tile, c * 32 + 16);
            }
        }
    }

    private static void gemvF16x512(MemorySegment w, int g0, int g1, int rows, int cols, float[] x, int xo, float[] out, int o) {
        final int nb = cols / 32;
        final long gBytes = (long) nb * Interleaved.F16_TILE;
        for (int g = g0; g < g1; g++) {
            FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b1 = FloatVector.zero(F);
            final long base = g * gBytes;
            for (int c = 0; c < cols; c += 2) {
                long t = base + (long) (c >> 5) * Interleaved.F16_TILE + 64L * (c & 31);
                IntVector i0 = (IntVector) ShortVector.fromMemorySegment(SH, w, t, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i1 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 32, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i2 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i3 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 96, LE).convertShape(VectorOperators.S2I, I, 0);
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
            FloatVector lo = FV.cast(a0).add(a1), hi = FV.cast(b0).add(b1);
            if (rows - r0 >= 32) { // in place, not through a helper: see Int8Kernels
                lo.intoArray(out, oo);
                hi.intoArray(out, oo + 16);
            } else {
                lo.intoArray(out, oo, F.indexInRange(0, rows - r0));
                hi.intoArray(out, oo + 16, F.indexInRange(16, rows - r0));
            }
        }
    }

    private static void gemvF16Scaledx512(MemorySegment w, int g0, int g1, int rows, int cols, float[] x, int xo, float[] out, int o) {
        final int nb = cols / 32;
        final long gBytes = (long) nb * Interleaved.F16_TILE;
        for (int g = g0; g < g1; g++) {
            FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b1 = FloatVector.zero(F);
            final long base = g * gBytes;
            for (int c = 0; c < cols; c += 2) {
                long t = base + (long) (c >> 5) * Interleaved.F16_TILE + 64L * (c & 31);
                IntVector i0 = (IntVector) ShortVector.fromMemorySegment(SH, w, t, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i1 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 32, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i2 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i3 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 96, LE).convertShape(VectorOperators.S2I, I, 0);
                FloatVector w0 = i0.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats();
                FloatVector w1 = i1.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats();
                FloatVector w2 = i2.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats();
                FloatVector w3 = i3.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats();
                FloatVector v0 = FloatVector.broadcast(F, x[xo + c]);
                FloatVector v1 = FloatVector.broadcast(F, x[xo + c + 1]);
                a0 = w0.fma(v0, a0);
                b0 = w1.fma(v0, b0);
                a1 = w2.fma(v1, a1);
                b1 = w3.fma(v1, b1);
            }
            int r0 = g * Interleaved.ROWS, oo = o + r0;
            FloatVector lo = FV.cast(a0).add(a1), hi = FV.cast(b0).add(b1);
            if (rows - r0 >= 32) { // in place, not through a helper: see Int8Kernels
                lo.intoArray(out, oo);
                hi.intoArray(out, oo + 16);
            } else {
                lo.intoArray(out, oo, F.indexInRange(0, rows - r0));
                hi.intoArray(out, oo + 16, F.indexInRange(16, rows - r0));
            }
        }
    }

    private static void tile4x512(float[] tile, int nc, float[] x, int xo, int cols, float[] out, int o, int rows, int valid, boolean first, float[] part) {
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
            FV.cast(a0).add(FloatVector.fromArray(F, out, o)).intoArray(out, o);
            FV.cast(b0).add(FloatVector.fromArray(F, out, o + 16)).intoArray(out, o + 16);
            FV.cast(a1).add(FloatVector.fromArray(F, out, o + rows)).intoArray(out, o + rows);
            FV.cast(b1).add(FloatVector.fromArray(F, out, o + rows + 16)).intoArray(out, o + rows + 16);
            FV.cast(a2).add(FloatVector.fromArray(F, out, o + 2 * rows)).intoArray(out, o + 2 * rows);
            FV.cast(b2).add(FloatVector.fromArray(F, out, o + 2 * rows + 16)).intoArray(out, o + 2 * rows + 16);
            FV.cast(a3).add(FloatVector.fromArray(F, out, o + 3 * rows)).intoArray(out, o + 3 * rows);
            FV.cast(b3).add(FloatVector.fromArray(F, out, o + 3 * rows + 16)).intoArray(out, o + 3 * rows + 16);
        } else {
            float[] r = part;
            FV.cast(a0).intoArray(r, 0);
            FV.cast(b0).intoArray(r, 16);
            FV.cast(a1).intoArray(r, 32);
            FV.cast(b1).intoArray(r, 48);
            FV.cast(a2).intoArray(r, 64);
            FV.cast(b2).intoArray(r, 80);
            FV.cast(a3).intoArray(r, 96);
            FV.cast(b3).intoArray(r, 112);
            for (int k = 0; k < 4; k++) merge(r, 32 * k, out, o + k * rows, valid, first);
        }
    }

    /** {@link #tile1} at 512 bits: {@link #tile4x512}'s FMAs in its order, so a token's bits do not depend on its place. */
    private static void tile1x512(float[] tile, int nc, float[] x, int xo, float[] out, int o, int valid, boolean first, float[] part) {
        FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F);
        for (int c = 0; c < nc; c++) {
            FloatVector v0 = FloatVector.broadcast(F, x[xo + c]);
            a0 = FloatVector.fromArray(F, tile, c * 32).fma(v0, a0);
            b0 = FloatVector.fromArray(F, tile, c * 32 + 16).fma(v0, b0);
        }
        FV.cast(a0).intoArray(part, 0);
        FV.cast(b0).intoArray(part, 16);
        merge(part, 0, out, o, valid, first);
    }
}
