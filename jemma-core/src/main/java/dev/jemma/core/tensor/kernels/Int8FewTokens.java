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
import java.util.Arrays;

import static dev.jemma.core.tensor.kernels.VectorWidth.F16_MAGIC;
import static dev.jemma.core.tensor.kernels.VectorWidth.BHV;
import static dev.jemma.core.tensor.kernels.VectorWidth.FV;
import static dev.jemma.core.tensor.kernels.VectorWidth.IV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SHV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SV;

/**
 * A few tokens at once (2 to {@link #maxTokens}: the decode rows of a continuous-batching step, and the logits rows of a
 * step with a prompt chunk) over {@link Interleaved} Q4_0, Q5_0 and Q8_0 weights and {@link KQuantInterleaved} Q4_K and
 * Q6_K weights (a Q4_K_M file's types), each weight read and decoded once for all.
 *
 * <p>Why a kernel of its own: one token runs on {@link Int8Kernels}, whose work per weight is its decode (load, shift,
 * mask) plus a broadcast, a multiply and an add; the tile GEMMs ({@link Int8Gemm}, {@link InterleavedGemm}) decode a
 * tile to memory once and reuse it over many tokens, which 2–8 decode rows are too few to repay (JFR of a 4-row step:
 * 37 % of it decoding Q4_0 tiles, 35 % the Q8_0 output projection's f32 tiles). Here the decoded weights stay in
 * registers and meet every token's broadcast activation at once, and a broadcast feeds two vectors of rows.
 *
 * <p>Arithmetic: {@link Int8Kernels}' for each token, exactly — the same integer block sums (Q4_0 in wrapping 16-bit
 * lanes from the bias −8·Σx; Q8_0 in f32 lanes by FMA, which hold every partial sum of |w·x| ≤ 128·127 over 32 columns
 * exactly, below 2^24, where the single-token kernel pairs 16-bit products and widens them), then per block the same
 * f32 operations in the same order, s = (S·d_w)·d_x + s. So a token's result is bit-identical whether it runs alone or
 * beside others, at every width ({@code FewTokensTest}). Q8_0 takes the f32 route because 16-bit products only fit in
 * pairs, whose widening costs more than an FMA per product pair.
 *
 * <p>Shape: a work item is a pair of groups (64 rows). Q4_0 passes take {@link #PASS} rows (two vectors of 16-bit lanes:
 * both groups at 512 bits, a group's two slices at 256, half a group at 128) and 4, 3 or 2 tokens (5 as 3 + 2): 8
 * accumulators, two weight vectors and a broadcast; at 512 bits passes of 5 to 8 tokens run on {@link Q4WidePasses}. Q8_0
 * passes take one slice (two f32 vectors of rows). Both read the activations column by column
 * ({@link QuantizedActivations#floats}, {@link QuantizedActivations#shortColumns}): a column's broadcasts for all the pass's
 * tokens sit side by side. The per-token
 * f32 sums wait in a small array in L1 between blocks; a call of one token runs on {@link Int8Kernels}. As everywhere in
 * the kernels, vector values never cross a method boundary and the kernels are written out per token count
 * (docs/PERFORMANCE.md, "A JIT pitfall": C2 boxes vectors it cannot keep in registers).
 */
public final class Int8FewTokens {
    static final VectorSpecies<Short> S = VectorWidth.S;
    static final VectorSpecies<Float> F = VectorWidth.F;
    static final VectorSpecies<Integer> I = VectorWidth.I;
    static final VectorSpecies<Short> SH = VectorWidth.SH;
    static final VectorSpecies<Byte> BH = VectorWidth.BH;
    static final int L = VectorWidth.SHORTS;
    static final int FL = VectorWidth.FLOATS;
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Rows per Q4_0 pass: two vectors of 16-bit lanes. */
    static final int PASS = 2 * L;
    /** Rows per work item: two groups. */
    static final int ITEM = 2 * Interleaved.ROWS;
    /** Tokens per pass at most: Q8_0 and Q4_0 passes take 8 at 512 bits (16 accumulators of the 32 registers), otherwise 4. */
    static final int BLOCK = L >= 32 ? 8 : 4;
    /**
     * Where in the scratch ({@code acc}) a pass's 16-bit sum vectors (two per token) wait for its per-block f32 part
     * ({@link #q4kBlockEnd}, {@link Q4WidePasses}' blockEnd): past every pass's f32 sums.
     */
    static final int SUMS = BLOCK * PASS;
    /**
     * Whether Q4_0 passes of 2-4 tokens take one row vector instead of two (512 bits only, where a vector is a whole
     * group, so the two-vector pass reads two groups {@code nb·576} bytes apart: two memory streams; the one-vector pass
     * reads one, as {@link Int8Kernels#q4} does). From DRAM it is 1.3-1.8x faster (one core), in the model (1B Q4_0, two
     * threads) the gate/up loop 7 % and the decode step 3-5 % (C = 2, 4); in L3 it is slower (k = 2: 78 vs 95 G
     * multiply-adds/s), which no decode step sees (docs/PERFORMANCE.md, "The few-token pass over one group").
     * {@code -Djemma.q4OneGroup.off=true}: the two-vector passes, for A/B runs.
     */
    static final boolean ONE_GROUP = L >= 32 && !Boolean.getBoolean("jemma.q4OneGroup.off");
    /**
     * Whether {@link #q4x2} converts the upper halves of its 16-bit sums and f16 scales from half-width loads (the sums
     * through {@link #HALVES}): at 256 bits, where C2's {@code convertShape(…, 1)} on a whole vector is a lane permute, two
     * byte shuffles and two blends (FewTokensSpeed Q4_0:8192:2048, k = 2: 1.15-1.2x); not at 128, where the store and
     * reloads cost more than they save (19.0-19.1 against 19.5-20.5 G/s).
     */
    static final boolean HALF_LOADS = L == 16;
    /** Per thread: {@link #q4x2}'s four 16-bit sum vectors, read back as half-width vectors (its f32 step). */
    private static final ThreadLocal<short[]> HALVES = ThreadLocal.withInitial(() -> new short[4 * L]);
    /** The most tokens any call takes here ({@link #maxTokens} of every type and width is at most this). */
    public static final int MAX_TOKENS = 16;

    private Int8FewTokens() {
    }

    /** Floats of the per-worker scratch a call needs ({@code acc}). */
    public static int scratchFloats() {
        return SUMS + 2 * BLOCK * FL;
    }

    /**
     * Up to how many tokens a call over this type's copy runs here at this width (0: never): where the tile GEMMs stop
     * being slower, measured on one core (docs/PERFORMANCE.md, "Serving"). At 512 bits both types win or tie through 16
     * tokens (Q4_0 still wins at 32); at 256 bits (16 registers) the 4-token Q4_0 pass runs slower than the tile GEMM, so
     * Q4_0 stops at 3 tokens there. Q5_0 (one slice per pass) beats the Int8Gemm tile from 4 tokens only at 512 bits
     * (ties from 8), at 128 up to 4 (1.03-1.13x the two-slice q5 at 2-4 tokens), and at 256 bits not at all while
     * {@link Int8Kernels#q5} takes two slices per pass there (against the one-slice q5 it won up to 3 tokens: 1.23x /
     * 1.31x at 2 / 3, 0.96x at 4); Q6_K (passes of two tokens) wins or ties against the f32 tile GEMM up to 7 tokens at
     * 512 bits and loses at 8, where the tile GEMM fills its 8-token tile (FewTokensSpeed Q6_K:1152:6912, one core,
     * best of 15, three JVMs: 0.76-0.83x at 8, 0.97-1.04x at 4, 1.05-1.18x at 5-7), and is off below 512
     * ({@link #Q6K_PER_TOKEN}).
     */
    public static int maxTokens(GgmlType type) {
        if (type == GgmlType.Q4_0) return L >= 32 ? 16 : L == 16 ? 3 : 8;
        if (type == GgmlType.Q8_0) return L >= 32 ? 16 : 8;
        if (type == GgmlType.Q4_K) return L >= 32 ? 16 : L == 16 ? 3 : 8;
        if (type == GgmlType.Q5_0) return L >= 32 ? 16 : L == 16 ? (Int8Kernels.Q5_PAIRS ? 0 : 3) : 4;
        if (type == GgmlType.Q6_K) return Q6K_PER_TOKEN ? 0 : L >= 32 ? 7 : 6;
        return 0;
    }

    /**
     * From how many tokens on a call over this type's copy runs here (below it, and from 2, each token runs on the
     * single-token kernel, with the same result): 2, except Q8_0 below 512 bits, where the two-slice single-token kernel
     * ({@link Int8Kernels#q8}'s pairs: 16-bit products, two slices per broadcast) beats this kernel's f32 passes (one
     * core, G multiply-adds/s, single-token vs here: 256 bits 2 tokens 23.2 vs 18.5, 3 tokens 23.5 vs 22.4, 4 tokens
     * 21.4 vs 28.0; 128 bits 2 tokens 11.6 vs 10.5, 3 tokens 12.2 vs 13.4).
     */
    public static int minTokens(GgmlType type) {
        return type != GgmlType.Q8_0 || L >= 32 ? 2 : L == 16 ? 4 : 3;
    }

    /** Work items of a matrix: pairs of 32-row groups. */
    public static int items(int rows) {
        return (Interleaved.groups(rows) + 1) / 2;
    }

    /**
     * out[t·rows + r] = row r · token t for every token of {@code a} (residual rows included) and the rows of work items
     * [i0, i1) of a Q4_0 copy.
     */
    public static void q4(MemorySegment w, int i0, int i1, int rows, int nb, QuantizedActivations a, float[] out, float[] acc) {
        final int n = a.tokens, groups = Interleaved.groups(rows), padded = groups * Interleaved.ROWS;
        final long gBytes = (long) nb * Interleaved.Q4_TILE;
        final short[] xc = n == 1 ? null : a.shortColumns(); // built by the caller before the pool's loop (FastMatMul)
        for (int item = i0; item < i1; item++) {
            final int t1 = n == 1 ? 0 : n; // a lone token runs on Int8Kernels
            for (int r = item * ITEM; r < Math.min(rows, (item + 1) * ITEM); r += PASS) {
                final int valid = Math.min(PASS, rows - r), rb = r + L;
                // the pass's two row vectors (group, slice); a second one past the last group re-reads the first, unstored
                final long va = (r / Interleaved.ROWS) * gBytes + 2 * (r % Interleaved.ROWS);
                final long vb = rb < padded ? (rb / Interleaved.ROWS) * gBytes + 2 * (rb % Interleaved.ROWS) : va;
                for (int t = 0, k; t < t1; t += k) {
                    k = Q4WidePasses.ON ? Q4WidePasses.block(t1 - t) : block(t1 - t);
                    if (ONE_GROUP && k <= 4) {
                        onePass(k, w, va, nb, xc, a.d, a.q4Bias, n, t, acc);
                        store(acc, k, out, t, rows, r, Math.min(L, valid));
                        if (valid <= L) continue;
                        onePass(k, w, vb, nb, xc, a.d, a.q4Bias, n, t, acc);
                        store(acc, k, out, t, rows, rb, valid - L);
                        continue;
                    }
                    if (k > 4) Q4WidePasses.pass(k, w, va, vb, nb, xc, a.d, a.q4Bias, n, t, acc);
                    else if (k == 4) q4x4(w, va, vb, nb, xc, a.d, a.q4Bias, n, t, acc);
                    else if (k == 3) q4x3(w, va, vb, nb, xc, a.d, a.q4Bias, n, t, acc);
                    else q4x2(w, va, vb, nb, xc, a.d, a.q4Bias, n, t, acc);
                    store(acc, k, out, t, rows, r, valid);
                }
            }
            if (t1 < n) Int8Kernels.q4(w, 2 * item, Math.min(groups, 2 * item + 2), rows, nb, a, n - 1, out);
        }
    }

    /** {@link #q4} for a Q4_K copy ({@link KQuantInterleaved}). */
    public static void q4k(MemorySegment w, int i0, int i1, int rows, int nb, QuantizedActivations a, float[] out, float[] acc) {
        final int n = a.tokens, groups = Interleaved.groups(rows), padded = groups * Interleaved.ROWS;
        final long gBytes = (long) (nb / 8) * KQuantInterleaved.Q4K_SB;
        for (int item = i0; item < i1; item++) {
            final int t1 = n == 1 ? 0 : n;
            for (int r = item * ITEM; r < Math.min(rows, (item + 1) * ITEM); r += PASS) {
                final int valid = Math.min(PASS, rows - r), rb = r < padded - L ? r + L : r;
                final long ga = (r / Interleaved.ROWS) * gBytes, gb = (rb / Interleaved.ROWS) * gBytes;
                final int sa = r % Interleaved.ROWS, sb = rb % Interleaved.ROWS;
                for (int t = 0, k; t < t1; t += k) {
                    k = block(t1 - t);
                    if (k == 4) q4kx4(w, ga, sa, gb, sb, nb, a.q, a.d, a.q4Bias, a.cols, t, acc);
                    else if (k == 3) q4kx3(w, ga, sa, gb, sb, nb, a.q, a.d, a.q4Bias, a.cols, t, acc);
                    else q4kx2(w, ga, sa, gb, sb, nb, a.q, a.d, a.q4Bias, a.cols, t, acc);
                    store(acc, k, out, t, rows, r, valid);
                }
            }
            if (t1 < n) KQuantKernels.q4k(w, 2 * item, Math.min(groups, 2 * item + 2), rows, nb, a, n - 1, out);
        }
    }

    /**
     * {@link #q4} for a Q8_0 copy; {@code xf} holds the activations' integers as floats ({@link QuantizedActivations#floats}).
     */
    public static void q8(MemorySegment w, int i0, int i1, int rows, int nb, QuantizedActivations a, float[] xf, float[] out,
                          float[] acc) {
        final int n = a.tokens, groups = Interleaved.groups(rows);
        final long gBytes = (long) nb * Interleaved.Q8_TILE;
        for (int item = i0; item < i1; item++) {
            final int t1 = n == 1 ? 0 : n;
            for (int g = 2 * item; g < Math.min(groups, 2 * item + 2); g++) {
                final int r0 = g * Interleaved.ROWS;
                for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) {
                    // a slice's rows: e .. e + FL − 1 (acc[0, FL)) and 16 + e .. (acc[FL, 2FL))
                    final int e = l0 / 2, lo = Math.min(FL, rows - r0 - e), hi = Math.min(FL, rows - r0 - 16 - e);
                    if (lo <= 0) continue;
                    for (int t = 0, k; t < t1; t += k) {
                        k = BLOCK == 8 && t1 - t >= 8 && t1 - t != 9 ? 8 : block(t1 - t); // 9 = 4 + 3 + 2: no lone token
                        if (k == 8) q8x8(w, g * gBytes, l0, nb, xf, a.d, a.tokens, t, acc);
                        else if (k == 4) q8x4(w, g * gBytes, l0, nb, xf, a.d, a.tokens, t, acc);
                        else if (k == 3) q8x3(w, g * gBytes, l0, nb, xf, a.d, a.tokens, t, acc);
                        else q8x2(w, g * gBytes, l0, nb, xf, a.d, a.tokens, t, acc);
                        store(acc, k, lo, out, t, rows, r0 + e, hi, r0 + 16 + e);
                    }
                }
            }
            if (t1 < n) Int8Kernels.q8(w, 2 * item, Math.min(groups, 2 * item + 2), rows, nb, a, n - 1, out);
        }
    }

    /**
     * {@link #q4} for a Q5_0 copy. A pass takes one slice of the group (one vector of 16-bit lanes) and 4, 3 or 2 tokens: each
     * token keeps Q5_0's two 16-bit half-block sums, so a slice, not two, keeps the accumulators within 16 registers.
     */
    public static void q5(MemorySegment w, int i0, int i1, int rows, int nb, QuantizedActivations a, float[] out, float[] acc) {
        final int n = a.tokens, groups = Interleaved.groups(rows);
        final long gBytes = (long) nb * Interleaved.Q5_TILE;
        for (int item = i0; item < i1; item++) {
            final int t1 = n == 1 ? 0 : n;
            for (int g = 2 * item; g < Math.min(groups, 2 * item + 2); g++) {
                final int r0 = g * Interleaved.ROWS;
                for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) {
                    final int valid = Math.min(L, rows - r0 - l0);
                    if (valid <= 0) continue;
                    final long so = g * gBytes + 2L * l0;
                    for (int t = 0, k; t < t1; t += k) {
                        k = block(t1 - t);
                        if (k == 4) q5x4(w, so, nb, a.q, a.d, a.q5BiasLo, a.q5BiasHi, a.cols, t, acc);
                        else if (k == 3) q5x3(w, so, nb, a.q, a.d, a.q5BiasLo, a.q5BiasHi, a.cols, t, acc);
                        else q5x2(w, so, nb, a.q, a.d, a.q5BiasLo, a.q5BiasHi, a.cols, t, acc);
                        store(acc, k, out, t, rows, r0 + l0, valid);
                    }
                }
            }
            if (t1 < n) Int8Kernels.q5(w, 2 * item, Math.min(groups, 2 * item + 2), rows, nb, a, n - 1, out);
        }
    }

    /**
     * Whether Q6_K few-token passes are off at this width (below 512 bits): there {@link KQuantKernels#q6k} takes two
     * slices per pass in an f32 order of its own ({@link KQuantKernels#q6kPairs}), which these one-slice passes do not
     * follow, so every token runs on it.
     */
    private static final boolean Q6K_PER_TOKEN = L < 32;

    /**
     * {@link #q4} for a Q6_K copy ({@link KQuantInterleaved}): one slice and two tokens per pass, in the arithmetic of
     * {@link KQuantKernels#q6k}; an odd count's last token runs on that kernel, as every token does below 512 bits
     * ({@link #Q6K_PER_TOKEN}). Passes of 3 or 4 tokens (written out as for the other types)
     * measured slower than passes of 2 at 512 bits (one core, 1152 × 6912, k = 4: 28 vs 43 G multiply-adds/s): a Q6_K
     * token holds four 16-bit and four f32 sums per slice, twice Q4_0's.
     */
    public static void q6k(MemorySegment w, int i0, int i1, int rows, int nb, QuantizedActivations a, float[] out, float[] acc) {
        final int n = a.tokens, groups = Interleaved.groups(rows);
        final long gBytes = (long) (nb / 8) * KQuantInterleaved.Q6K_SB;
        final int t1 = Q6K_PER_TOKEN ? 0 : n & ~1;
        for (int item = i0; item < i1; item++) {
            for (int g = 2 * item; g < Math.min(groups, 2 * item + 2); g++) {
                final int r0 = g * Interleaved.ROWS;
                for (int sl = 0; sl < Interleaved.ROWS; sl += L) {
                    final int valid = Math.min(L, rows - r0 - sl);
                    if (valid <= 0) continue;
                    for (int t = 0; t < t1; t += 2) {
                        q6kx2(w, g * gBytes, sl, nb, a.q, a.d, a.q6Bias, a.cols, t, acc);
                        store(acc, 2, out, t, rows, r0 + sl, valid);
                    }
                }
            }
            for (int t = t1; t < n; t++) KQuantKernels.q6k(w, 2 * item, Math.min(groups, 2 * item + 2), rows, nb, a, t, out);
        }
    }

    /** {@link #q4}'s pass of k = 2..4 tokens over the one row vector at byte va ({@link #ONE_GROUP}). */
    private static void onePass(int k, MemorySegment w, long va, int nb, short[] xq, float[] xd, short[] bias, int n, int t,
                                float[] acc) {
        if (k == 4) q4x4one(w, va, nb, xq, xd, bias, n, t, acc);
        else if (k == 3) q4x3one(w, va, nb, xq, xd, bias, n, t, acc);
        else q4x2one(w, va, nb, xq, xd, bias, n, t, acc);
    }

    /** Tokens the next pass takes when {@code left} (2 or more) remain: 4, 3 or 2, never leaving a lone one (5 = 3 + 2). */
    private static int block(int left) {
        return left == 5 ? 3 : Math.min(4, left);
    }

    /** Tokens [t, t + k) of a pass's sums (acc[j·PASS + i]): the first {@code valid} to rows r.. of the output. */
    private static void store(float[] acc, int k, float[] out, int t, int rows, int r, int valid) {
        for (int j = 0; j < k; j++) System.arraycopy(acc, j * PASS, out, (t + j) * rows + r, valid);
    }

    /** A Q8_0 slice's sums: acc[j·PASS, + lo) to rows r.., acc[j·PASS + FL, + hi) to rows s... */
    private static void store(float[] acc, int k, int lo, float[] out, int t, int rows, int r, int hi, int s) {
        for (int j = 0; j < k; j++) {
            System.arraycopy(acc, j * PASS, out, (t + j) * rows + r, lo);
            if (hi > 0) System.arraycopy(acc, j * PASS + FL, out, (t + j) * rows + s, hi);
        }
    }

    /**
     * Four tokens (t .. t + 3) against the pass whose two row vectors start at byte va / vb (block 0):
     * acc[j·PASS + i] = Σ_b dx_j·(d_i·S_ij), S the exact 16-bit block sums. Written out per token count: accumulators in
     * locals, no loop or helper choosing between vectors (C2 would box them).
     */
    private static void q4x4(MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int n, int t,
                             float[] acc) {
        Arrays.fill(acc, 0, 4 * PASS, 0f);
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE, tb = vb + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), b2 = a2;
            ShortVector a3 = ShortVector.broadcast(S, bias[d3 + b]), b3 = a3;
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

    /** 3 tokens: see {@link #q4x4}. */
    private static void q4x3(MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int n, int t,
                             float[] acc) {
        Arrays.fill(acc, 0, 3 * PASS, 0f);
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE, tb = vb + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), b2 = a2;
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

    /** 2 tokens: see {@link #q4x4}. */
    private static void q4x2(MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int n, int t,
                             float[] acc) {
        Arrays.fill(acc, 0, 2 * PASS, 0f);
        final int d0 = t * nb, d1 = d0 + nb;
        final short[] hs = HALF_LOADS ? HALVES.get() : null;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE, tb = vb + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
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
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF), m1 = u.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                ShortVector x01 = ShortVector.broadcast(S, xq[y1]);
                a0 = (n1.mul(x01)).add(a0);
                b0 = (m1.mul(x01)).add(b0);
                ShortVector x11 = ShortVector.broadcast(S, xq[y1 + 1]);
                a1 = (n1.mul(x11)).add(a1);
                b1 = (m1.mul(x11)).add(b1);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF), m2 = u.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                ShortVector x02 = ShortVector.broadcast(S, xq[y2]);
                a0 = (n2.mul(x02)).add(a0);
                b0 = (m2.mul(x02)).add(b0);
                ShortVector x12 = ShortVector.broadcast(S, xq[y2 + 1]);
                a1 = (n2.mul(x12)).add(a1);
                b1 = (m2.mul(x12)).add(b1);
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12), m3 = u.lanewise(VectorOperators.LSHR, 12);
                ShortVector x03 = ShortVector.broadcast(S, xq[y3]);
                a0 = (n3.mul(x03)).add(a0);
                b0 = (m3.mul(x03)).add(b0);
                ShortVector x13 = ShortVector.broadcast(S, xq[y3 + 1]);
                a1 = (n3.mul(x13)).add(a1);
                b1 = (m3.mul(x13)).add(b1);
            }
            if (HALF_LOADS) {
                // per token s = (S·d)·dx + s: Int8Kernels.q4's operations in its order; f16 scales -> f32 in place (Int8Kernels.q5).
                // Each vector's upper half becomes f32 lanes from a half-width load (the scales from the copy, the 16-bit sums
                // through the scratch hs), see HALF_LOADS; the same values in the same operations
                SV.cast(a0).intoArray(hs, 0);
                SV.cast(b0).intoArray(hs, L);
                SV.cast(a1).intoArray(hs, 2 * L);
                SV.cast(b1).intoArray(hs, 3 * L);
                FloatVector da0 = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, ta, LE)).convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
                FloatVector da1 = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, ta + L, LE)).convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
                FloatVector db0 = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tb, LE)).convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
                FloatVector db1 = F16_MAGIC.mul(IV.cast(SHV.cast(ShortVector.fromMemorySegment(SH, w, tb + L, LE)).convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats());
                FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
                FV.cast(SHV.cast(ShortVector.fromArray(SH, hs, 0)).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
                FV.cast(SHV.cast(ShortVector.fromArray(SH, hs, L / 2)).convertShape(VectorOperators.S2F, F, 0)).mul(da1).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
                FV.cast(SHV.cast(ShortVector.fromArray(SH, hs, L)).convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e0, FloatVector.fromArray(F, acc, 0 + L)).intoArray(acc, 0 + L);
                FV.cast(SHV.cast(ShortVector.fromArray(SH, hs, L + L / 2)).convertShape(VectorOperators.S2F, F, 0)).mul(db1).fma(e0, FloatVector.fromArray(F, acc, 0 + L + FL)).intoArray(acc, 0 + L + FL);
                FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
                FV.cast(SHV.cast(ShortVector.fromArray(SH, hs, 2 * L)).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
                FV.cast(SHV.cast(ShortVector.fromArray(SH, hs, 2 * L + L / 2)).convertShape(VectorOperators.S2F, F, 0)).mul(da1).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
                FV.cast(SHV.cast(ShortVector.fromArray(SH, hs, 3 * L)).convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + L)).intoArray(acc, 1 * PASS + L);
                FV.cast(SHV.cast(ShortVector.fromArray(SH, hs, 3 * L + L / 2)).convertShape(VectorOperators.S2F, F, 0)).mul(db1).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + L + FL)).intoArray(acc, 1 * PASS + L + FL);
            } else {
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
    }

    /**
     * {@link #q4x4} over one row vector (one group at 512 bits, {@link #ONE_GROUP}): row i's integer and f32 operations
     * those of q4x4's first vector, in the same order, so each output is bit-identical; acc[j·PASS + i], i < L.
     */
    private static void q4x4one(MemorySegment w, long va, int nb, short[] xq, float[] xd, short[] bias, int n, int t,
                                float[] acc) {
        Arrays.fill(acc, 0, 4 * PASS, 0f);
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), c0 = ShortVector.zero(S);
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), c1 = ShortVector.zero(S);
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), c2 = ShortVector.zero(S);
            ShortVector a3 = ShortVector.broadcast(S, bias[d3 + b]), c3 = ShortVector.zero(S);
            // y: column 32b + 2qd's activations, token after token (QuantizedActivations.shortColumns)
            for (int qd = 0, y = 32 * b * n + t; qd < 8; qd++, y += 2 * n) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)
                final int y1 = y + 16 * n, y2 = y + n, y3 = y + 17 * n; // columns + 16, + 1, + 17
                ShortVector n0 = v.and((short) 0xF);
                ShortVector x00 = ShortVector.broadcast(S, xq[y]);
                a0 = (n0.mul(x00)).add(a0);
                ShortVector x10 = ShortVector.broadcast(S, xq[y + 1]);
                a1 = (n0.mul(x10)).add(a1);
                ShortVector x20 = ShortVector.broadcast(S, xq[y + 2]);
                a2 = (n0.mul(x20)).add(a2);
                ShortVector x30 = ShortVector.broadcast(S, xq[y + 3]);
                a3 = (n0.mul(x30)).add(a3);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                ShortVector x01 = ShortVector.broadcast(S, xq[y1]);
                c0 = (n1.mul(x01)).add(c0);
                ShortVector x11 = ShortVector.broadcast(S, xq[y1 + 1]);
                c1 = (n1.mul(x11)).add(c1);
                ShortVector x21 = ShortVector.broadcast(S, xq[y1 + 2]);
                c2 = (n1.mul(x21)).add(c2);
                ShortVector x31 = ShortVector.broadcast(S, xq[y1 + 3]);
                c3 = (n1.mul(x31)).add(c3);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                ShortVector x02 = ShortVector.broadcast(S, xq[y2]);
                a0 = (n2.mul(x02)).add(a0);
                ShortVector x12 = ShortVector.broadcast(S, xq[y2 + 1]);
                a1 = (n2.mul(x12)).add(a1);
                ShortVector x22 = ShortVector.broadcast(S, xq[y2 + 2]);
                a2 = (n2.mul(x22)).add(a2);
                ShortVector x32 = ShortVector.broadcast(S, xq[y2 + 3]);
                a3 = (n2.mul(x32)).add(a3);
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12);
                ShortVector x03 = ShortVector.broadcast(S, xq[y3]);
                c0 = (n3.mul(x03)).add(c0);
                ShortVector x13 = ShortVector.broadcast(S, xq[y3 + 1]);
                c1 = (n3.mul(x13)).add(c1);
                ShortVector x23 = ShortVector.broadcast(S, xq[y3 + 2]);
                c2 = (n3.mul(x23)).add(c2);
                ShortVector x33 = ShortVector.broadcast(S, xq[y3 + 3]);
                c3 = (n3.mul(x33)).add(c3);
            }
            // the chains' wrapped 16-bit sums add up to the exact block sum whatever the order: the same S, the same bits
            a0 = SV.cast(c0).add(a0);
            a1 = SV.cast(c1).add(a1);
            a2 = SV.cast(c2).add(a2);
            a3 = SV.cast(c3).add(a3);
            // per token s = (S·d)·dx + s: Int8Kernels.q4's operations in its order; f16 scales -> f32 in place (Int8Kernels.q5)
            ShortVector ha = SV.cast(ShortVector.fromMemorySegment(S, w, ta, LE));
            FloatVector da0 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector da1 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FloatVector e2 = FloatVector.broadcast(F, xd[d2 + b]);
            FV.cast(SV.cast(a2).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS)).intoArray(acc, 2 * PASS);
            FV.cast(SV.cast(a2).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + FL)).intoArray(acc, 2 * PASS + FL);
            FloatVector e3 = FloatVector.broadcast(F, xd[d3 + b]);
            FV.cast(SV.cast(a3).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS)).intoArray(acc, 3 * PASS);
            FV.cast(SV.cast(a3).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e3, FloatVector.fromArray(F, acc, 3 * PASS + FL)).intoArray(acc, 3 * PASS + FL);
        }
    }

    /** 3 tokens: see {@link #q4x4one}. */
    private static void q4x3one(MemorySegment w, long va, int nb, short[] xq, float[] xd, short[] bias, int n, int t,
                                float[] acc) {
        Arrays.fill(acc, 0, 3 * PASS, 0f);
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), c0 = ShortVector.zero(S);
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), c1 = ShortVector.zero(S);
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), c2 = ShortVector.zero(S);
            // y: column 32b + 2qd's activations, token after token (QuantizedActivations.shortColumns)
            for (int qd = 0, y = 32 * b * n + t; qd < 8; qd++, y += 2 * n) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)
                final int y1 = y + 16 * n, y2 = y + n, y3 = y + 17 * n; // columns + 16, + 1, + 17
                ShortVector n0 = v.and((short) 0xF);
                ShortVector x00 = ShortVector.broadcast(S, xq[y]);
                a0 = (n0.mul(x00)).add(a0);
                ShortVector x10 = ShortVector.broadcast(S, xq[y + 1]);
                a1 = (n0.mul(x10)).add(a1);
                ShortVector x20 = ShortVector.broadcast(S, xq[y + 2]);
                a2 = (n0.mul(x20)).add(a2);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                ShortVector x01 = ShortVector.broadcast(S, xq[y1]);
                c0 = (n1.mul(x01)).add(c0);
                ShortVector x11 = ShortVector.broadcast(S, xq[y1 + 1]);
                c1 = (n1.mul(x11)).add(c1);
                ShortVector x21 = ShortVector.broadcast(S, xq[y1 + 2]);
                c2 = (n1.mul(x21)).add(c2);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                ShortVector x02 = ShortVector.broadcast(S, xq[y2]);
                a0 = (n2.mul(x02)).add(a0);
                ShortVector x12 = ShortVector.broadcast(S, xq[y2 + 1]);
                a1 = (n2.mul(x12)).add(a1);
                ShortVector x22 = ShortVector.broadcast(S, xq[y2 + 2]);
                a2 = (n2.mul(x22)).add(a2);
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12);
                ShortVector x03 = ShortVector.broadcast(S, xq[y3]);
                c0 = (n3.mul(x03)).add(c0);
                ShortVector x13 = ShortVector.broadcast(S, xq[y3 + 1]);
                c1 = (n3.mul(x13)).add(c1);
                ShortVector x23 = ShortVector.broadcast(S, xq[y3 + 2]);
                c2 = (n3.mul(x23)).add(c2);
            }
            // the chains' wrapped 16-bit sums add up to the exact block sum whatever the order: the same S, the same bits
            a0 = SV.cast(c0).add(a0);
            a1 = SV.cast(c1).add(a1);
            a2 = SV.cast(c2).add(a2);
            // per token s = (S·d)·dx + s: Int8Kernels.q4's operations in its order; f16 scales -> f32 in place (Int8Kernels.q5)
            ShortVector ha = SV.cast(ShortVector.fromMemorySegment(S, w, ta, LE));
            FloatVector da0 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector da1 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FloatVector e2 = FloatVector.broadcast(F, xd[d2 + b]);
            FV.cast(SV.cast(a2).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS)).intoArray(acc, 2 * PASS);
            FV.cast(SV.cast(a2).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + FL)).intoArray(acc, 2 * PASS + FL);
        }
    }

    /** 2 tokens: see {@link #q4x4one}. */
    private static void q4x2one(MemorySegment w, long va, int nb, short[] xq, float[] xd, short[] bias, int n, int t,
                                float[] acc) {
        Arrays.fill(acc, 0, 2 * PASS, 0f);
        final int d0 = t * nb, d1 = d0 + nb;
        for (int b = 0; b < nb; b++) {
            final long ta = va + (long) b * Interleaved.Q4_TILE;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), c0 = ShortVector.zero(S);
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), c1 = ShortVector.zero(S);
            // y: column 32b + 2qd's activations, token after token (QuantizedActivations.shortColumns)
            for (int qd = 0, y = 32 * b * n + t; qd < 8; qd++, y += 2 * n) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)
                final int y1 = y + 16 * n, y2 = y + n, y3 = y + 17 * n; // columns + 16, + 1, + 17
                ShortVector n0 = v.and((short) 0xF);
                ShortVector x00 = ShortVector.broadcast(S, xq[y]);
                a0 = (n0.mul(x00)).add(a0);
                ShortVector x10 = ShortVector.broadcast(S, xq[y + 1]);
                a1 = (n0.mul(x10)).add(a1);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                ShortVector x01 = ShortVector.broadcast(S, xq[y1]);
                c0 = (n1.mul(x01)).add(c0);
                ShortVector x11 = ShortVector.broadcast(S, xq[y1 + 1]);
                c1 = (n1.mul(x11)).add(c1);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                ShortVector x02 = ShortVector.broadcast(S, xq[y2]);
                a0 = (n2.mul(x02)).add(a0);
                ShortVector x12 = ShortVector.broadcast(S, xq[y2 + 1]);
                a1 = (n2.mul(x12)).add(a1);
                ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12);
                ShortVector x03 = ShortVector.broadcast(S, xq[y3]);
                c0 = (n3.mul(x03)).add(c0);
                ShortVector x13 = ShortVector.broadcast(S, xq[y3 + 1]);
                c1 = (n3.mul(x13)).add(c1);
            }
            // the chains' wrapped 16-bit sums add up to the exact block sum whatever the order: the same S, the same bits
            a0 = SV.cast(c0).add(a0);
            a1 = SV.cast(c1).add(a1);
            // per token s = (S·d)·dx + s: Int8Kernels.q4's operations in its order; f16 scales -> f32 in place (Int8Kernels.q5)
            ShortVector ha = SV.cast(ShortVector.fromMemorySegment(S, w, ta, LE));
            FloatVector da0 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector da1 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(SV.cast(a0).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(SV.cast(a1).convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
        }
    }

    /**
     * Four tokens (t .. t + 3) against the slice at byte l0 of group g (from byte go): acc[j·PASS + i] for rows e + i
     * (i < FL) and 16 + e + i − FL, e = l0/2. The columns' even bytes are rows e.., the odd ones rows 16 + e.. (Interleaved).
     */
    private static void q8x4(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int n, int t, float[] acc) {
        Arrays.fill(acc, 0, 4 * PASS, 0f);
        final int e = l0 / 2;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
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

    /** 3 tokens: see {@link #q8x4}. */
    private static void q8x3(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int n, int t, float[] acc) {
        Arrays.fill(acc, 0, 3 * PASS, 0f);
        final int e = l0 / 2;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0;
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

    /** 2 tokens: see {@link #q8x4}. */
    private static void q8x2(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int n, int t, float[] acc) {
        Arrays.fill(acc, 0, 2 * PASS, 0f);
        final int e = l0 / 2;
        final int d0 = t * nb, d1 = d0 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0;
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

    /**
     * {@link #q4x4} for Q4_K: the pass's row vectors are slice sa of the group at byte ga and slice sb of the one at gb
     * ({@link KQuantInterleaved}: 16-bit per-row fields at +2·slice, f32 header fields at +4·slice); per block, after the
     * 16-bit sum S, KQuantKernels.q4k's s = (S·A)·dx + s, then s = (8A − K)·(dx·Σx) + s, A = d·sc, K = dmin·m.
     */
    private static void q4kx4(MemorySegment w, long ga, int sa, long gb, int sb, int nb, short[] xq, float[] xd, short[] bias,
                              int cols, int t, float[] acc) {
        Arrays.fill(acc, 0, 4 * PASS, 0f);
        final int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb;
        for (int b = 0; b < nb; b++) {
            final long hdr = (long) (b >>> 3) * KQuantInterleaved.Q4K_SB, sub = hdr + KQuantInterleaved.Q4K_HEADER + (long) (b & 7) * KQuantInterleaved.Q4K_SUB;
            final long ta = ga + sub + 2 * sa, tb = gb + sub + 2 * sb;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), b2 = a2;
            ShortVector a3 = ShortVector.broadcast(S, bias[d3 + b]), b3 = a3;
            for (int qd = 0; qd < 8; qd++) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));
                int c0 = 32 * b + 2 * qd, c1 = c0 + 16, c2 = c0 + 1, c3 = c0 + 17; // Q4_0's quads
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
            // the 16-bit sums wait in acc past the f32 sums, and the per-block f32 part runs in a method of its own: with
            // it inline q4kx4 was too big for C1's profiled tier (docs/PERFORMANCE.md, "Boxed once in a whole-model step")
            FV.cast(SV.cast(a0).reinterpretAsFloats()).intoArray(acc, SUMS);
            FV.cast(SV.cast(b0).reinterpretAsFloats()).intoArray(acc, SUMS + FL);
            FV.cast(SV.cast(a1).reinterpretAsFloats()).intoArray(acc, SUMS + 2 * FL);
            FV.cast(SV.cast(b1).reinterpretAsFloats()).intoArray(acc, SUMS + 3 * FL);
            FV.cast(SV.cast(a2).reinterpretAsFloats()).intoArray(acc, SUMS + 4 * FL);
            FV.cast(SV.cast(b2).reinterpretAsFloats()).intoArray(acc, SUMS + 5 * FL);
            FV.cast(SV.cast(a3).reinterpretAsFloats()).intoArray(acc, SUMS + 6 * FL);
            FV.cast(SV.cast(b3).reinterpretAsFloats()).intoArray(acc, SUMS + 7 * FL);
            q4kBlockEnd(w, ga + hdr + 4 * sa, gb + hdr + 4 * sb, ta, tb, 4, xd, bias, d0, nb, b, acc);
        }
    }

    /**
     * The f32 part of a Q4_K block for tokens t .. t + k − 1 of a pass ({@link #q4kx4}'s): their 16-bit sums S (token j's
     * two row vectors at acc[SUMS + 2j·FL] and acc[SUMS + (2j + 1)·FL]) to acc[j·PASS + i] as KQuantKernels.q4k does,
     * s = (S·A)·dx + s, then s = (8A − K)·(dx·Σx) + s, with A = d·sc and K = dmin·m of the block's sub-block header at
     * ha / hb (f32 fields) and its scales and mins at ta / tb. The same operations in the same order as when they were
     * inline, so the same bits.
     */
    private static void q4kBlockEnd(MemorySegment w, long ha, long hb, long ta, long tb, int k, float[] xd, short[] bias,
                                    int d0, int nb, int b, float[] acc) {
        // A = d·sc and K = dmin·m per row, as KQuantKernels.q4k computes them
        ShortVector sma = SV.cast(ShortVector.fromMemorySegment(S, w, ta, LE)), smb = SV.cast(ShortVector.fromMemorySegment(S, w, tb, LE));
        ShortVector sca = sma.and((short) 0xff), mna = sma.lanewise(VectorOperators.LSHR, 8);
        ShortVector scb = smb.and((short) 0xff), mnb = smb.lanewise(VectorOperators.LSHR, 8);
        FloatVector aa0 = FV.cast(FloatVector.fromMemorySegment(F, w, ha, LE)).mul(FV.cast(sca.convertShape(VectorOperators.S2F, F, 0)));
        FloatVector aa1 = FV.cast(FloatVector.fromMemorySegment(F, w, ha + 2 * L, LE)).mul(FV.cast(sca.convertShape(VectorOperators.S2F, F, 1)));
        FloatVector ab0 = FV.cast(FloatVector.fromMemorySegment(F, w, hb, LE)).mul(FV.cast(scb.convertShape(VectorOperators.S2F, F, 0)));
        FloatVector ab1 = FV.cast(FloatVector.fromMemorySegment(F, w, hb + 2 * L, LE)).mul(FV.cast(scb.convertShape(VectorOperators.S2F, F, 1)));
        FloatVector ka0 = aa0.mul(8f).sub(FV.cast(FloatVector.fromMemorySegment(F, w, ha + 128, LE)).mul(FV.cast(mna.convertShape(VectorOperators.S2F, F, 0))));
        FloatVector ka1 = aa1.mul(8f).sub(FV.cast(FloatVector.fromMemorySegment(F, w, ha + 128 + 2 * L, LE)).mul(FV.cast(mna.convertShape(VectorOperators.S2F, F, 1))));
        FloatVector kb0 = ab0.mul(8f).sub(FV.cast(FloatVector.fromMemorySegment(F, w, hb + 128, LE)).mul(FV.cast(mnb.convertShape(VectorOperators.S2F, F, 0))));
        FloatVector kb1 = ab1.mul(8f).sub(FV.cast(FloatVector.fromMemorySegment(F, w, hb + 128 + 2 * L, LE)).mul(FV.cast(mnb.convertShape(VectorOperators.S2F, F, 1))));
        for (int j = 0; j < k; j++) {
            final int d = d0 + j * nb + b, o = j * PASS;
            ShortVector sa = SV.cast(FV.cast(FloatVector.fromArray(F, acc, SUMS + 2 * j * FL)).reinterpretAsShorts());
            ShortVector sb = SV.cast(FV.cast(FloatVector.fromArray(F, acc, SUMS + (2 * j + 1) * FL)).reinterpretAsShorts());
            float dx = xd[d];
            FloatVector e = FloatVector.broadcast(F, dx), f = FloatVector.broadcast(F, dx * (-bias[d] >> 3));
            ka0.fma(f, FV.cast(sa.convertShape(VectorOperators.S2F, F, 0)).mul(aa0).fma(e, FloatVector.fromArray(F, acc, o)))
                    .intoArray(acc, o);
            ka1.fma(f, FV.cast(sa.convertShape(VectorOperators.S2F, F, 1)).mul(aa1).fma(e, FloatVector.fromArray(F, acc, o + FL)))
                    .intoArray(acc, o + FL);
            kb0.fma(f, FV.cast(sb.convertShape(VectorOperators.S2F, F, 0)).mul(ab0).fma(e, FloatVector.fromArray(F, acc, o + L)))
                    .intoArray(acc, o + L);
            kb1.fma(f, FV.cast(sb.convertShape(VectorOperators.S2F, F, 1)).mul(ab1).fma(e, FloatVector.fromArray(F, acc, o + L + FL)))
                    .intoArray(acc, o + L + FL);
        }
    }

    /** 3 tokens: see {@link #q4kx4}. */
    private static void q4kx3(MemorySegment w, long ga, int sa, long gb, int sb, int nb, short[] xq, float[] xd, short[] bias,
                              int cols, int t, float[] acc) {
        Arrays.fill(acc, 0, 3 * PASS, 0f);
        final int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb;
        for (int b = 0; b < nb; b++) {
            final long hdr = (long) (b >>> 3) * KQuantInterleaved.Q4K_SB, sub = hdr + KQuantInterleaved.Q4K_HEADER + (long) (b & 7) * KQuantInterleaved.Q4K_SUB;
            final long ta = ga + sub + 2 * sa, tb = gb + sub + 2 * sb;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            ShortVector a2 = ShortVector.broadcast(S, bias[d2 + b]), b2 = a2;
            for (int qd = 0; qd < 8; qd++) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));
                int c0 = 32 * b + 2 * qd, c1 = c0 + 16, c2 = c0 + 1, c3 = c0 + 17; // Q4_0's quads
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
            // the per-block f32 part as q4kx4 runs it (q4kBlockEnd: the same operations in the same order)
            FV.cast(SV.cast(a0).reinterpretAsFloats()).intoArray(acc, SUMS);
            FV.cast(SV.cast(b0).reinterpretAsFloats()).intoArray(acc, SUMS + FL);
            FV.cast(SV.cast(a1).reinterpretAsFloats()).intoArray(acc, SUMS + 2 * FL);
            FV.cast(SV.cast(b1).reinterpretAsFloats()).intoArray(acc, SUMS + 3 * FL);
            FV.cast(SV.cast(a2).reinterpretAsFloats()).intoArray(acc, SUMS + 4 * FL);
            FV.cast(SV.cast(b2).reinterpretAsFloats()).intoArray(acc, SUMS + 5 * FL);
            q4kBlockEnd(w, ga + hdr + 4 * sa, gb + hdr + 4 * sb, ta, tb, 3, xd, bias, d0, nb, b, acc);
        }
    }

    /** 2 tokens: see {@link #q4kx4}. */
    private static void q4kx2(MemorySegment w, long ga, int sa, long gb, int sb, int nb, short[] xq, float[] xd, short[] bias,
                              int cols, int t, float[] acc) {
        Arrays.fill(acc, 0, 2 * PASS, 0f);
        final int x0 = t * cols, x1 = x0 + cols;
        final int d0 = t * nb, d1 = d0 + nb;
        for (int b = 0; b < nb; b++) {
            final long hdr = (long) (b >>> 3) * KQuantInterleaved.Q4K_SB, sub = hdr + KQuantInterleaved.Q4K_HEADER + (long) (b & 7) * KQuantInterleaved.Q4K_SUB;
            final long ta = ga + sub + 2 * sa, tb = gb + sub + 2 * sb;
            ShortVector a0 = ShortVector.broadcast(S, bias[d0 + b]), b0 = a0;
            ShortVector a1 = ShortVector.broadcast(S, bias[d1 + b]), b1 = a1;
            for (int qd = 0; qd < 8; qd++) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));
                int c0 = 32 * b + 2 * qd, c1 = c0 + 16, c2 = c0 + 1, c3 = c0 + 17; // Q4_0's quads
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
            // the per-block f32 part as q4kx4 runs it (q4kBlockEnd: the same operations in the same order)
            FV.cast(SV.cast(a0).reinterpretAsFloats()).intoArray(acc, SUMS);
            FV.cast(SV.cast(b0).reinterpretAsFloats()).intoArray(acc, SUMS + FL);
            FV.cast(SV.cast(a1).reinterpretAsFloats()).intoArray(acc, SUMS + 2 * FL);
            FV.cast(SV.cast(b1).reinterpretAsFloats()).intoArray(acc, SUMS + 3 * FL);
            q4kBlockEnd(w, ga + hdr + 4 * sa, gb + hdr + 4 * sb, ta, tb, 2, xd, bias, d0, nb, b, acc);
        }
    }

    /** 8 tokens: see {@link #q8x4}. */
    private static void q8x8(MemorySegment w, long go, int l0, int nb, float[] xf, float[] xd, int n, int t, float[] acc) {
        Arrays.fill(acc, 0, 8 * PASS, 0f);
        final int e = l0 / 2;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb, d4 = d3 + nb, d5 = d4 + nb, d6 = d5 + nb, d7 = d6 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = go + (long) b * Interleaved.Q8_TILE;
            FloatVector a0 = FloatVector.zero(F), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0, a4 = a0, b4 = a0, a5 = a0, b5 = a0, a6 = a0, b6 = a0, a7 = a0, b7 = a0;
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

    /**
     * Four tokens (t .. t + 3) of the Q5_0 slice whose lanes start at byte {@code so} (block 0): each block's two exact
     * 16-bit half-block sums per token ({@link Int8Kernels#q5}'s, from its start values), then acc[j·PASS + i] =
     * ((lo + hi)·d_i)·dx_j + acc, its f32 operations in its order.
     */
    private static void q5x4(MemorySegment w, long so, int nb, short[] xq, float[] xd, short[] biasLo, short[] biasHi, int cols,
                             int t, float[] acc) {
        Arrays.fill(acc, 0, 4 * PASS, 0f);
        final int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb, d3 = d2 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = so + (long) b * Interleaved.Q5_TILE;
            ShortVector l0 = ShortVector.broadcast(S, biasLo[d0 + b]), h0 = ShortVector.broadcast(S, biasHi[d0 + b]);
            ShortVector l1 = ShortVector.broadcast(S, biasLo[d1 + b]), h1 = ShortVector.broadcast(S, biasHi[d1 + b]);
            ShortVector l2 = ShortVector.broadcast(S, biasLo[d2 + b]), h2 = ShortVector.broadcast(S, biasHi[d2 + b]);
            ShortVector l3 = ShortVector.broadcast(S, biasLo[d3 + b]), h3 = ShortVector.broadcast(S, biasHi[d3 + b]);
            for (int q = 0; q < 5; q++) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * q, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 448 + 64L * q, LE));
                final int c = 32 * b + 3 * q; // columns c, c + 1, c + 2 (lo) and c + 16.. (hi): three per lane
                ShortVector n0 = v.and((short) 31), m0 = u.and((short) 31);
                l0 = (n0.mul(xq[x0 + c + 0])).add(l0);
                h0 = (m0.mul(xq[x0 + c + 16])).add(h0);
                l1 = (n0.mul(xq[x1 + c + 0])).add(l1);
                h1 = (m0.mul(xq[x1 + c + 16])).add(h1);
                l2 = (n0.mul(xq[x2 + c + 0])).add(l2);
                h2 = (m0.mul(xq[x2 + c + 16])).add(h2);
                l3 = (n0.mul(xq[x3 + c + 0])).add(l3);
                h3 = (m0.mul(xq[x3 + c + 16])).add(h3);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 5).and((short) 31), m1 = u.lanewise(VectorOperators.LSHR, 5).and((short) 31);
                l0 = (n1.mul(xq[x0 + c + 1])).add(l0);
                h0 = (m1.mul(xq[x0 + c + 17])).add(h0);
                l1 = (n1.mul(xq[x1 + c + 1])).add(l1);
                h1 = (m1.mul(xq[x1 + c + 17])).add(h1);
                l2 = (n1.mul(xq[x2 + c + 1])).add(l2);
                h2 = (m1.mul(xq[x2 + c + 17])).add(h2);
                l3 = (n1.mul(xq[x3 + c + 1])).add(l3);
                h3 = (m1.mul(xq[x3 + c + 17])).add(h3);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 10), m2 = u.lanewise(VectorOperators.LSHR, 10);
                l0 = (n2.mul(xq[x0 + c + 2])).add(l0);
                h0 = (m2.mul(xq[x0 + c + 18])).add(h0);
                l1 = (n2.mul(xq[x1 + c + 2])).add(l1);
                h1 = (m2.mul(xq[x1 + c + 18])).add(h1);
                l2 = (n2.mul(xq[x2 + c + 2])).add(l2);
                h2 = (m2.mul(xq[x2 + c + 18])).add(h2);
                l3 = (n2.mul(xq[x3 + c + 2])).add(l3);
                h3 = (m2.mul(xq[x3 + c + 18])).add(h3);
            }
            ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * 5, LE)); // columns 15 and 31
            ShortVector n0 = v.and((short) 31), m0 = v.lanewise(VectorOperators.LSHR, 5);
            l0 = (n0.mul(xq[x0 + 32 * b + 15])).add(l0);
            h0 = (m0.mul(xq[x0 + 32 * b + 31])).add(h0);
            l1 = (n0.mul(xq[x1 + 32 * b + 15])).add(l1);
            h1 = (m0.mul(xq[x1 + 32 * b + 31])).add(h1);
            l2 = (n0.mul(xq[x2 + 32 * b + 15])).add(l2);
            h2 = (m0.mul(xq[x2 + 32 * b + 31])).add(h2);
            l3 = (n0.mul(xq[x3 + 32 * b + 15])).add(l3);
            h3 = (m0.mul(xq[x3 + 32 * b + 31])).add(h3);
            // the scales' f16 -> f32 in place, as Int8Kernels.q5
            ShortVector hs = SV.cast(ShortVector.fromMemorySegment(S, w, tile, LE));
            FloatVector f0 = F16_MAGIC.mul(IV.cast(hs.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector f1 = F16_MAGIC.mul(IV.cast(hs.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(SV.cast(l0).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(h0).convertShape(VectorOperators.S2F, F, 0))).mul(f0)
                    .fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(SV.cast(l0).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(h0).convertShape(VectorOperators.S2F, F, 1))).mul(f1)
                    .fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(SV.cast(l1).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(h1).convertShape(VectorOperators.S2F, F, 0))).mul(f0)
                    .fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(SV.cast(l1).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(h1).convertShape(VectorOperators.S2F, F, 1))).mul(f1)
                    .fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FloatVector e2 = FloatVector.broadcast(F, xd[d2 + b]);
            FV.cast(SV.cast(l2).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(h2).convertShape(VectorOperators.S2F, F, 0))).mul(f0)
                    .fma(e2, FloatVector.fromArray(F, acc, 2 * PASS)).intoArray(acc, 2 * PASS);
            FV.cast(SV.cast(l2).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(h2).convertShape(VectorOperators.S2F, F, 1))).mul(f1)
                    .fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + FL)).intoArray(acc, 2 * PASS + FL);
            FloatVector e3 = FloatVector.broadcast(F, xd[d3 + b]);
            FV.cast(SV.cast(l3).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(h3).convertShape(VectorOperators.S2F, F, 0))).mul(f0)
                    .fma(e3, FloatVector.fromArray(F, acc, 3 * PASS)).intoArray(acc, 3 * PASS);
            FV.cast(SV.cast(l3).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(h3).convertShape(VectorOperators.S2F, F, 1))).mul(f1)
                    .fma(e3, FloatVector.fromArray(F, acc, 3 * PASS + FL)).intoArray(acc, 3 * PASS + FL);
        }
    }

    /** 3 tokens of a Q5_0 slice: see {@link #q5x4}. */
    private static void q5x3(MemorySegment w, long so, int nb, short[] xq, float[] xd, short[] biasLo, short[] biasHi, int cols,
                             int t, float[] acc) {
        Arrays.fill(acc, 0, 3 * PASS, 0f);
        final int x0 = t * cols, x1 = x0 + cols, x2 = x1 + cols;
        final int d0 = t * nb, d1 = d0 + nb, d2 = d1 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = so + (long) b * Interleaved.Q5_TILE;
            ShortVector l0 = ShortVector.broadcast(S, biasLo[d0 + b]), h0 = ShortVector.broadcast(S, biasHi[d0 + b]);
            ShortVector l1 = ShortVector.broadcast(S, biasLo[d1 + b]), h1 = ShortVector.broadcast(S, biasHi[d1 + b]);
            ShortVector l2 = ShortVector.broadcast(S, biasLo[d2 + b]), h2 = ShortVector.broadcast(S, biasHi[d2 + b]);
            for (int q = 0; q < 5; q++) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * q, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 448 + 64L * q, LE));
                final int c = 32 * b + 3 * q; // columns c, c + 1, c + 2 (lo) and c + 16.. (hi): three per lane
                ShortVector n0 = v.and((short) 31), m0 = u.and((short) 31);
                l0 = (n0.mul(xq[x0 + c + 0])).add(l0);
                h0 = (m0.mul(xq[x0 + c + 16])).add(h0);
                l1 = (n0.mul(xq[x1 + c + 0])).add(l1);
                h1 = (m0.mul(xq[x1 + c + 16])).add(h1);
                l2 = (n0.mul(xq[x2 + c + 0])).add(l2);
                h2 = (m0.mul(xq[x2 + c + 16])).add(h2);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 5).and((short) 31), m1 = u.lanewise(VectorOperators.LSHR, 5).and((short) 31);
                l0 = (n1.mul(xq[x0 + c + 1])).add(l0);
                h0 = (m1.mul(xq[x0 + c + 17])).add(h0);
                l1 = (n1.mul(xq[x1 + c + 1])).add(l1);
                h1 = (m1.mul(xq[x1 + c + 17])).add(h1);
                l2 = (n1.mul(xq[x2 + c + 1])).add(l2);
                h2 = (m1.mul(xq[x2 + c + 17])).add(h2);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 10), m2 = u.lanewise(VectorOperators.LSHR, 10);
                l0 = (n2.mul(xq[x0 + c + 2])).add(l0);
                h0 = (m2.mul(xq[x0 + c + 18])).add(h0);
                l1 = (n2.mul(xq[x1 + c + 2])).add(l1);
                h1 = (m2.mul(xq[x1 + c + 18])).add(h1);
                l2 = (n2.mul(xq[x2 + c + 2])).add(l2);
                h2 = (m2.mul(xq[x2 + c + 18])).add(h2);
            }
            ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * 5, LE)); // columns 15 and 31
            ShortVector n0 = v.and((short) 31), m0 = v.lanewise(VectorOperators.LSHR, 5);
            l0 = (n0.mul(xq[x0 + 32 * b + 15])).add(l0);
            h0 = (m0.mul(xq[x0 + 32 * b + 31])).add(h0);
            l1 = (n0.mul(xq[x1 + 32 * b + 15])).add(l1);
            h1 = (m0.mul(xq[x1 + 32 * b + 31])).add(h1);
            l2 = (n0.mul(xq[x2 + 32 * b + 15])).add(l2);
            h2 = (m0.mul(xq[x2 + 32 * b + 31])).add(h2);
            // the scales' f16 -> f32 in place, as Int8Kernels.q5
            ShortVector hs = SV.cast(ShortVector.fromMemorySegment(S, w, tile, LE));
            FloatVector f0 = F16_MAGIC.mul(IV.cast(hs.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector f1 = F16_MAGIC.mul(IV.cast(hs.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(SV.cast(l0).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(h0).convertShape(VectorOperators.S2F, F, 0))).mul(f0)
                    .fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(SV.cast(l0).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(h0).convertShape(VectorOperators.S2F, F, 1))).mul(f1)
                    .fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(SV.cast(l1).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(h1).convertShape(VectorOperators.S2F, F, 0))).mul(f0)
                    .fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(SV.cast(l1).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(h1).convertShape(VectorOperators.S2F, F, 1))).mul(f1)
                    .fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            FloatVector e2 = FloatVector.broadcast(F, xd[d2 + b]);
            FV.cast(SV.cast(l2).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(h2).convertShape(VectorOperators.S2F, F, 0))).mul(f0)
                    .fma(e2, FloatVector.fromArray(F, acc, 2 * PASS)).intoArray(acc, 2 * PASS);
            FV.cast(SV.cast(l2).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(h2).convertShape(VectorOperators.S2F, F, 1))).mul(f1)
                    .fma(e2, FloatVector.fromArray(F, acc, 2 * PASS + FL)).intoArray(acc, 2 * PASS + FL);
        }
    }

    /** 2 tokens of a Q5_0 slice: see {@link #q5x4}. */
    private static void q5x2(MemorySegment w, long so, int nb, short[] xq, float[] xd, short[] biasLo, short[] biasHi, int cols,
                             int t, float[] acc) {
        Arrays.fill(acc, 0, 2 * PASS, 0f);
        final int x0 = t * cols, x1 = x0 + cols;
        final int d0 = t * nb, d1 = d0 + nb;
        for (int b = 0; b < nb; b++) {
            final long tile = so + (long) b * Interleaved.Q5_TILE;
            ShortVector l0 = ShortVector.broadcast(S, biasLo[d0 + b]), h0 = ShortVector.broadcast(S, biasHi[d0 + b]);
            ShortVector l1 = ShortVector.broadcast(S, biasLo[d1 + b]), h1 = ShortVector.broadcast(S, biasHi[d1 + b]);
            for (int q = 0; q < 5; q++) {
                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * q, LE));
                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 448 + 64L * q, LE));
                final int c = 32 * b + 3 * q; // columns c, c + 1, c + 2 (lo) and c + 16.. (hi): three per lane
                ShortVector n0 = v.and((short) 31), m0 = u.and((short) 31);
                l0 = (n0.mul(xq[x0 + c + 0])).add(l0);
                h0 = (m0.mul(xq[x0 + c + 16])).add(h0);
                l1 = (n0.mul(xq[x1 + c + 0])).add(l1);
                h1 = (m0.mul(xq[x1 + c + 16])).add(h1);
                ShortVector n1 = v.lanewise(VectorOperators.LSHR, 5).and((short) 31), m1 = u.lanewise(VectorOperators.LSHR, 5).and((short) 31);
                l0 = (n1.mul(xq[x0 + c + 1])).add(l0);
                h0 = (m1.mul(xq[x0 + c + 17])).add(h0);
                l1 = (n1.mul(xq[x1 + c + 1])).add(l1);
                h1 = (m1.mul(xq[x1 + c + 17])).add(h1);
                ShortVector n2 = v.lanewise(VectorOperators.LSHR, 10), m2 = u.lanewise(VectorOperators.LSHR, 10);
                l0 = (n2.mul(xq[x0 + c + 2])).add(l0);
                h0 = (m2.mul(xq[x0 + c + 18])).add(h0);
                l1 = (n2.mul(xq[x1 + c + 2])).add(l1);
                h1 = (m2.mul(xq[x1 + c + 18])).add(h1);
            }
            ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * 5, LE)); // columns 15 and 31
            ShortVector n0 = v.and((short) 31), m0 = v.lanewise(VectorOperators.LSHR, 5);
            l0 = (n0.mul(xq[x0 + 32 * b + 15])).add(l0);
            h0 = (m0.mul(xq[x0 + 32 * b + 31])).add(h0);
            l1 = (n0.mul(xq[x1 + 32 * b + 15])).add(l1);
            h1 = (m0.mul(xq[x1 + 32 * b + 31])).add(h1);
            // the scales' f16 -> f32 in place, as Int8Kernels.q5
            ShortVector hs = SV.cast(ShortVector.fromMemorySegment(S, w, tile, LE));
            FloatVector f0 = F16_MAGIC.mul(IV.cast(hs.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector f1 = F16_MAGIC.mul(IV.cast(hs.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                    .and(0x8FFFFFFF).reinterpretAsFloats());
            FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
            FV.cast(SV.cast(l0).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(h0).convertShape(VectorOperators.S2F, F, 0))).mul(f0)
                    .fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
            FV.cast(SV.cast(l0).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(h0).convertShape(VectorOperators.S2F, F, 1))).mul(f1)
                    .fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
            FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
            FV.cast(SV.cast(l1).convertShape(VectorOperators.S2F, F, 0)).add(FV.cast(SV.cast(h1).convertShape(VectorOperators.S2F, F, 0))).mul(f0)
                    .fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
            FV.cast(SV.cast(l1).convertShape(VectorOperators.S2F, F, 1)).add(FV.cast(SV.cast(h1).convertShape(VectorOperators.S2F, F, 1))).mul(f1)
                    .fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
        }
    }

    /**
     * Two tokens (t, t + 1) of the Q6_K slice {@code sl} of the group at byte {@code g}, in {@link KQuantKernels#q6k}'s
     * one-slice arithmetic (the widths where it runs): per token and sub-tile four exact 16-bit sums of 8 columns (from the
     * start values −32·Σx), lo = 0 + the first sub-block's two in f32 and hi = 0 + the second's (exact integers), then
     * acc = (lo·(d·sa) + hi·(d·sb))·dx + acc, its operations in its order.
     *
     * <p>Register-only, and no accumulator chosen in a loop: the half loop is written out once per sub-block, the first
     * carrying lo's four sums, the second hi's. Earlier forms: a part loop choosing between the lo and hi accumulators
     * ({@code if (part == 0) lo… else hi…}) was the fastest (1.2–1.3× the f32 tile GEMM at 2–4 tokens) but now and then
     * compiled with the 16-bit sums' conversions as calls, boxing them (3.1 MB per 4-row step at 512 bits in about 1 JVM
     * of 10); each sub-block's sums handed over through the scratch by a method of their own was ~25 % slower (about
     * 0.9× the tile GEMM); one half loop carrying all 8 sums, or a part loop passing its sums on (lo ← hi ← s), measured
     * no faster than this, and all four halves written out (3746 bytecodes) made C1's profiled tier bail out
     * (docs/PERFORMANCE.md, "Q6_K few-token rows, register-only").
     */
    private static void q6kx2(MemorySegment w, long g, int sl, int nb, short[] xq, float[] xd, short[] bias, int cols, int t,
                              float[] acc) {
        Arrays.fill(acc, 0, 2 * PASS, 0f);
        final int nsb = nb / 8;
        final int x0 = t * cols, x1 = x0 + cols;
        final int d0 = t * nb, d1 = d0 + nb;
        for (int sb = 0; sb < nsb; sb++) {
            final long h = g + (long) sb * KQuantInterleaved.Q6K_SB + 4L * sl;
            final FloatVector da = FV.cast(FloatVector.fromMemorySegment(F, w, h, LE)), db = FV.cast(FloatVector.fromMemorySegment(F, w, h + 2 * L, LE));
            for (int j = 0; j < 8; j++) {
                final long tile = h - 2L * sl + KQuantInterleaved.Q6K_HEADER + (long) j * KQuantInterleaved.Q6K_SUB;
                final int b = 8 * sb + j, c = 32 * b, y0 = 4 * (d0 + b), y1 = 4 * (d1 + b);
                // sub-block 0 (columns 0..15) into lo, then the same loop written out again: sub-block 1 (16..31,
                // its weights 384 bytes further, its bias pair after lo's) into hi
                FloatVector lo0a = FloatVector.zero(F), lo0b = lo0a, lo1a = lo0a, lo1b = lo0a;
                for (int half = 0; half < 2; half++) { // only lo0a..lo1b are carried
                    final int c0 = x0 + c + 8 * half, c1 = x1 + c + 8 * half;
                    final long p = tile + 64 + 192L * half;
                    ShortVector p0 = ShortVector.broadcast(S, bias[y0 + half]);
                    ShortVector p1 = ShortVector.broadcast(S, bias[y1 + half]);
                    ShortVector w0 = SV.cast(ShortVector.fromMemorySegment(S, w, p, LE));
                    ShortVector w1 = SV.cast(ShortVector.fromMemorySegment(S, w, p + 64, LE));
                    ShortVector w2 = SV.cast(ShortVector.fromMemorySegment(S, w, p + 128, LE));
                    ShortVector q0 = w0.and((short) 63);
                    p0 = (q0.mul(xq[c0])).add(p0);
                    p1 = (q0.mul(xq[c1])).add(p1);
                    q0 = w0.lanewise(VectorOperators.LSHR, 6).and((short) 63);
                    p0 = (q0.mul(xq[c0 + 1])).add(p0);
                    p1 = (q0.mul(xq[c1 + 1])).add(p1);
                    q0 = w0.lanewise(VectorOperators.LSHR, 12).or(w2.lanewise(VectorOperators.LSHR, 8).and((short) 0x30));
                    p0 = (q0.mul(xq[c0 + 2])).add(p0);
                    p1 = (q0.mul(xq[c1 + 2])).add(p1);
                    q0 = w1.and((short) 63);
                    p0 = (q0.mul(xq[c0 + 3])).add(p0);
                    p1 = (q0.mul(xq[c1 + 3])).add(p1);
                    q0 = w1.lanewise(VectorOperators.LSHR, 6).and((short) 63);
                    p0 = (q0.mul(xq[c0 + 4])).add(p0);
                    p1 = (q0.mul(xq[c1 + 4])).add(p1);
                    q0 = w1.lanewise(VectorOperators.LSHR, 12).or(w2.lanewise(VectorOperators.LSHR, 10).and((short) 0x30));
                    p0 = (q0.mul(xq[c0 + 5])).add(p0);
                    p1 = (q0.mul(xq[c1 + 5])).add(p1);
                    q0 = w2.and((short) 63);
                    p0 = (q0.mul(xq[c0 + 6])).add(p0);
                    p1 = (q0.mul(xq[c1 + 6])).add(p1);
                    q0 = w2.lanewise(VectorOperators.LSHR, 6).and((short) 63);
                    p0 = (q0.mul(xq[c0 + 7])).add(p0);
                    p1 = (q0.mul(xq[c1 + 7])).add(p1);
                    lo0a = FV.cast(SV.cast(p0).convertShape(VectorOperators.S2F, F, 0)).add(lo0a);
                    lo0b = FV.cast(SV.cast(p0).convertShape(VectorOperators.S2F, F, 1)).add(lo0b);
                    lo1a = FV.cast(SV.cast(p1).convertShape(VectorOperators.S2F, F, 0)).add(lo1a);
                    lo1b = FV.cast(SV.cast(p1).convertShape(VectorOperators.S2F, F, 1)).add(lo1b);
                }
                                FloatVector hi0a = FloatVector.zero(F), hi0b = hi0a, hi1a = hi0a, hi1b = hi0a;
                for (int half = 0; half < 2; half++) { // only hi0a..hi1b are carried
                    final int c0 = x0 + c + 16 + 8 * half, c1 = x1 + c + 16 + 8 * half;
                    final long p = tile + 64 + 384 + 192L * half;
                    ShortVector p0 = ShortVector.broadcast(S, bias[y0 + 2 + half]);
                    ShortVector p1 = ShortVector.broadcast(S, bias[y1 + 2 + half]);
                    ShortVector w0 = SV.cast(ShortVector.fromMemorySegment(S, w, p, LE));
                    ShortVector w1 = SV.cast(ShortVector.fromMemorySegment(S, w, p + 64, LE));
                    ShortVector w2 = SV.cast(ShortVector.fromMemorySegment(S, w, p + 128, LE));
                    ShortVector q0 = w0.and((short) 63);
                    p0 = (q0.mul(xq[c0])).add(p0);
                    p1 = (q0.mul(xq[c1])).add(p1);
                    q0 = w0.lanewise(VectorOperators.LSHR, 6).and((short) 63);
                    p0 = (q0.mul(xq[c0 + 1])).add(p0);
                    p1 = (q0.mul(xq[c1 + 1])).add(p1);
                    q0 = w0.lanewise(VectorOperators.LSHR, 12).or(w2.lanewise(VectorOperators.LSHR, 8).and((short) 0x30));
                    p0 = (q0.mul(xq[c0 + 2])).add(p0);
                    p1 = (q0.mul(xq[c1 + 2])).add(p1);
                    q0 = w1.and((short) 63);
                    p0 = (q0.mul(xq[c0 + 3])).add(p0);
                    p1 = (q0.mul(xq[c1 + 3])).add(p1);
                    q0 = w1.lanewise(VectorOperators.LSHR, 6).and((short) 63);
                    p0 = (q0.mul(xq[c0 + 4])).add(p0);
                    p1 = (q0.mul(xq[c1 + 4])).add(p1);
                    q0 = w1.lanewise(VectorOperators.LSHR, 12).or(w2.lanewise(VectorOperators.LSHR, 10).and((short) 0x30));
                    p0 = (q0.mul(xq[c0 + 5])).add(p0);
                    p1 = (q0.mul(xq[c1 + 5])).add(p1);
                    q0 = w2.and((short) 63);
                    p0 = (q0.mul(xq[c0 + 6])).add(p0);
                    p1 = (q0.mul(xq[c1 + 6])).add(p1);
                    q0 = w2.lanewise(VectorOperators.LSHR, 6).and((short) 63);
                    p0 = (q0.mul(xq[c0 + 7])).add(p0);
                    p1 = (q0.mul(xq[c1 + 7])).add(p1);
                    hi0a = FV.cast(SV.cast(p0).convertShape(VectorOperators.S2F, F, 0)).add(hi0a);
                    hi0b = FV.cast(SV.cast(p0).convertShape(VectorOperators.S2F, F, 1)).add(hi0b);
                    hi1a = FV.cast(SV.cast(p1).convertShape(VectorOperators.S2F, F, 0)).add(hi1a);
                    hi1b = FV.cast(SV.cast(p1).convertShape(VectorOperators.S2F, F, 1)).add(hi1b);
                }
                ShortVector sm = SV.cast(ShortVector.fromMemorySegment(S, w, tile, LE));
                ShortVector s1 = sm.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 8), s2 = sm.lanewise(VectorOperators.ASHR, 8);
                FloatVector aa = da.mul(FV.cast(s1.convertShape(VectorOperators.S2F, F, 0))), ab = db.mul(FV.cast(s1.convertShape(VectorOperators.S2F, F, 1)));
                FloatVector ba = da.mul(FV.cast(s2.convertShape(VectorOperators.S2F, F, 0))), bb = db.mul(FV.cast(s2.convertShape(VectorOperators.S2F, F, 1)));
                FloatVector e0 = FloatVector.broadcast(F, xd[d0 + b]);
                FV.cast(lo0a).mul(aa).add(FV.cast(hi0a).mul(ba)).fma(e0, FloatVector.fromArray(F, acc, 0)).intoArray(acc, 0);
                FV.cast(lo0b).mul(ab).add(FV.cast(hi0b).mul(bb)).fma(e0, FloatVector.fromArray(F, acc, 0 + FL)).intoArray(acc, 0 + FL);
                FloatVector e1 = FloatVector.broadcast(F, xd[d1 + b]);
                FV.cast(lo1a).mul(aa).add(FV.cast(hi1a).mul(ba)).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS)).intoArray(acc, 1 * PASS);
                FV.cast(lo1b).mul(ab).add(FV.cast(hi1b).mul(bb)).fma(e1, FloatVector.fromArray(F, acc, 1 * PASS + FL)).intoArray(acc, 1 * PASS + FL);
            }
        }
    }
}
