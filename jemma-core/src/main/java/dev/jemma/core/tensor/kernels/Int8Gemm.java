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
import java.util.Arrays;

/**
 * Prefill over {@link Interleaved} Q4_0, Q5_0 and Q4_K weights with int8 activations — llama.cpp's arithmetic for
 * batches (activations quantized per 32-block, exact integer block sums, then f32 scaling), register-tiled.
 *
 * <p>Two groups (64 rows) are decoded at a time to a 16-bit tile of signed quants ({@code wt[c·64 + r]}: n − 8 for
 * Q4_0 / Q4_K, n − 16 for Q5_0) with per-row, per-block scales A and B; every token of the batch then runs against
 * it 4 at a time (12 or 6 at 512 bits, {@link #tile12}, {@link #TILE_TOKENS}): per column two weight vectors, one broadcast activation per token, 8 16-bit multiplies and 8 adds
 * into 8 accumulators. At the end of each span of columns the 16-bit sums S are widened to f32 and added as
 * dx·(A·S + B·Σx) into a per-token f32 sum (A = d, B = 0 for Q4_0 / Q5_0; A = d·sc, B = 8A − dmin·m for Q4_K).
 * The 16-bit sums are exact: Σ (n − 8)·x over 32 columns lies within ±32512 (|x| ≤ 127); a Q5_0 value (n − 16) can
 * reach 65024 over 32 columns, so Q5_0 spans are 16 columns, whose two sums are widened and added (exactly) before
 * the block is scaled once ({@link #scaleHalves}). On one Zen 4 core the inner loop runs at ~75 G
 * multiply-adds/s against ~50 for the f32 FMA tile of {@link InterleavedGemm}: the 16-bit multiply does 32 products
 * per instruction where an FMA does 16, and the adds go to other vector pipes.
 *
 * <p>Each weight is decoded once per batch (the tile covers {@value #COLS} columns of all the batch's tokens), and the
 * per-token sums live in a small scratch array ({@code acc[t·64 + r]}) rather than in the strided output.
 *
 * <p>A 128-row tile (two pairs decoded at once, 4 weight vectors per broadcast: 24 accumulators at 512 bits) ran its
 * tile loop up to 30 % faster on one core but made the whole 1B Q4_0 pp512 slower at two threads on the quiet machine
 * (6 of 6 alternated pairs, more CPU per prompt); it was deleted (docs/PERFORMANCE.md, "512-bit Q4_0 prompts, third
 * pass").
 */
public final class Int8Gemm {
    static final VectorSpecies<Short> S = VectorWidth.S;
    static final VectorSpecies<Float> F = VectorWidth.F;
    static final VectorSpecies<Integer> I = VectorWidth.I;
    static final VectorSpecies<Short> SH = VectorWidth.SH;
    /** 16-bit lanes per vector: decoders walk a group in slices of L rows; the tile kernels take 2L rows per pass. */
    static final int L = VectorWidth.SHORTS;
    static final int FL = VectorWidth.FLOATS;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Rows per tile: two interleaved groups, so each broadcast activation feeds two multiplies. */
    static final int ROWS = 2 * Interleaved.ROWS;
    /** Columns per decoded tile: 128 × 64 × 2 bytes = 16 KB, half of L1. */
    static final int COLS = 128;

    private Int8Gemm() {
    }

    /** Whether batches over this type's interleaved copy run here (int8 activations). */
    public static boolean supports(GgmlType type) {
        return type == GgmlType.Q4_0 || type == GgmlType.Q4_K || type == GgmlType.Q5_0;
    }

    /** Work items of a matrix: pairs of 32-row groups. */
    public static int pairs(int rows) {
        return (Interleaved.groups(rows) + 1) / 2;
    }

    /**
     * Elements kept unused at both ends of the per-worker arrays the tile kernel writes on every span ({@code sums},
     * {@code acc}), and at the end of the others: 128 bytes, so that no cache line (or adjacent-line prefetch pair)
     * a worker writes is shared with another worker's arrays, which the heap may place right next to them. Without it, pp512 ran ~20 % slower in
     * about one process in five (1B Q4_0: 127–136 vs 158–166 t/s), depending on where the allocator and GC put the
     * workers' scratch.
     */
    static final int SUMS_PAD = 64, ACC_PAD = 32;
    /**
     * Tokens per register tile: 6 at 512 bits, where 32 vector registers hold the 12 accumulators (2 weight vectors ×
     * 6 tokens), 2 weight vectors and a broadcast — each weight load and each span's trip through {@code sums} then
     * serves 6 tokens rather than 4 (one core, Q4_0 tile loop: 95–121 vs 66–98 G multiply-adds/s, loaded machine,
     * docs/PERFORMANCE.md "Q4_0 prompts and short batches"); 4 below, where 16 registers must hold them (a 6-token tile
     * at 256 bits spilled: 52–57 vs 58–62). {@code -Djemma.int8Tile=4} keeps 4 at 512 bits too, for A/B runs: the
     * whole-model gain was not resolvable on the loaded machine it was measured on.
     */
    static final int TILE_TOKENS = VectorWidth.BITS >= 512 && Integer.getInteger("jemma.int8Tile", 6) == 6 ? 6 : 4;
    /**
     * Whether 512-bit batches of Q4_0 / Q4_K take 12 tokens per pass ({@link #tile12}); {@code -Djemma.int8Tile12=false}
     * keeps 6, for A/B runs on one jar (a JVM per setting). Read once: a constant, so C2 folds the choice away rather than
     * loading a mutable field on every call.
     */
    static final boolean TWELVE = !"false".equals(System.getProperty("jemma.int8Tile12"));

    /**
     * Whether a batch's last 2 or 3 tokens take {@link #tile2} (else one {@link #tile1} pass each);
     * {@code -Djemma.int8PairTail=false} keeps the 1-token passes, for A/B runs on one jar.
     */
    static final boolean PAIR_TAIL = !"false".equals(System.getProperty("jemma.int8PairTail"));

    /** Where in {@code sums} a block's second 16-column half goes (Q5_0): after the first half's tokens × 64 rows. */
    static final int HALF = TILE_TOKENS * ROWS;
    /** 16-bit sums held at once: a Q5_0 block's two halves. */
    static final int SUMS = 2 * HALF;

    /** Per-worker buffers, grown on demand so that the hot path does not allocate. */
    public static final class Scratch {
        final short[] w = new short[COLS * ROWS + SUMS_PAD];
        final float[] d = new float[COLS / 32 * ROWS + ACC_PAD];
        final float[] m = new float[COLS / 32 * ROWS + ACC_PAD];
        final short[] sums = new short[SUMS_PAD + SUMS + SUMS_PAD];
        float[] acc = new float[0];
    }

    /**
     * out[t·rows + r] = W[r] · x[t] for every token of {@code x} (already quantized) and the rows of group pairs
     * [p0, p1). Threads sharing x call {@link QuantizedActivations#interleaved} on one of them first.
     */
    public static void gemm(GgmlType type, MemorySegment w, int rows, int cols, QuantizedActivations x, float[] out,
                            int p0, int p1, Scratch s) {
        if (!supports(type)) throw new IllegalArgumentException("no int8 GEMM for " + type);
        final boolean k = type == GgmlType.Q4_K, q5 = type == GgmlType.Q5_0;
        // a Q5_0 block sum Σ (n − 16)·x can reach 65024: such blocks are summed as two 16-column halves
        final int span = q5 ? 16 : 32;
        final int n = x.tokens, nb = cols / 32, groups = Interleaved.groups(rows);
        final long gBytes = Interleaved.groupBytes(type, cols);
        if (s.acc.length < ACC_PAD + n * ROWS + ACC_PAD) s.acc = new float[ACC_PAD + n * ROWS + ACC_PAD];
        final float[] acc = s.acc;
        // the tiles' interleaved activations: a caller running this on several threads over one x made them first
        final short[] xi = n >= TILE_TOKENS ? x.interleaved() : null;
        for (int p = p0; p < p1; p++) {
            int g = 2 * p, r0 = p * ROWS, valid = Math.min(ROWS, rows - r0);
            boolean second = g + 1 < groups;
            Arrays.fill(acc, ACC_PAD, ACC_PAD + n * ROWS, 0f);
            if (!second) { // the missing group's scales stay 0: its lanes add nothing
                Arrays.fill(s.d, 0f);
                Arrays.fill(s.m, 0f);
            }
            for (int c0 = 0; c0 < cols; c0 += COLS) {
                int nc = Math.min(COLS, cols - c0);
                for (int half = 0; half < (second ? 2 : 1); half++) {
                    long gOff = (g + half) * gBytes;
                    if (k) decodeQ4K(w, gOff, c0 / 32, nc / 32, s.w, s.d, s.m, half * Interleaved.ROWS);
                    else if (q5) decodeQ5(w, gOff, c0 / 32, nc / 32, s.w, s.d, s.m, half * Interleaved.ROWS);
                    else decodeQ4(w, gOff, c0 / 32, nc / 32, s.w, s.d, s.m, half * Interleaved.ROWS);
                }
                int t = 0;
                // 12 tokens (two of qi's 6-row groups) per pass where a block is one span (Q4_0, Q4_K)
                if (TILE_TOKENS == 6 && TWELVE && span == 32)
                    for (; t + 12 <= n; t += 12) tile12(s.w, s.d, nc, xi, x.d, t * cols + 6 * c0, 6 * cols, t * nb + c0 / 32, nb, acc, ACC_PAD + t * ROWS, s.sums);
                if (TILE_TOKENS == 6)
                    for (; t + 6 <= n; t += 6) tile6(s.w, s.d, nc, span, xi, x.d, t * cols + 6 * c0, t * nb + c0 / 32, nb, acc, ACC_PAD + t * ROWS, s.sums);
                if (TILE_TOKENS == 4)
                    for (; t + 4 <= n; t += 4) tile4i(s.w, s.d, nc, span, xi, x.d, t * cols + 4 * c0, t * nb + c0 / 32, nb, acc, ACC_PAD + t * ROWS, s.sums);
                // at 512 bits a batch's last 4 tokens (6k + 4 or 5) read the plain rows: QuantizedActivations.qi groups 6
                for (; t + 4 <= n; t += 4) tile4(s.w, s.d, nc, span, x.q, x.d, t * cols + c0, t * nb + c0 / 32, cols, nb, acc, ACC_PAD + t * ROWS, s.sums);
                // a last 2 or 3 (512 = 42·12 + 6 + 2 at 512 bits): two of them in one pass over the tile
                if (PAIR_TAIL && n - t >= 2) {
                    tile2(s.w, s.d, nc, span, x.q, x.d, t * cols + c0, t * nb + c0 / 32, cols, nb, acc, ACC_PAD + t * ROWS, s.sums);
                    t += 2;
                }
                for (; t < n; t++) tile1(s.w, s.d, nc, span, x.q, x.d, t * cols + c0, t * nb + c0 / 32, nb, acc, ACC_PAD + t * ROWS, s.sums);
                if (k) mins(s.m, nc / 32, x.d, x.q4Bias, c0 / 32, nb, n, acc);
            }
            for (int t = 0; t < n; t++) System.arraycopy(acc, ACC_PAD + t * ROWS, out, t * rows + r0, valid);
        }
    }

    /**
     * Blocks [b0, b0 + nBlocks) of a Q4_0 group into lanes [lane, lane + 32) of the tile: wt[(32·b + c)·64 + r] = n − 8,
     * ds[b·64 + r] = d (f16 → f32 in place, see {@link Int8Kernels}), dm[b·64 + r] = 0 (no minimum).
     */
    static void decodeQ4(MemorySegment w, long g, int b0, int nBlocks, short[] wt, float[] ds, float[] dm, int lane) {
        for (int b = 0; b < nBlocks; b++) {
            long t = g + (long) (b0 + b) * Interleaved.Q4_TILE;
            f16Scales(w, t, ds, dm, b * ROWS + lane);
            quads(w, t + 64, 32 * b, wt, lane);
        }
    }

    /** A Q4_0 / Q5_0 tile's 32 f16 scales at {@code t} into ds[o ..] as f32 (in place, see {@link Int8Kernels}); dm = 0. */
    private static void f16Scales(MemorySegment w, long t, float[] ds, float[] dm, int o) {
        for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) {
            ShortVector h = SV.cast(ShortVector.fromMemorySegment(S, w, t + 2 * l0, LE));
            FV.cast(((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC)).intoArray(ds, o + l0);
            FV.cast(((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC)).intoArray(ds, o + l0 + L / 2);
        }
        Arrays.fill(dm, o, o + 32, 0f);
    }

    /**
     * Blocks [b0, b0 + nBlocks) of a Q4_K group ({@link KQuantInterleaved}): quants as Q4_0's (q − 8), and per row
     * A = d·sc, B = 8·A − dmin·m, so that a block's dot product with x is dx·(A·Σ(q − 8)·x + B·Σx).
     */
    static void decodeQ4K(MemorySegment w, long g, int b0, int nBlocks, short[] wt, float[] ds, float[] dm, int lane) {
        for (int b = 0; b < nBlocks; b++) {
            int blk = b0 + b;
            long h = g + (long) (blk >>> 3) * KQuantInterleaved.Q4K_SB;
            long t = h + KQuantInterleaved.Q4K_HEADER + (long) (blk & 7) * KQuantInterleaved.Q4K_SUB;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) { // per-row fields: 16-bit at +2·l0, f32 at +4·l0
                ShortVector sm = SV.cast(ShortVector.fromMemorySegment(S, w, t + 2 * l0, LE));
                ShortVector sc = sm.and((short) 0xff), mn = sm.lanewise(VectorOperators.LSHR, 8);
                long hl = h + 4 * l0;
                FloatVector a0 = FV.cast(FloatVector.fromMemorySegment(F, w, hl, LE)).mul((FloatVector) sc.convertShape(VectorOperators.S2F, F, 0));
                FloatVector a1 = FV.cast(FloatVector.fromMemorySegment(F, w, hl + 2 * L, LE)).mul((FloatVector) sc.convertShape(VectorOperators.S2F, F, 1));
                FloatVector k0 = FV.cast(FloatVector.fromMemorySegment(F, w, hl + 128, LE)).mul((FloatVector) mn.convertShape(VectorOperators.S2F, F, 0));
                FloatVector k1 = FV.cast(FloatVector.fromMemorySegment(F, w, hl + 128 + 2 * L, LE)).mul((FloatVector) mn.convertShape(VectorOperators.S2F, F, 1));
                int o = b * ROWS + lane + l0;
                FV.cast(a0).intoArray(ds, o);
                FV.cast(a1).intoArray(ds, o + L / 2);
                FV.cast(a0).mul(8f).sub(k0).intoArray(dm, o);
                FV.cast(a1).mul(8f).sub(k1).intoArray(dm, o + L / 2);
            }
            quads(w, t + 64, 32 * b, wt, lane);
        }
    }

    /**
     * Blocks [b0, b0 + nBlocks) of a Q5_0 group: wt = n − 16 from the three 5-bit values per lane ({@link Interleaved}),
     * ds = d, dm = 0.
     */
    static void decodeQ5(MemorySegment w, long g, int b0, int nBlocks, short[] wt, float[] ds, float[] dm, int lane) {
        for (int b = 0; b < nBlocks; b++) {
            long t = g + (long) (b0 + b) * Interleaved.Q5_TILE;
            f16Scales(w, t, ds, dm, b * ROWS + lane);
            int base = 32 * b;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) {
                for (int k = 0; k < 11; k++) {
                    ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, t + 64 + 64L * k + 2 * l0, LE));
                    int ln = lane + l0;
                    // every intermediate cast to its exact class, as in quads
                    ShortVector n0 = SV.cast(v.and((short) 31)), n1 = SV.cast(SV.cast(v.lanewise(VectorOperators.LSHR, 5)).and((short) 31));
                    SV.cast(n0.sub((short) 16)).intoArray(wt, (base + Interleaved.q5Column(k, 0)) * ROWS + ln);
                    SV.cast(n1.sub((short) 16)).intoArray(wt, (base + Interleaved.q5Column(k, 1)) * ROWS + ln);
                    // vector 5 holds only columns 15 and 31
                    if (k != 5) SV.cast(SV.cast(v.lanewise(VectorOperators.LSHR, 10)).sub((short) 16)).intoArray(wt, (base + Interleaved.q5Column(k, 2)) * ROWS + ln);
                }
            }
        }
    }

    /** 8 quads of nibbles (Q4_0's arrangement) at {@code q} into tile columns [base, base + 32) as n − 8. */
    static void quads(MemorySegment w, long q, int base, short[] wt, int lane) {
        for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) {
            for (int qd = 0; qd < 8; qd++) {
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved). The load and every
                // intermediate are cast to their exact class: C2 may inline a vector operation late (after parsing), and a
                // call on its uncast result binds from the JVM-wide receiver profile — uncast, these subtractions were
                // boxed in 7 of 7 loaded JVMs of Int8KernelSpeed gemm:Q4_0:6912x1152x512 and in a whole-model prompt
                // (docs/PERFORMANCE.md, "The last boxed kernels" and "512-bit Q4_0 prompts, fourth pass": a boxed decode
                // cost ~25 % more CPU per prompt token; the other decoders' loads are cast likewise)
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, q + 64L * qd + 2 * l0, LE));
                int c = base + 2 * qd, ln = lane + l0;
                ShortVector n0 = SV.cast(v.and((short) 0xF)), n1 = SV.cast(SV.cast(v.lanewise(VectorOperators.LSHR, 4)).and((short) 0xF));
                ShortVector n2 = SV.cast(SV.cast(v.lanewise(VectorOperators.LSHR, 8)).and((short) 0xF)), n3 = SV.cast(v.lanewise(VectorOperators.LSHR, 12));
                SV.cast(n0.sub((short) 8)).intoArray(wt, c * ROWS + ln);
                SV.cast(n1.sub((short) 8)).intoArray(wt, (c + 16) * ROWS + ln);
                SV.cast(n2.sub((short) 8)).intoArray(wt, (c + 1) * ROWS + ln);
                SV.cast(n3.sub((short) 8)).intoArray(wt, (c + 17) * ROWS + ln);
            }
        }
    }

    /**
     * Four tokens (quants at xo + j·cols, scales at xdo + j·nb) against nc tile columns, added into
     * acc[ao + j·64 ..]: per span dx·A·S, S the exact 16-bit sum (Q4_K's minimum term is added by {@link #mins}).
     * Everything stays in this one method: a helper taking or returning vectors that C2 declines to inline boxes them
     * on every block (docs/PERFORMANCE.md, "A JIT pitfall").
     */
    static void tile4(short[] wt, float[] ds, int nc, int span, short[] xq, float[] xd, int xo, int xdo,
                      int cols, int nb, float[] acc, int ao, short[] sums) {
        final int x0 = xo, x1 = xo + cols, x2 = xo + 2 * cols, x3 = xo + 3 * cols;
        for (int c0 = 0; c0 < nc; c0 += 32) {
          // one span per 32-column block, or two (Q5_0): each half's sums go to their own part of sums
          for (int h = 0; h < 32; h += span) {
            // 2L rows per pass (64 at 512 bits; 32 / 16 at 256 / 128, where 16 vector registers hold 8 accumulators,
            // 2 weight vectors and the broadcasts)
            for (int r = 0; r < ROWS; r += 2 * L) {
                ShortVector a0 = ShortVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                for (int c = c0 + h, end = c0 + h + span; c < end; c++) {
                    ShortVector w0 = ShortVector.fromArray(S, wt, c * ROWS + r);
                    ShortVector w1 = ShortVector.fromArray(S, wt, c * ROWS + r + L);
                    ShortVector v0 = ShortVector.broadcast(S, xq[x0 + c]);
                    ShortVector v1 = ShortVector.broadcast(S, xq[x1 + c]);
                    ShortVector v2 = ShortVector.broadcast(S, xq[x2 + c]);
                    ShortVector v3 = ShortVector.broadcast(S, xq[x3 + c]);
                    a0 = (w0.mul(v0)).add(a0);
                    b0 = (w1.mul(v0)).add(b0);
                    a1 = (w0.mul(v1)).add(a1);
                    b1 = (w1.mul(v1)).add(b1);
                    a2 = (w0.mul(v2)).add(a2);
                    b2 = (w1.mul(v2)).add(b2);
                    a3 = (w0.mul(v3)).add(a3);
                    b3 = (w1.mul(v3)).add(b3);
                }
                // the sums leave through an array and are scaled in a small loop: unrolled here, the 16 widen-and-scale
                // steps made this method cost C2 ~48 MB of compiler memory (peak RSS) and crowded its inlining budget
                int so = SUMS_PAD + (h == 0 ? 0 : HALF) + r;
                SV.cast(a0).intoArray(sums, so);
                SV.cast(b0).intoArray(sums, so + L);
                SV.cast(a1).intoArray(sums, so + ROWS);
                SV.cast(b1).intoArray(sums, so + ROWS + L);
                SV.cast(a2).intoArray(sums, so + 2 * ROWS);
                SV.cast(b2).intoArray(sums, so + 2 * ROWS + L);
                SV.cast(a3).intoArray(sums, so + 3 * ROWS);
                SV.cast(b3).intoArray(sums, so + 3 * ROWS + L);
            }
          }
            if (span == 32) scaleSums(sums, 4, ds, (c0 >> 5) * ROWS, xd, xdo + (c0 >> 5), nb, acc, ao);
            else scaleHalves(sums, 4, ds, (c0 >> 5) * ROWS, xd, xdo + (c0 >> 5), nb, acc, ao);
        }
    }

    /**
     * {@link #tile4} over {@link QuantizedActivations#qi} (the four tokens' values of column c at x4[xo + 4c ..]), the
     * main tile below 512 bits: one index walks the four tokens. Same integer sums, same scaling, so the same bits.
     */
    static void tile4i(short[] wt, float[] ds, int nc, int span, short[] x4, float[] xd, int xo, int xdo,
                       int nb, float[] acc, int ao, short[] sums) {
        for (int c0 = 0; c0 < nc; c0 += 32) {
          // one span per 32-column block, or two (Q5_0): each half's sums go to their own part of sums
          for (int h = 0; h < 32; h += span) {
            for (int r = 0; r < ROWS; r += 2 * L) {
                ShortVector a0 = ShortVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                for (int c = c0 + h, end = c0 + h + span, i = xo + 4 * c; c < end; c++, i += 4) {
                    ShortVector w0 = ShortVector.fromArray(S, wt, c * ROWS + r);
                    ShortVector w1 = ShortVector.fromArray(S, wt, c * ROWS + r + L);
                    ShortVector v0 = ShortVector.broadcast(S, x4[i]);
                    ShortVector v1 = ShortVector.broadcast(S, x4[i + 1]);
                    ShortVector v2 = ShortVector.broadcast(S, x4[i + 2]);
                    ShortVector v3 = ShortVector.broadcast(S, x4[i + 3]);
                    a0 = (w0.mul(v0)).add(a0);
                    b0 = (w1.mul(v0)).add(b0);
                    a1 = (w0.mul(v1)).add(a1);
                    b1 = (w1.mul(v1)).add(b1);
                    a2 = (w0.mul(v2)).add(a2);
                    b2 = (w1.mul(v2)).add(b2);
                    a3 = (w0.mul(v3)).add(a3);
                    b3 = (w1.mul(v3)).add(b3);
                }
                int so = SUMS_PAD + (h == 0 ? 0 : HALF) + r;
                SV.cast(a0).intoArray(sums, so);
                SV.cast(b0).intoArray(sums, so + L);
                SV.cast(a1).intoArray(sums, so + ROWS);
                SV.cast(b1).intoArray(sums, so + ROWS + L);
                SV.cast(a2).intoArray(sums, so + 2 * ROWS);
                SV.cast(b2).intoArray(sums, so + 2 * ROWS + L);
                SV.cast(a3).intoArray(sums, so + 3 * ROWS);
                SV.cast(b3).intoArray(sums, so + 3 * ROWS + L);
            }
          }
            if (span == 32) scaleSums(sums, 4, ds, (c0 >> 5) * ROWS, xd, xdo + (c0 >> 5), nb, acc, ao);
            else scaleHalves(sums, 4, ds, (c0 >> 5) * ROWS, xd, xdo + (c0 >> 5), nb, acc, ao);
        }
    }

    /**
     * {@link #tile4} for six tokens (512 bits only, {@link #TILE_TOKENS}): 12 accumulators, each broadcast used at once
     * so that it holds one register. Same integer sums, same scaling, so the same bits as {@link #tile4} for every token.
     * The activations come interleaved ({@link QuantizedActivations#qi}: the six tokens' values of column c at
     * x6[xo + 6c ..]), so that one index walks all six.
     */
    static void tile6(short[] wt, float[] ds, int nc, int span, short[] x6, float[] xd, int xo, int xdo,
                      int nb, float[] acc, int ao, short[] sums) {
        for (int c0 = 0; c0 < nc; c0 += 32) {
          for (int h = 0; h < 32; h += span) {
            for (int r = 0; r < ROWS; r += 2 * L) {
                ShortVector a0 = ShortVector.zero(S), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
                ShortVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
                for (int c = c0 + h, end = c0 + h + span, i = xo + 6 * c; c < end; c++, i += 6) {
                    ShortVector w0 = ShortVector.fromArray(S, wt, c * ROWS + r);
                    ShortVector w1 = ShortVector.fromArray(S, wt, c * ROWS + r + L);
                    ShortVector v0 = ShortVector.broadcast(S, x6[i]);
                    a0 = (w0.mul(v0)).add(a0);
                    b0 = (w1.mul(v0)).add(b0);
                    ShortVector v1 = ShortVector.broadcast(S, x6[i + 1]);
                    a1 = (w0.mul(v1)).add(a1);
                    b1 = (w1.mul(v1)).add(b1);
                    ShortVector v2 = ShortVector.broadcast(S, x6[i + 2]);
                    a2 = (w0.mul(v2)).add(a2);
                    b2 = (w1.mul(v2)).add(b2);
                    ShortVector v3 = ShortVector.broadcast(S, x6[i + 3]);
                    a3 = (w0.mul(v3)).add(a3);
                    b3 = (w1.mul(v3)).add(b3);
                    ShortVector v4 = ShortVector.broadcast(S, x6[i + 4]);
                    a4 = (w0.mul(v4)).add(a4);
                    b4 = (w1.mul(v4)).add(b4);
                    ShortVector v5 = ShortVector.broadcast(S, x6[i + 5]);
                    a5 = (w0.mul(v5)).add(a5);
                    b5 = (w1.mul(v5)).add(b5);
                }
                int so = SUMS_PAD + (h == 0 ? 0 : HALF) + r;
                SV.cast(a0).intoArray(sums, so);
                SV.cast(b0).intoArray(sums, so + L);
                SV.cast(a1).intoArray(sums, so + ROWS);
                SV.cast(b1).intoArray(sums, so + ROWS + L);
                SV.cast(a2).intoArray(sums, so + 2 * ROWS);
                SV.cast(b2).intoArray(sums, so + 2 * ROWS + L);
                SV.cast(a3).intoArray(sums, so + 3 * ROWS);
                SV.cast(b3).intoArray(sums, so + 3 * ROWS + L);
                SV.cast(a4).intoArray(sums, so + 4 * ROWS);
                SV.cast(b4).intoArray(sums, so + 4 * ROWS + L);
                SV.cast(a5).intoArray(sums, so + 5 * ROWS);
                SV.cast(b5).intoArray(sums, so + 5 * ROWS + L);
            }
          }
            if (span == 32) scale6(sums, SUMS_PAD, ds, (c0 >> 5) * ROWS, xd, xdo + (c0 >> 5), nb, acc, ao);
            else scaleHalves(sums, 6, ds, (c0 >> 5) * ROWS, xd, xdo + (c0 >> 5), nb, acc, ao);
        }
    }

    /**
     * {@link #tile6} for twelve tokens, two of {@link QuantizedActivations#qi}'s 6-row groups (the second at x6[xo + g2 ..]),
     * for 32-column spans (Q4_0, Q4_K): 24 accumulators, 2 weight vectors and a broadcast in AVX-512's 32 registers, so
     * each weight load serves 12 tokens and a broadcast's share of the multiplies is unchanged. One core, the tile loops
     * alone on an L1-resident tile (loaded machine, docs/PERFORMANCE.md "512-bit Q4_0 prompts, fourth pass"): 158–162 vs
     * 147–150 G multiply-adds/s for {@link #tile6}, and the 1B's GEMMs 5–14 % ahead in 21 of 24 alternated pairs (the whole
     * step was not resolvable at that load: {@code -Djemma.int8Tile12=false} is the quiet A/B). The decoded tile and the work items stay those of the pairs (the
     * 128-row quads, which halved broadcasts instead, doubled both and lost at two threads). Each six tokens' sums are
     * scaled by {@link #scale6} as {@link #tile6} scales them: the same integers and operations, so the same bits.
     */
    static void tile12(short[] wt, float[] ds, int nc, short[] x6, float[] xd, int xo, int g2, int xdo,
                       int nb, float[] acc, int ao, short[] sums) {
        for (int c0 = 0; c0 < nc; c0 += 32) {
            for (int r = 0; r < ROWS; r += 2 * L) {
                ShortVector a0 = ShortVector.zero(S), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
                ShortVector b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
                ShortVector e0 = a0, e1 = a0, e2 = a0, e3 = a0, e4 = a0, e5 = a0;
                ShortVector f0 = a0, f1 = a0, f2 = a0, f3 = a0, f4 = a0, f5 = a0;
                for (int c = c0, end = c0 + 32, i = xo + 6 * c; c < end; c++, i += 6) {
                    ShortVector w0 = ShortVector.fromArray(S, wt, c * ROWS + r);
                    ShortVector w1 = ShortVector.fromArray(S, wt, c * ROWS + r + L);
                    ShortVector v0 = ShortVector.broadcast(S, x6[i]);
                    a0 = (w0.mul(v0)).add(a0);
                    b0 = (w1.mul(v0)).add(b0);
                    ShortVector v1 = ShortVector.broadcast(S, x6[i + 1]);
                    a1 = (w0.mul(v1)).add(a1);
                    b1 = (w1.mul(v1)).add(b1);
                    ShortVector v2 = ShortVector.broadcast(S, x6[i + 2]);
                    a2 = (w0.mul(v2)).add(a2);
                    b2 = (w1.mul(v2)).add(b2);
                    ShortVector v3 = ShortVector.broadcast(S, x6[i + 3]);
                    a3 = (w0.mul(v3)).add(a3);
                    b3 = (w1.mul(v3)).add(b3);
                    ShortVector v4 = ShortVector.broadcast(S, x6[i + 4]);
                    a4 = (w0.mul(v4)).add(a4);
                    b4 = (w1.mul(v4)).add(b4);
                    ShortVector v5 = ShortVector.broadcast(S, x6[i + 5]);
                    a5 = (w0.mul(v5)).add(a5);
                    b5 = (w1.mul(v5)).add(b5);
                    int k = i + g2;
                    ShortVector u0 = ShortVector.broadcast(S, x6[k]);
                    e0 = (w0.mul(u0)).add(e0);
                    f0 = (w1.mul(u0)).add(f0);
                    ShortVector u1 = ShortVector.broadcast(S, x6[k + 1]);
                    e1 = (w0.mul(u1)).add(e1);
                    f1 = (w1.mul(u1)).add(f1);
                    ShortVector u2 = ShortVector.broadcast(S, x6[k + 2]);
                    e2 = (w0.mul(u2)).add(e2);
                    f2 = (w1.mul(u2)).add(f2);
                    ShortVector u3 = ShortVector.broadcast(S, x6[k + 3]);
                    e3 = (w0.mul(u3)).add(e3);
                    f3 = (w1.mul(u3)).add(f3);
                    ShortVector u4 = ShortVector.broadcast(S, x6[k + 4]);
                    e4 = (w0.mul(u4)).add(e4);
                    f4 = (w1.mul(u4)).add(f4);
                    ShortVector u5 = ShortVector.broadcast(S, x6[k + 5]);
                    e5 = (w0.mul(u5)).add(e5);
                    f5 = (w1.mul(u5)).add(f5);
                }
                int so = SUMS_PAD + r;
                SV.cast(a0).intoArray(sums, so);
                SV.cast(b0).intoArray(sums, so + L);
                SV.cast(a1).intoArray(sums, so + ROWS);
                SV.cast(b1).intoArray(sums, so + ROWS + L);
                SV.cast(a2).intoArray(sums, so + 2 * ROWS);
                SV.cast(b2).intoArray(sums, so + 2 * ROWS + L);
                SV.cast(a3).intoArray(sums, so + 3 * ROWS);
                SV.cast(b3).intoArray(sums, so + 3 * ROWS + L);
                SV.cast(a4).intoArray(sums, so + 4 * ROWS);
                SV.cast(b4).intoArray(sums, so + 4 * ROWS + L);
                SV.cast(a5).intoArray(sums, so + 5 * ROWS);
                SV.cast(b5).intoArray(sums, so + 5 * ROWS + L);
                SV.cast(e0).intoArray(sums, so + 6 * ROWS);
                SV.cast(f0).intoArray(sums, so + 6 * ROWS + L);
                SV.cast(e1).intoArray(sums, so + 7 * ROWS);
                SV.cast(f1).intoArray(sums, so + 7 * ROWS + L);
                SV.cast(e2).intoArray(sums, so + 8 * ROWS);
                SV.cast(f2).intoArray(sums, so + 8 * ROWS + L);
                SV.cast(e3).intoArray(sums, so + 9 * ROWS);
                SV.cast(f3).intoArray(sums, so + 9 * ROWS + L);
                SV.cast(e4).intoArray(sums, so + 10 * ROWS);
                SV.cast(f4).intoArray(sums, so + 10 * ROWS + L);
                SV.cast(e5).intoArray(sums, so + 11 * ROWS);
                SV.cast(f5).intoArray(sums, so + 11 * ROWS + L);
            }
            scale6(sums, SUMS_PAD, ds, (c0 >> 5) * ROWS, xd, xdo + (c0 >> 5), nb, acc, ao);
            scale6(sums, SUMS_PAD + 6 * ROWS, ds, (c0 >> 5) * ROWS, xd, xdo + 6 * nb + (c0 >> 5), nb, acc, ao + 6 * ROWS);
        }
    }

    /**
     * Two tokens (quants at xo and xo + cols, scales at xdo and xdo + nb) against nc tile columns, added into acc[ao ..]
     * and acc[ao + 64 ..]: a batch's last 2 or 3 tokens, which {@link #tile1} ran one pass each, every weight vector then
     * loaded once per token. Same integer sums and the same scaling ({@link #scaleSums}, {@link #scaleHalves}) as every
     * other tile, so the same bits.
     */
    static void tile2(short[] wt, float[] ds, int nc, int span, short[] xq, float[] xd, int xo, int xdo,
                      int cols, int nb, float[] acc, int ao, short[] sums) {
        final int x0 = xo, x1 = xo + cols;
        for (int c0 = 0; c0 < nc; c0 += 32) {
          for (int h = 0; h < 32; h += span) {
            for (int r = 0; r < ROWS; r += 2 * L) {
                ShortVector a0 = ShortVector.zero(S), a1 = a0, b0 = a0, b1 = a0;
                for (int c = c0 + h, end = c0 + h + span; c < end; c++) {
                    ShortVector w0 = ShortVector.fromArray(S, wt, c * ROWS + r);
                    ShortVector w1 = ShortVector.fromArray(S, wt, c * ROWS + r + L);
                    ShortVector v0 = ShortVector.broadcast(S, xq[x0 + c]);
                    ShortVector v1 = ShortVector.broadcast(S, xq[x1 + c]);
                    a0 = (w0.mul(v0)).add(a0);
                    b0 = (w1.mul(v0)).add(b0);
                    a1 = (w0.mul(v1)).add(a1);
                    b1 = (w1.mul(v1)).add(b1);
                }
                int so = SUMS_PAD + (h == 0 ? 0 : HALF) + r;
                SV.cast(a0).intoArray(sums, so);
                SV.cast(b0).intoArray(sums, so + L);
                SV.cast(a1).intoArray(sums, so + ROWS);
                SV.cast(b1).intoArray(sums, so + ROWS + L);
            }
          }
            if (span == 32) scaleSums(sums, 2, ds, (c0 >> 5) * ROWS, xd, xdo + (c0 >> 5), nb, acc, ao);
            else scaleHalves(sums, 2, ds, (c0 >> 5) * ROWS, xd, xdo + (c0 >> 5), nb, acc, ao);
        }
    }

    /** One token against nc tile columns (a batch's last 1, or 1–3 with {@link #PAIR_TAIL} off), added into acc[ao ..]. */
    static void tile1(short[] wt, float[] ds, int nc, int span, short[] xq, float[] xd, int xo, int xdo, int nb, float[] acc,
                      int ao, short[] sums) {
        for (int c0 = 0; c0 < nc; c0 += 32) {
          for (int h = 0; h < 32; h += span) {
            for (int r = 0; r < ROWS; r += 2 * L) {
                ShortVector a0 = ShortVector.zero(S), b0 = a0;
                for (int c = c0 + h, end = c0 + h + span; c < end; c++) {
                    ShortVector v = ShortVector.broadcast(S, xq[xo + c]);
                    a0 = (ShortVector.fromArray(S, wt, c * ROWS + r).mul(v)).add(a0);
                    b0 = (ShortVector.fromArray(S, wt, c * ROWS + r + L).mul(v)).add(b0);
                }
                int so = SUMS_PAD + (h == 0 ? 0 : HALF) + r;
                SV.cast(a0).intoArray(sums, so);
                SV.cast(b0).intoArray(sums, so + L);
            }
          }
            if (span == 32) scaleSums(sums, 1, ds, (c0 >> 5) * ROWS, xd, xdo + (c0 >> 5), nb, acc, ao);
            else scaleHalves(sums, 1, ds, (c0 >> 5) * ROWS, xd, xdo + (c0 >> 5), nb, acc, ao);
        }
    }

    /** acc[ao + j·64 + r] += sums[j·64 + r] · ds[so + r] · xd[xb + j·nb] for j < tokens: a span's 16-bit sums, scaled. */
    static void scaleSums(short[] sums, int tokens, float[] ds, int so, float[] xd, int xb, int nb, float[] acc, int ao) {
        for (int j = 0; j < tokens; j++) {
            float s = xd[xb + j * nb];
            for (int r = 0; r < ROWS; r += FL) {
                int o = ao + j * ROWS + r;
                ((FloatVector) ShortVector.fromArray(SH, sums, SUMS_PAD + j * ROWS + r).convertShape(VectorOperators.S2F, F, 0))
                        .fma(FloatVector.fromArray(F, ds, so + r).mul(s), FloatVector.fromArray(F, acc, o)).intoArray(acc, o);
            }
        }
    }

    /**
     * {@link #scaleSums} for {@link #tile6}'s six tokens, the tokens unrolled inside the row loop: each row vector's
     * scales are loaded once for the six tokens, and six independent widen-scale-add chains run side by side (one core,
     * 512 bits, loaded machine: the tile loop with the 4-token form unrolled so read 86–105 vs 83–87 G multiply-adds/s).
     * The same operations per element as {@link #scaleSums}, so the same bits.
     */
    static void scale6(short[] sums, int sp, float[] ds, int so, float[] xd, int xb, int nb, float[] acc, int ao) {
        float s0 = xd[xb], s1 = xd[xb + nb], s2 = xd[xb + 2 * nb], s3 = xd[xb + 3 * nb], s4 = xd[xb + 4 * nb], s5 = xd[xb + 5 * nb];
        for (int r = 0; r < ROWS; r += FL) {
            FloatVector d = FloatVector.fromArray(F, ds, so + r);
            int o = ao + r, p = sp + r;
            ((FloatVector) ShortVector.fromArray(SH, sums, p).convertShape(VectorOperators.S2F, F, 0))
                    .fma(d.mul(s0), FloatVector.fromArray(F, acc, o)).intoArray(acc, o);
            ((FloatVector) ShortVector.fromArray(SH, sums, p + ROWS).convertShape(VectorOperators.S2F, F, 0))
                    .fma(d.mul(s1), FloatVector.fromArray(F, acc, o + ROWS)).intoArray(acc, o + ROWS);
            ((FloatVector) ShortVector.fromArray(SH, sums, p + 2 * ROWS).convertShape(VectorOperators.S2F, F, 0))
                    .fma(d.mul(s2), FloatVector.fromArray(F, acc, o + 2 * ROWS)).intoArray(acc, o + 2 * ROWS);
            ((FloatVector) ShortVector.fromArray(SH, sums, p + 3 * ROWS).convertShape(VectorOperators.S2F, F, 0))
                    .fma(d.mul(s3), FloatVector.fromArray(F, acc, o + 3 * ROWS)).intoArray(acc, o + 3 * ROWS);
            ((FloatVector) ShortVector.fromArray(SH, sums, p + 4 * ROWS).convertShape(VectorOperators.S2F, F, 0))
                    .fma(d.mul(s4), FloatVector.fromArray(F, acc, o + 4 * ROWS)).intoArray(acc, o + 4 * ROWS);
            ((FloatVector) ShortVector.fromArray(SH, sums, p + 5 * ROWS).convertShape(VectorOperators.S2F, F, 0))
                    .fma(d.mul(s5), FloatVector.fromArray(F, acc, o + 5 * ROWS)).intoArray(acc, o + 5 * ROWS);
        }
    }

    /**
     * As {@link #scaleSums} for a block summed as two 16-column halves (Q5_0): the halves' 16-bit sums (at 0 and
     * {@link #HALF} in sums) are widened and added first, exactly (|S| ≤ 65024 is an f32 integer), and the block is
     * scaled once — half of the f32 work and of the acc traffic of scaling each half as a span of its own, which
     * measured ~1/3 of the Q5_0 GEMM's CPU at 256 bits (docs/PERFORMANCE.md, "256-bit prompts for Q8_0 and Q4_K_M").
     */
    static void scaleHalves(short[] sums, int tokens, float[] ds, int so, float[] xd, int xb, int nb, float[] acc, int ao) {
        for (int j = 0; j < tokens; j++) {
            float s = xd[xb + j * nb];
            for (int r = 0; r < ROWS; r += FL) {
                int o = ao + j * ROWS + r, p = SUMS_PAD + j * ROWS + r;
                FloatVector lo = (FloatVector) ShortVector.fromArray(SH, sums, p).convertShape(VectorOperators.S2F, F, 0);
                FloatVector hi = (FloatVector) ShortVector.fromArray(SH, sums, p + HALF).convertShape(VectorOperators.S2F, F, 0);
                hi.add(lo).fma(FloatVector.fromArray(F, ds, so + r).mul(s), FloatVector.fromArray(F, acc, o)).intoArray(acc, o);
            }
        }
    }

    /**
     * Q4_K's minimum term for blocks [b0, b0 + nBlocks) and every token: acc[t·64 + r] += B[b][r]·dx·Σx, Σx = −bias/8.
     * Kept out of the tile kernels: in {@link #tile4} it put C2 past its inlining budget, leaving the 16-bit vector
     * operations un-intrinsified (measured: 67 → 27 G/s, with allocation on every block).
     */
    static void mins(float[] dm, int nBlocks, float[] xd, short[] bias, int b0, int nb, int n, float[] acc) {
        for (int t = 0; t < n; t++) {
            for (int r = 0; r < ROWS; r += 4 * FL) {
                int ao = ACC_PAD + t * ROWS + r;
                FloatVector s0 = FloatVector.fromArray(F, acc, ao), s1 = FloatVector.fromArray(F, acc, ao + FL);
                FloatVector s2 = FloatVector.fromArray(F, acc, ao + 2 * FL), s3 = FloatVector.fromArray(F, acc, ao + 3 * FL);
                for (int b = 0; b < nBlocks; b++) {
                    int xb = t * nb + b0 + b, d = b * ROWS + r;
                    float sx = xd[xb] * (-0.125f * bias[xb]);
                    s0 = FloatVector.fromArray(F, dm, d).fma(FloatVector.broadcast(F, sx), s0);
                    s1 = FloatVector.fromArray(F, dm, d + FL).fma(FloatVector.broadcast(F, sx), s1);
                    s2 = FloatVector.fromArray(F, dm, d + 2 * FL).fma(FloatVector.broadcast(F, sx), s2);
                    s3 = FloatVector.fromArray(F, dm, d + 3 * FL).fma(FloatVector.broadcast(F, sx), s3);
                }
                FV.cast(s0).intoArray(acc, ao);
                FV.cast(s1).intoArray(acc, ao + FL);
                FV.cast(s2).intoArray(acc, ao + 2 * FL);
                FV.cast(s3).intoArray(acc, ao + 3 * FL);
            }
        }
    }
}
