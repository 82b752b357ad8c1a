package dev.jemma.core.tensor.attention;

import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.StableMath;
import dev.jemma.core.tensor.VectorOps;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Multi-head attention of a call's query rows over keys from a {@link KvView} (the layer's cache, another layer's,
 * or none) plus the call's own keys, under a {@link Visibility} (causal, sliding, symmetric, bidirectional, or
 * bidirectional within marked spans). The call's keys are kept apart from the cache until every query has attended,
 * so a ring cache of exactly {@code window} slots suffices however long the call is.
 *
 * <p>{@link #attend(ThreadPool, Scratch[], Visibility, KvView, float[], float[], int, int, int, int, int, int, float[], float[])}
 * is the production path: it attends the query heads that share a KV head (grouped-query attention), for a block of
 * consecutive tokens, together, so each key and value row is read once for up to {@link #TARGET_ROWS} query rows, and
 * the weighted sum of values is accumulated in registers instead of being loaded and stored once per key.
 * {@link #attendOne} (one query head of one token) is the plain reference it is tested against.
 *
 * <p>A loop over a range given by its last index runs {@code k < to + 1}, never {@code k <= to} (the ranges are key and
 * row indices: {@code to + 1} does not overflow). C2 (JDK 25) makes a counted loop of {@code for (k = from; k <= to; k++)}
 * with a {@code from} of unknown range only behind a loop-limit-check predicate {@code from < to}, since its entry test
 * {@code from <= to} does not prove it, and a one-element range fails that predicate; the form {@code k < to + 1} has
 * its entry test as the proof. In the kernels that predicate, or its copy hoisted out of the loop over the head
 * ({@code profile_predicate}), trapped the first time a range held one element: {@link #valueTile6} at a fresh server's
 * second wave, whose prompts run in chunks of 9 rows beside 7 decode rows so a six-row tile's last value block may hold
 * one key ({@code FirstWaveDriver} in the tests; 2 GB of boxed vectors until C2 compiled it again), the four-row tile,
 * the score tile and {@link #keysFrom} in the warm-up. C2 does not place the predicate again where one trapped, so the
 * recompiled loop was not a counted loop either.
 */
public final class Attention {
    private static final VectorSpecies<Float> F = VectorOps.F;
    /** Query rows (tokens × heads of a group) attended together; scores take rows × keys floats of scratch. */
    static final int TARGET_ROWS = 16;
    /** Rows of a sequence from which its own keys are scored from a {@link TransposedKeys} copy (see attend(Runs)). */
    static final int TRANSPOSED_MIN_ROWS = 16;
    /**
     * Head elements per fused multiply-add chain of a transposed score tile; the chains' sums are added in order. One
     * chain down a whole head of 256 rounds like a 256-term running sum: with peaked scores the outputs then moved ~7×
     * further from a double-precision reference than the row-major tile's (16 lanes of 16 terms and a lane sum), which
     * chains of 32 bring back to its level, at one load-add-store per accumulator per 32 steps.
     */
    static final int SCORE_DIMS = 32;
    /** Vector length in floats. */
    private static final int L = F.length();
    /**
     * Keys per pass of the value sum: small enough that a block's value rows, once read, stay in L1/L2 while the
     * tile walks them slice by slice (see {@link #touchRows}).
     */
    static final int VALUE_KEY_BLOCK = 32;
    /**
     * Value floats of one KV head's key range beyond which the value rows are assumed to come from DRAM (more than a
     * fair share of a shared L3; measured on a Zen 4 with 32 MB L3: ~8k keys of 256 at 16 k context took the value
     * pass from 1.5x slower than the per-head path to 1.1x faster, while touching an L3-resident range cost ~25%).
     */
    static final int DRAM_RANGE_FLOATS = 1 << 21;
    /**
     * Whether the 4 × 4 register tiles of {@link #scoreTile} and {@link #valueTile} fit the vector registers: 16
     * accumulators, 4 loaded vectors and a broadcast need 21, which AVX-512's 32 registers hold. Below 512 bits (16
     * registers on AVX2 and SSE) the tiles are 4 rows × 2 keys / 2 vectors ({@link #scoreTile2}, the value loop's
     * two-vector chunks) so nothing spills; every score and output element is the same sequence of operations, so the
     * same bits, either way.
     */
    static final boolean FOUR_BY_FOUR = F.length() >= 16;
    /** Whether prompts score their own keys from {@link TransposedKeys} (see attend(Runs)): at 512 bits. */
    static final boolean TRANSPOSED = FOUR_BY_FOUR && !Boolean.getBoolean("jemma.attention.rowMajor");
    /** The forms in use (see {@link #forms}): the defaults unless an A/B harness switches them. */
    private static volatile boolean transposedScores = TRANSPOSED, sixRowValues = FOUR_BY_FOUR;

    /**
     * For A/B harnesses that alternate forms call by call in one JVM (separate JVMs of the same code differ by ±15 % in
     * CPU on a loaded machine): transposed score tiles for prompts (only where {@link #TRANSPOSED}) and six-row value
     * tiles (only at 512 bits); {@code (true, true)} is the default. Results are the same either way within rounding.
     */
    public static void forms(boolean transposed, boolean sixRows) {
        transposedScores = transposed && TRANSPOSED;
        sixRowValues = sixRows && FOUR_BY_FOUR;
    }

    /**
     * Whether a sequence with at least {@value #TRANSPOSED_MIN_ROWS} rows in a call now scores its own keys from the
     * transposed copy: those scores sum a head's elements in chains of {@value #SCORE_DIMS}, the row-major tile's in
     * lanes and a lane sum, so a sequence cut into calls another way gets some scores rounded another way (tests that
     * compare such cuts bound that; with this false every cut gives the same bits).
     */
    public static boolean transposedScores() {
        return transposedScores;
    }
    @SuppressWarnings("unchecked")
    private static final Class<FloatVector> FV = (Class<FloatVector>) F.vectorType();

    private Attention() {
    }

    /** Per-thread scratch for {@link #attend}; grows on demand, so steady-state calls do not allocate. */
    public static final class Scratch {
        private float[] scores = new float[0];
        private int[] keyOffsets = new int[0];
        /**
         * A row-major score tile's accumulators (16 vectors) and then their lane sums ({@link #laneSums}): summed out of
         * line, because 16 {@link VectorOps#sum}s written into the tile passed C2's inlining budget and boxed them.
         */
        final float[] partial = new float[17 * L + 32];
        /** Where {@link #touchRows} sums go (a field the JIT cannot prove dead). */
        float sink;

        float[] scores(int n) {
            // grown geometrically: decoding needs one more key per token, which would otherwise mean a new array per step
            // + 32: 128 unused bytes at the end, so another thread's array placed right after it never shares a cache
            // line with what this one writes (false sharing cost prefill ~20 % in some processes, see Int8Gemm)
            if (scores.length < n) scores = new float[Math.max(n, 2 * scores.length) + 32];
            return scores;
        }

        int[] keyOffsets(int n) {
            if (keyOffsets.length < n) keyOffsets = new int[Math.max(n, 2 * keyOffsets.length) + 32];
            return keyOffsets;
        }

        /** Bytes this worker's buffers hold now. */
        public long bytes() {
            return 4L * scores.length + 4L * keyOffsets.length + 4L * partial.length;
        }
    }

    /**
     * The most {@link #scratch}{@code (threads)} grows to over calls that see at most {@code keys} keys with {@code group}
     * query heads per KV head: a worker's scores hold at most max(TARGET_ROWS, group) rows of {@code keys}, and an array
     * grows to at most twice what was asked plus 32 (see {@link Scratch#scores}).
     */
    public static long scratchBytes(int threads, int group, int keys) {
        return scratchBytesFixed(threads, group) + scratchBytesPerKey(threads, group) * keys;
    }

    /**
     * The part of {@link #scratchBytes} that does not grow with the keys: each array's 32-element pad, and the score
     * rows' margins (2 vectors per row, see attendGroup), twice over (growth).
     */
    public static long scratchBytesFixed(int threads, int group) {
        long rows = Math.max(TARGET_ROWS, group);
        return (long) threads * 4 * (32 + 32 + 2 * rows * 2 * L);
    }

    /** What {@link #scratchBytes} grows by per key a query sees: score rows and a key offset, twice over (growth). */
    public static long scratchBytesPerKey(int threads, int group) {
        long rows = Math.max(TARGET_ROWS, group);
        return (long) threads * 4 * (2 * rows + 2);
    }

    /** One scratch per pool thread. */
    public static Scratch[] scratch(int threads) {
        Scratch[] s = new Scratch[threads];
        for (int i = 0; i < threads; i++) s[i] = new Scratch();
        return s;
    }

    /**
     * Attends every query head of the rows [row0, row0 + count) of a call: one sequence's consecutive positions
     * {@code start…start+count-1}. {@code q} and {@code out} rows are heads·headDim floats (row t at
     * (row0 + t)·heads·headDim); {@code callK}/{@code callV} rows kvHeads·headDim (the call's own keys and values, not
     * in the cache, row t at (row0 + t)·kvDim). Query head h reads KV head h / (heads / kvHeads). Keys before
     * {@code start} come from {@code kv} (none: there are none); keys after a query, which non-causal visibilities
     * see, must be among the call's.
     */
    public static void attend(ThreadPool pool, Scratch[] scratch, Visibility vis, KvView kv, float[] q, float[] out,
                              int row0, int count, int start, int heads, int kvHeads, int headDim,
                              float[] callK, float[] callV) {
        if (kv.isNone() && vis.first(start) < start) {
            throw new IllegalArgumentException("no cache: the first row (position " + start + ") would see keys before the call");
        }
        final int group = heads / kvHeads, qDim = heads * headDim, kvDim = kvHeads * headDim;
        final int tokenBlock = tokenBlock(group);
        final int blocks = (count + tokenBlock - 1) / tokenBlock;
        final int end = start + count - 1;
        // Few tokens (decoding) would leave threads idle with one item per KV head: split the group's heads instead.
        final int split = Math.min(group, Math.max(1, ceilDiv(pool.threads(), blocks * kvHeads)));
        pool.parallelFor(blocks * kvHeads * split, (i0, i1, worker) -> {
            Scratch s = scratch[worker];
            for (int i = i0; i < i1; i++) {
                int part = i % split, kvHead = (i / split) % kvHeads, block = i / (split * kvHeads);
                int h0 = group * part / split, h1 = group * (part + 1) / split;
                int t0 = block * tokenBlock, t1 = Math.min(count, t0 + tokenBlock);
                int off = (row0 + t0) * qDim + (kvHead * group + h0) * headDim;
                attendGroup(vis, q, off, qDim, h1 - h0, start + t0, t1 - t0, end, kv, callK, callV,
                        start, row0, kvDim, kvHead, headDim, s, out, off);
            }
        });
    }

    /**
     * The sequences of one call, for {@link #attend(ThreadPool, Scratch[], Runs, float[], float[], int, int, int, float[], float[])}:
     * per sequence its visibility, keys before the call, first row and row count, and first position. Reused call after
     * call (it grows, never shrinks), so a forward allocates nothing for it.
     */
    public static final class Runs {
        private int size;
        private Visibility[] vis = new Visibility[4];
        private KvView[] kv = new KvView[4];
        private int[] row0 = new int[4], count = new int[4], start = new int[4], split = new int[4];
        /** Work items before each sequence's (prefix sums; [size] is the total). */
        private int[] firstItem = new int[5];
        /** The call's keys transposed, for sequences of at least {@link #TRANSPOSED_MIN_ROWS} rows. */
        private final TransposedKeys keysT = new TransposedKeys();

        /** Bytes this holds beyond a few small arrays: the transposed keys. */
        public long bytes() {
            return keysT.bytes();
        }

        /** The most {@link #bytes} grows to for calls of at most {@code rows} rows of {@code kvDim} floats. */
        public static long bytes(int rows, int kvDim) {
            return TransposedKeys.bytes(rows, kvDim);
        }

        public void clear() {
            size = 0;
        }

        public int size() {
            return size;
        }

        /** Adds a sequence: rows [row0, row0 + count) of the call at positions start…, keys before the call from {@code kv}. */
        public void add(Visibility v, KvView k, int firstRow, int rows, int firstPosition) {
            if (size == row0.length) {
                int n = 2 * size;
                vis = java.util.Arrays.copyOf(vis, n);
                kv = java.util.Arrays.copyOf(kv, n);
                row0 = java.util.Arrays.copyOf(row0, n);
                count = java.util.Arrays.copyOf(count, n);
                start = java.util.Arrays.copyOf(start, n);
                split = java.util.Arrays.copyOf(split, n);
                firstItem = java.util.Arrays.copyOf(firstItem, n + 1);
            }
            if (k.isNone() && v.first(firstPosition) < firstPosition) {
                throw new IllegalArgumentException("no cache: the first row (position " + firstPosition + ") would see keys before the call");
            }
            vis[size] = v;
            kv[size] = k;
            row0[size] = firstRow;
            count[size] = rows;
            start[size] = firstPosition;
            size++;
        }

        /** The sequence whose items include {@code item} (binary search over the prefix sums). */
        private int runOf(int item) {
            int lo = 0, hi = size - 1;
            while (lo < hi) {
                int mid = (lo + hi + 1) >>> 1;
                if (firstItem[mid] <= item) lo = mid;
                else hi = mid - 1;
            }
            return lo;
        }
    }

    /**
     * Every sequence of {@code runs} in one loop over the pool: each is split exactly as
     * {@link #attend(ThreadPool, Scratch[], Visibility, KvView, float[], float[], int, int, int, int, int, int, float[], float[])}
     * splits it alone (same items, same results), but the items of all of them are shared out together, so a batch of
     * many short texts costs one hand-off per layer instead of one per text, and the threads balance over all the items
     * instead of within each text's few.
     */
    public static void attend(ThreadPool pool, Scratch[] scratch, Runs runs, float[] q, float[] out,
                              int heads, int kvHeads, int headDim, float[] callK, float[] callV) {
        if (runs.size == 0) return;
        final int group = heads / kvHeads, qDim = heads * headDim, kvDim = kvHeads * headDim;
        final int tb = tokenBlock(group);
        int items = 0;
        for (int i = 0; i < runs.size; i++) {
            int blocks = (runs.count[i] + tb - 1) / tb;
            runs.split[i] = Math.min(group, Math.max(1, ceilDiv(pool.threads(), blocks * kvHeads)));
            runs.firstItem[i] = items;
            items += blocks * kvHeads * runs.split[i];
        }
        runs.firstItem[runs.size] = items;
        // prompts and texts (a sequence of ≥ 16 rows) score their own keys from a transposed copy; decode steps' single
        // rows keep the row-major tile, so a sequence decoded alone or in a batch sums its scores the same way. Only at
        // 512 bits: below, a 4 × 2 transposed tile needs 4 broadcasts per 8 multiply-adds, and measured 3–5 % slower per
        // item than the row-major 4 × 2 tile, whose lane sums cost less at 8 or 4 lanes (AttentionItemHarness, 256 bits)
        int callRows = 0;
        boolean transpose = false;
        for (int i = 0; i < runs.size; i++) {
            callRows = Math.max(callRows, runs.row0[i] + runs.count[i]);
            transpose |= transposedScores && runs.count[i] >= TRANSPOSED_MIN_ROWS;
        }
        if (transpose) runs.keysT.build(pool, callK, callRows, kvHeads, headDim);
        final TransposedKeys kt = transpose ? runs.keysT : null;
        // items claimed one by one: a prompt's are ~65 µs each (5 tokens × 3 heads over 512 keys, EmbeddingGemma), where
        // the default eight chunks per thread made each claim ~13 items (~0.4 ms at 1 thread), so the threads finished up
        // to that far apart; both-ends claiming keeps each thread's items contiguous all the same
        pool.parallelFor(items, (i0, i1, worker) -> {
            Scratch s = scratch[worker];
            int run = runs.runOf(i0);
            for (int i = i0; i < i1; i++) {
                while (i >= runs.firstItem[run + 1]) run++;
                int j = i - runs.firstItem[run], split = runs.split[run], count = runs.count[run], start = runs.start[run];
                int row0 = runs.row0[run];
                int part = j % split, kvHead = (j / split) % kvHeads, block = j / (split * kvHeads);
                int h0 = group * part / split, h1 = group * (part + 1) / split;
                int t0 = block * tb, t1 = Math.min(count, t0 + tb);
                int off = (row0 + t0) * qDim + (kvHead * group + h0) * headDim;
                attendGroup(runs.vis[run], q, off, qDim, h1 - h0, start + t0, t1 - t0, start + count - 1, runs.kv[run],
                        callK, callV, start, row0, kvDim, kvHead, headDim, s, out, off,
                        kt != null && count >= TRANSPOSED_MIN_ROWS ? kt : null);
            }
        }, items);
    }

    /**
     * Tokens per work item for {@code group} query heads per KV head: as many as fit {@link #TARGET_ROWS} query rows,
     * fewer where that makes the rows fill whole 4-row tiles ({@link #scoreTile}, {@link #valueTile}). A group of 3
     * (EmbeddingGemma: 3 heads, 1 KV head) took 5 tokens, 15 rows, so every item's last tile computed a clamped copy of
     * its last row: 1/16 of the score and value work thrown away; 4 tokens (12 rows) fill three tiles. Groups of 1, 2,
     * 4, 8 and 16 (every other Gemma) keep their 16 rows.
     */
    static int tokenBlock(int group) {
        int most = Math.max(1, TARGET_ROWS / group);
        for (int t = most; t >= 1; t--) {
            if (t * group % 4 == 0) return t;
        }
        return most;
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /**
     * Attends {@code tokens × heads} query rows that all read KV head {@code kvHead}: row (t, h) is at
     * {@code q[qOff + t·rowStride + h·headDim ..]}, has position {@code firstPos + t}, and its result goes to the
     * same place in {@code out} (offset {@code outOff}). The call's keys are positions [callStart, end], row
     * {@code callRow0} of {@code callK} / {@code callV} holding callStart.
     */
    static void attendGroup(Visibility vis, float[] q, int qOff, int rowStride, int heads, int firstPos, int tokens,
                            int end, KvView kv, float[] callK, float[] callV, int callStart, int callRow0,
                            int kvDim, int kvHead, int headDim, Scratch scratch, float[] out, int outOff) {
        attendGroup(vis, q, qOff, rowStride, heads, firstPos, tokens, end, kv, callK, callV, callStart, callRow0, kvDim,
                kvHead, headDim, scratch, out, outOff, null);
    }

    /**
     * {@link #attendGroup(Visibility, float[], int, int, int, int, int, int, KvView, float[], float[], int, int, int, int, int, Scratch, float[], int)}
     * with the call's keys also in {@code kt} (null: none), from which the scores over the call's keys are computed.
     */
    static void attendGroup(Visibility vis, float[] q, int qOff, int rowStride, int heads, int firstPos, int tokens,
                            int end, KvView kv, float[] callK, float[] callV, int callStart, int callRow0,
                            int kvDim, int kvHead, int headDim, Scratch scratch, float[] out, int outOff,
                            TransposedKeys kt) {
        int rows = tokens * heads;
        int lo = Integer.MAX_VALUE, hi = Integer.MIN_VALUE;
        for (int t = 0; t < tokens; t++) {
            lo = Math.min(lo, vis.first(firstPos + t));
            hi = Math.max(hi, vis.last(firstPos + t, end));
        }
        int nKeys = hi - lo + 1;
        // a row's scores for key k (relative to lo) at [row·pStride + L + k]: the transposed tiles write whole vectors
        // from aligned columns, up to L − 1 slots either side of a tile's keys, into the margins (never read)
        final int pStride = nKeys + 2 * L, pShift = L;
        float[] scores = scratch.scores(rows * pStride);
        int[] keyOff = scratch.keyOffsets(nKeys);
        // the cache's ring offset (a division) is computed once per key here, not once per key per row tile
        for (int j = lo; j < hi + 1; j++) {
            keyOff[j - lo] = (j >= callStart ? (j - callStart + callRow0) * kvDim : kv.offset(j)) + kvHead * headDim;
        }
        float[] ck = kv.keys(), cv = kv.values();
        boolean fromDram = (long) nKeys * headDim > DRAM_RANGE_FLOATS;
        // keys [firstT, nKeys) are scored from the transposed copy (the call's keys), the rest row-major; call key k is
        // column k + colShift of the copy
        final int firstT = kt == null ? nKeys : Math.max(0, callStart - lo), colShift = callRow0 + lo - callStart;
        // the call's keys for every row at once (the item's whole range: a row tile's own range is at most a few keys
        // narrower), first: its margin slots may overwrite row-major scores' slots, which the tiles below then write
        if (firstT < nKeys) {
            scoreRowsT(q, qOff, rowStride, heads, headDim, rows, kt, kvHead, firstT + colShift, nKeys - 1 + colShift,
                    scores, pStride, pShift - colShift);
        }
        for (int r = 0; r < rows; r += 4) {
            int last = Math.min(r + 3, rows - 1);
            // keys any row of the tile sees; rows see the subset their own position and visibility allow
            int from = Integer.MAX_VALUE, to = Integer.MIN_VALUE;
            for (int row = r; row < last + 1; row++) {
                int pos = firstPos + row / heads;
                from = Math.min(from, vis.first(pos) - lo);
                to = Math.max(to, vis.last(pos, end) - lo);
            }
            if (from < firstT) {
                int rmTo = Math.min(to, firstT - 1);
                if (FOUR_BY_FOUR) scoreTile(q, qOff, rowStride, heads, headDim, r, rows, ck, callK, callStart - lo, keyOff, from,
                        rmTo, scores, pStride, pShift, scratch.partial);
                else scoreTile2(q, qOff, rowStride, heads, headDim, r, rows, ck, callK, callStart - lo, keyOff, from, rmTo,
                        scores, pStride, pShift, scratch.partial);
            }
            for (int row = r; row < last + 1; row++) {
                int pos = firstPos + row / heads;
                // zeroes every key of the group's range a row does not see, so a value tile may span any rows
                softmax(scores, row * pStride + pShift, vis.first(pos) - lo, vis.last(pos, end) - lo, 0, nKeys - 1);
            }
        }
        for (int row = 0; row < rows; row++) {
            int o = rowOffset(outOff, rowStride, heads, headDim, row);
            java.util.Arrays.fill(out, o, o + headDim, 0f);
        }
        int r = 0;
        // 512 bits: six rows per value tile (24 accumulators of AVX-512's 32 registers) while six remain, then four
        final boolean six = sixRowValues;
        for (; six && r + 6 <= rows; r += 6) {
            int from = keysFrom(vis, firstPos, heads, r, r + 5) - lo, to = keysTo(vis, firstPos, heads, r, r + 5, end) - lo;
            for (int k = from; k < to + 1; k += VALUE_KEY_BLOCK) {
                int kEnd = Math.min(to, k + VALUE_KEY_BLOCK - 1);
                if (fromDram) scratch.sink += touchRows(cv, callV, callStart - lo, keyOff, k, kEnd, headDim);
                valueTile6(cv, callV, callStart - lo, keyOff, k, kEnd, scores, pStride, pShift, r, heads, headDim, out,
                        outOff, rowStride, kvDim);
            }
        }
        for (; r < rows; r += 4) {
            int last = Math.min(r + 3, rows - 1);
            int from = keysFrom(vis, firstPos, heads, r, last) - lo, to = keysTo(vis, firstPos, heads, r, last, end) - lo;
            for (int k = from; k < to + 1; k += VALUE_KEY_BLOCK) {
                int kEnd = Math.min(to, k + VALUE_KEY_BLOCK - 1);
                if (fromDram) scratch.sink += touchRows(cv, callV, callStart - lo, keyOff, k, kEnd, headDim);
                valueTile(cv, callV, callStart - lo, keyOff, k, kEnd, scores, pStride, pShift, r, rows, heads, headDim, out,
                        outOff, rowStride, kvDim);
            }
        }
    }

    /** The first key any of rows [r, last] sees. */
    private static int keysFrom(Visibility vis, int firstPos, int heads, int r, int last) {
        int from = Integer.MAX_VALUE;
        for (int row = r; row < last + 1; row++) from = Math.min(from, vis.first(firstPos + row / heads));
        return from;
    }

    /** The last key any of rows [r, last] sees. */
    private static int keysTo(Visibility vis, int firstPos, int heads, int r, int last, int end) {
        int to = Integer.MIN_VALUE;
        for (int row = r; row < last + 1; row++) to = Math.max(to, vis.last(firstPos + row / heads, end));
        return to;
    }

    /**
     * scores[row][c + slot0] = q_row · K_c for every row of the item and the call's keys in columns [cFrom, cTo] of
     * {@code kt}, whole vectors of keys from the aligned column at or below cFrom to the one past cTo (the extra slots
     * land in the score rows' margins or on keys the softmax then zeroes). Each dimension of the head is one broadcast
     * query element per row times one loaded vector of keys per accumulator, so a score needs no lane sum: it is the
     * sum, in order, of chains of fused multiply-adds over {@link #SCORE_DIMS} consecutive dimensions, the same chains
     * whichever tile width computes it, so a score's bits do not depend on where its key falls among the vectors.
     */
    private static void scoreRowsT(float[] q, int qOff, int rowStride, int heads, int headDim, int rows,
                                   TransposedKeys kt, int kvHead, int cFrom, int cTo,
                                   float[] scores, int pStride, int slot0) {
        final int P = TransposedKeys.PANEL;
        int c = cFrom / L * L, cEnd = (cTo + L) / L * L;
        // whole panels take the widest tile (512 bits: 4 rows × 4 key vectors, 16 accumulators, 4 loads and a broadcast;
        // below, 4 × 2 fits 16 registers), the ragged ends narrower ones within their panel
        while (c < cEnd) {
            int vectors = c % P == 0 && c + P <= cEnd ? P / L : FOUR_BY_FOUR && c % (2 * L) == 0 && c + 2 * L <= cEnd ? 2 : 1;
            scoreColumnsT(q, qOff, rowStride, heads, headDim, rows, kt, kvHead, c, vectors, scores, pStride, slot0);
            c += vectors * L;
        }
    }

    /**
     * Scores of every row over the {@code vectors} key vectors from column {@code c}: a block of {@link #SCORE_DIMS}
     * dimensions of those keys (8 KB at 512 bits, contiguous) is read once and used by every 4-row tile while in L1.
     */
    private static void scoreColumnsT(float[] q, int qOff, int rowStride, int heads, int headDim, int rows,
                                      TransposedKeys kt, int kvHead, int c, int vectors,
                                      float[] scores, int pStride, int slot0) {
        final float[] k = kt.keys();
        for (int d0 = 0; d0 < headDim; d0 += SCORE_DIMS) {
            int ko = kt.at(kvHead, c, d0);
            for (int r = 0; r < rows; r += 4) {
                int r1 = Math.min(r + 1, rows - 1), r2 = Math.min(r + 2, rows - 1), r3 = Math.min(r + 3, rows - 1);
                int qo0 = rowOffset(qOff, rowStride, heads, headDim, r), qo1 = rowOffset(qOff, rowStride, heads, headDim, r1);
                int qo2 = rowOffset(qOff, rowStride, heads, headDim, r2), qo3 = rowOffset(qOff, rowStride, heads, headDim, r3);
                int s0 = r * pStride + slot0 + c, s1 = r1 * pStride + slot0 + c, s2 = r2 * pStride + slot0 + c, s3 = r3 * pStride + slot0 + c;
                int real = Math.min(4, rows - r);
                if (vectors == 4) scoreT4x4(q, qo0, qo1, qo2, qo3, headDim, k, ko, scores, s0, s1, s2, s3, real, d0);
                else if (vectors == 2) scoreT4x2(q, qo0, qo1, qo2, qo3, headDim, k, ko, scores, s0, s1, s2, s3, real, d0);
                else scoreT4x1(q, qo0, qo1, qo2, qo3, headDim, k, ko, scores, s0, s1, s2, s3, real, d0);
            }
        }
    }

    private static void scoreT4x4(float[] q, int qo0, int qo1, int qo2, int qo3, int headDim, float[] kt,
                                  int ko, float[] s, int s0, int s1, int s2, int s3, int real, int d0) {
        final FloatVector z = FloatVector.zero(F);
        {
            FloatVector c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z, c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
            // o = kb + d·PANEL: an index linear in the loop variable, so C2 range-checks the loads once per loop
            int dEnd = Math.min(headDim, d0 + SCORE_DIMS), kb = ko - d0 * TransposedKeys.PANEL;
            for (int d = d0; d < dEnd; d++) {
                int o = kb + d * TransposedKeys.PANEL;
                FloatVector k0 = FloatVector.fromArray(F, kt, o), k1 = FloatVector.fromArray(F, kt, o + L), k2 = FloatVector.fromArray(F, kt, o + 2 * L), k3 = FloatVector.fromArray(F, kt, o + 3 * L);
                FloatVector b;
                b = FloatVector.broadcast(F, q[qo0 + d]);
                c00 = k0.fma(b, c00);
                c01 = k1.fma(b, c01);
                c02 = k2.fma(b, c02);
                c03 = k3.fma(b, c03);
                b = FloatVector.broadcast(F, q[qo1 + d]);
                c10 = k0.fma(b, c10);
                c11 = k1.fma(b, c11);
                c12 = k2.fma(b, c12);
                c13 = k3.fma(b, c13);
                b = FloatVector.broadcast(F, q[qo2 + d]);
                c20 = k0.fma(b, c20);
                c21 = k1.fma(b, c21);
                c22 = k2.fma(b, c22);
                c23 = k3.fma(b, c23);
                b = FloatVector.broadcast(F, q[qo3 + d]);
                c30 = k0.fma(b, c30);
                c31 = k1.fma(b, c31);
                c32 = k2.fma(b, c32);
                c33 = k3.fma(b, c33);
            }
            // a clamped row (past the last real one) aliases a real row's slots: adding it too would count it twice
            if (d0 == 0) {
                if (real > 3) FV.cast(c30).intoArray(s, s3);
                if (real > 3) FV.cast(c31).intoArray(s, s3 + L);
                if (real > 3) FV.cast(c32).intoArray(s, s3 + 2 * L);
                if (real > 3) FV.cast(c33).intoArray(s, s3 + 3 * L);
                if (real > 2) FV.cast(c20).intoArray(s, s2);
                if (real > 2) FV.cast(c21).intoArray(s, s2 + L);
                if (real > 2) FV.cast(c22).intoArray(s, s2 + 2 * L);
                if (real > 2) FV.cast(c23).intoArray(s, s2 + 3 * L);
                if (real > 1) FV.cast(c10).intoArray(s, s1);
                if (real > 1) FV.cast(c11).intoArray(s, s1 + L);
                if (real > 1) FV.cast(c12).intoArray(s, s1 + 2 * L);
                if (real > 1) FV.cast(c13).intoArray(s, s1 + 3 * L);
                FV.cast(c00).intoArray(s, s0);
                FV.cast(c01).intoArray(s, s0 + L);
                FV.cast(c02).intoArray(s, s0 + 2 * L);
                FV.cast(c03).intoArray(s, s0 + 3 * L);
            } else {
                if (real > 3) FloatVector.fromArray(F, s, s3).add(FV.cast(c30)).intoArray(s, s3);
                if (real > 3) FloatVector.fromArray(F, s, s3 + L).add(FV.cast(c31)).intoArray(s, s3 + L);
                if (real > 3) FloatVector.fromArray(F, s, s3 + 2 * L).add(FV.cast(c32)).intoArray(s, s3 + 2 * L);
                if (real > 3) FloatVector.fromArray(F, s, s3 + 3 * L).add(FV.cast(c33)).intoArray(s, s3 + 3 * L);
                if (real > 2) FloatVector.fromArray(F, s, s2).add(FV.cast(c20)).intoArray(s, s2);
                if (real > 2) FloatVector.fromArray(F, s, s2 + L).add(FV.cast(c21)).intoArray(s, s2 + L);
                if (real > 2) FloatVector.fromArray(F, s, s2 + 2 * L).add(FV.cast(c22)).intoArray(s, s2 + 2 * L);
                if (real > 2) FloatVector.fromArray(F, s, s2 + 3 * L).add(FV.cast(c23)).intoArray(s, s2 + 3 * L);
                if (real > 1) FloatVector.fromArray(F, s, s1).add(FV.cast(c10)).intoArray(s, s1);
                if (real > 1) FloatVector.fromArray(F, s, s1 + L).add(FV.cast(c11)).intoArray(s, s1 + L);
                if (real > 1) FloatVector.fromArray(F, s, s1 + 2 * L).add(FV.cast(c12)).intoArray(s, s1 + 2 * L);
                if (real > 1) FloatVector.fromArray(F, s, s1 + 3 * L).add(FV.cast(c13)).intoArray(s, s1 + 3 * L);
                FloatVector.fromArray(F, s, s0).add(FV.cast(c00)).intoArray(s, s0);
                FloatVector.fromArray(F, s, s0 + L).add(FV.cast(c01)).intoArray(s, s0 + L);
                FloatVector.fromArray(F, s, s0 + 2 * L).add(FV.cast(c02)).intoArray(s, s0 + 2 * L);
                FloatVector.fromArray(F, s, s0 + 3 * L).add(FV.cast(c03)).intoArray(s, s0 + 3 * L);
            }
        }
    }

    private static void scoreT4x2(float[] q, int qo0, int qo1, int qo2, int qo3, int headDim, float[] kt,
                                  int ko, float[] s, int s0, int s1, int s2, int s3, int real, int d0) {
        final FloatVector z = FloatVector.zero(F);
        {
            FloatVector c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
            // o = kb + d·PANEL: an index linear in the loop variable, so C2 range-checks the loads once per loop
            int dEnd = Math.min(headDim, d0 + SCORE_DIMS), kb = ko - d0 * TransposedKeys.PANEL;
            for (int d = d0; d < dEnd; d++) {
                int o = kb + d * TransposedKeys.PANEL;
                FloatVector k0 = FloatVector.fromArray(F, kt, o), k1 = FloatVector.fromArray(F, kt, o + L);
                FloatVector b;
                b = FloatVector.broadcast(F, q[qo0 + d]);
                c00 = k0.fma(b, c00);
                c01 = k1.fma(b, c01);
                b = FloatVector.broadcast(F, q[qo1 + d]);
                c10 = k0.fma(b, c10);
                c11 = k1.fma(b, c11);
                b = FloatVector.broadcast(F, q[qo2 + d]);
                c20 = k0.fma(b, c20);
                c21 = k1.fma(b, c21);
                b = FloatVector.broadcast(F, q[qo3 + d]);
                c30 = k0.fma(b, c30);
                c31 = k1.fma(b, c31);
            }
            // a clamped row (past the last real one) aliases a real row's slots: adding it too would count it twice
            if (d0 == 0) {
                if (real > 3) FV.cast(c30).intoArray(s, s3);
                if (real > 3) FV.cast(c31).intoArray(s, s3 + L);
                if (real > 2) FV.cast(c20).intoArray(s, s2);
                if (real > 2) FV.cast(c21).intoArray(s, s2 + L);
                if (real > 1) FV.cast(c10).intoArray(s, s1);
                if (real > 1) FV.cast(c11).intoArray(s, s1 + L);
                FV.cast(c00).intoArray(s, s0);
                FV.cast(c01).intoArray(s, s0 + L);
            } else {
                if (real > 3) FloatVector.fromArray(F, s, s3).add(FV.cast(c30)).intoArray(s, s3);
                if (real > 3) FloatVector.fromArray(F, s, s3 + L).add(FV.cast(c31)).intoArray(s, s3 + L);
                if (real > 2) FloatVector.fromArray(F, s, s2).add(FV.cast(c20)).intoArray(s, s2);
                if (real > 2) FloatVector.fromArray(F, s, s2 + L).add(FV.cast(c21)).intoArray(s, s2 + L);
                if (real > 1) FloatVector.fromArray(F, s, s1).add(FV.cast(c10)).intoArray(s, s1);
                if (real > 1) FloatVector.fromArray(F, s, s1 + L).add(FV.cast(c11)).intoArray(s, s1 + L);
                FloatVector.fromArray(F, s, s0).add(FV.cast(c00)).intoArray(s, s0);
                FloatVector.fromArray(F, s, s0 + L).add(FV.cast(c01)).intoArray(s, s0 + L);
            }
        }
    }

    private static void scoreT4x1(float[] q, int qo0, int qo1, int qo2, int qo3, int headDim, float[] kt,
                                  int ko, float[] s, int s0, int s1, int s2, int s3, int real, int d0) {
        final FloatVector z = FloatVector.zero(F);
        {
            FloatVector c0 = z, c1 = z, c2 = z, c3 = z;
            // o = kb + d·PANEL: an index linear in the loop variable, so C2 range-checks the loads once per loop
            int dEnd = Math.min(headDim, d0 + SCORE_DIMS), kb = ko - d0 * TransposedKeys.PANEL;
            for (int d = d0; d < dEnd; d++) {
                int o = kb + d * TransposedKeys.PANEL;
                FloatVector k0 = FloatVector.fromArray(F, kt, o);
                FloatVector b;
                b = FloatVector.broadcast(F, q[qo0 + d]);
                c0 = k0.fma(b, c0);
                b = FloatVector.broadcast(F, q[qo1 + d]);
                c1 = k0.fma(b, c1);
                b = FloatVector.broadcast(F, q[qo2 + d]);
                c2 = k0.fma(b, c2);
                b = FloatVector.broadcast(F, q[qo3 + d]);
                c3 = k0.fma(b, c3);
            }
            // a clamped row (past the last real one) aliases a real row's slots: adding it too would count it twice
            if (d0 == 0) {
                if (real > 3) FV.cast(c3).intoArray(s, s3);
                if (real > 2) FV.cast(c2).intoArray(s, s2);
                if (real > 1) FV.cast(c1).intoArray(s, s1);
                FV.cast(c0).intoArray(s, s0);
            } else {
                if (real > 3) FloatVector.fromArray(F, s, s3).add(FV.cast(c3)).intoArray(s, s3);
                if (real > 2) FloatVector.fromArray(F, s, s2).add(FV.cast(c2)).intoArray(s, s2);
                if (real > 1) FloatVector.fromArray(F, s, s1).add(FV.cast(c1)).intoArray(s, s1);
                FloatVector.fromArray(F, s, s0).add(FV.cast(c0)).intoArray(s, s0);
            }
        }
    }

    /**
     * scores[row][k] = q_row · K_k for rows [r, r+4) and keys [from, to], four rows by four keys at a time so each
     * loaded key chunk serves four rows and each query chunk four keys. Rows and keys past the end are clamped to the
     * last one (recomputing and rewriting the same value) rather than handled by separate remainder loops.
     * Key index k (relative to the group's first key) is in the batch from {@code batchFrom} on.
     */
    private static void scoreTile(float[] q, int qOff, int rowStride, int heads, int headDim, int r, int rows,
                                  float[] ck, float[] bk, int batchFrom, int[] keyOff, int from, int to,
                                  float[] scores, int pStride, int pShift, float[] part) {
        int r1 = Math.min(r + 1, rows - 1), r2 = Math.min(r + 2, rows - 1), r3 = Math.min(r + 3, rows - 1);
        int qo0 = rowOffset(qOff, rowStride, heads, headDim, r), qo1 = rowOffset(qOff, rowStride, heads, headDim, r1);
        int qo2 = rowOffset(qOff, rowStride, heads, headDim, r2), qo3 = rowOffset(qOff, rowStride, heads, headDim, r3);
        int s0 = r * pStride + pShift, s1 = r1 * pStride + pShift, s2 = r2 * pStride + pShift, s3 = r3 * pStride + pShift;
        int step = F.length(), bound = F.loopBound(headDim);
        for (int k = from; k < to + 1; k += 4) {
            int k1 = Math.min(k + 1, to), k2 = Math.min(k + 2, to), k3 = Math.min(k + 3, to);
            float[] a0 = k >= batchFrom ? bk : ck, a1 = k1 >= batchFrom ? bk : ck;
            float[] a2 = k2 >= batchFrom ? bk : ck, a3 = k3 >= batchFrom ? bk : ck;
            int o0 = keyOff[k], o1 = keyOff[k1], o2 = keyOff[k2], o3 = keyOff[k3];
            FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
            FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
            FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
            FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
            for (int d = 0; d < bound; d += step) {
                FloatVector k0v = FloatVector.fromArray(F, a0, o0 + d), k1v = FloatVector.fromArray(F, a1, o1 + d);
                FloatVector k2v = FloatVector.fromArray(F, a2, o2 + d), k3v = FloatVector.fromArray(F, a3, o3 + d);
                FloatVector q0 = FloatVector.fromArray(F, q, qo0 + d);
                c00 = q0.fma(k0v, c00);
                c01 = q0.fma(k1v, c01);
                c02 = q0.fma(k2v, c02);
                c03 = q0.fma(k3v, c03);
                FloatVector q1 = FloatVector.fromArray(F, q, qo1 + d);
                c10 = q1.fma(k0v, c10);
                c11 = q1.fma(k1v, c11);
                c12 = q1.fma(k2v, c12);
                c13 = q1.fma(k3v, c13);
                FloatVector q2 = FloatVector.fromArray(F, q, qo2 + d);
                c20 = q2.fma(k0v, c20);
                c21 = q2.fma(k1v, c21);
                c22 = q2.fma(k2v, c22);
                c23 = q2.fma(k3v, c23);
                FloatVector q3 = FloatVector.fromArray(F, q, qo3 + d);
                c30 = q3.fma(k0v, c30);
                c31 = q3.fma(k1v, c31);
                c32 = q3.fma(k2v, c32);
                c33 = q3.fma(k3v, c33);
            }
            // keys k1..k3 may be clamped copies of k: they then write the same slot with the same value
            FV.cast(c00).intoArray(part, 0);
            FV.cast(c01).intoArray(part, L);
            FV.cast(c02).intoArray(part, 2 * L);
            FV.cast(c03).intoArray(part, 3 * L);
            FV.cast(c10).intoArray(part, 4 * L);
            FV.cast(c11).intoArray(part, 5 * L);
            FV.cast(c12).intoArray(part, 6 * L);
            FV.cast(c13).intoArray(part, 7 * L);
            FV.cast(c20).intoArray(part, 8 * L);
            FV.cast(c21).intoArray(part, 9 * L);
            FV.cast(c22).intoArray(part, 10 * L);
            FV.cast(c23).intoArray(part, 11 * L);
            FV.cast(c30).intoArray(part, 12 * L);
            FV.cast(c31).intoArray(part, 13 * L);
            FV.cast(c32).intoArray(part, 14 * L);
            FV.cast(c33).intoArray(part, 15 * L);
            laneSums(part, 16);
            scores[s0 + k] = part[16 * L + 0] + tailDot(q, qo0, a0, o0, bound, headDim);
            scores[s0 + k1] = part[16 * L + 1] + tailDot(q, qo0, a1, o1, bound, headDim);
            scores[s0 + k2] = part[16 * L + 2] + tailDot(q, qo0, a2, o2, bound, headDim);
            scores[s0 + k3] = part[16 * L + 3] + tailDot(q, qo0, a3, o3, bound, headDim);
            scores[s1 + k] = part[16 * L + 4] + tailDot(q, qo1, a0, o0, bound, headDim);
            scores[s1 + k1] = part[16 * L + 5] + tailDot(q, qo1, a1, o1, bound, headDim);
            scores[s1 + k2] = part[16 * L + 6] + tailDot(q, qo1, a2, o2, bound, headDim);
            scores[s1 + k3] = part[16 * L + 7] + tailDot(q, qo1, a3, o3, bound, headDim);
            scores[s2 + k] = part[16 * L + 8] + tailDot(q, qo2, a0, o0, bound, headDim);
            scores[s2 + k1] = part[16 * L + 9] + tailDot(q, qo2, a1, o1, bound, headDim);
            scores[s2 + k2] = part[16 * L + 10] + tailDot(q, qo2, a2, o2, bound, headDim);
            scores[s2 + k3] = part[16 * L + 11] + tailDot(q, qo2, a3, o3, bound, headDim);
            scores[s3 + k] = part[16 * L + 12] + tailDot(q, qo3, a0, o0, bound, headDim);
            scores[s3 + k1] = part[16 * L + 13] + tailDot(q, qo3, a1, o1, bound, headDim);
            scores[s3 + k2] = part[16 * L + 14] + tailDot(q, qo3, a2, o2, bound, headDim);
            scores[s3 + k3] = part[16 * L + 15] + tailDot(q, qo3, a3, o3, bound, headDim);
        }
    }

    /** {@link #scoreTile} two keys at a time (8 accumulators): for 16 vector registers. Same scores, bit for bit. */
    private static void scoreTile2(float[] q, int qOff, int rowStride, int heads, int headDim, int r, int rows,
                                   float[] ck, float[] bk, int batchFrom, int[] keyOff, int from, int to,
                                   float[] scores, int pStride, int pShift, float[] part) {
        int r1 = Math.min(r + 1, rows - 1), r2 = Math.min(r + 2, rows - 1), r3 = Math.min(r + 3, rows - 1);
        int qo0 = rowOffset(qOff, rowStride, heads, headDim, r), qo1 = rowOffset(qOff, rowStride, heads, headDim, r1);
        int qo2 = rowOffset(qOff, rowStride, heads, headDim, r2), qo3 = rowOffset(qOff, rowStride, heads, headDim, r3);
        int s0 = r * pStride + pShift, s1 = r1 * pStride + pShift, s2 = r2 * pStride + pShift, s3 = r3 * pStride + pShift;
        int step = F.length(), bound = F.loopBound(headDim);
        for (int k = from; k < to + 1; k += 2) {
            int k1 = Math.min(k + 1, to);
            float[] a0 = k >= batchFrom ? bk : ck, a1 = k1 >= batchFrom ? bk : ck;
            int o0 = keyOff[k], o1 = keyOff[k1];
            FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00;
            FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            for (int d = 0; d < bound; d += step) {
                FloatVector k0v = FloatVector.fromArray(F, a0, o0 + d), k1v = FloatVector.fromArray(F, a1, o1 + d);
                FloatVector q0 = FloatVector.fromArray(F, q, qo0 + d);
                c00 = q0.fma(k0v, c00);
                c01 = q0.fma(k1v, c01);
                FloatVector q1 = FloatVector.fromArray(F, q, qo1 + d);
                c10 = q1.fma(k0v, c10);
                c11 = q1.fma(k1v, c11);
                FloatVector q2 = FloatVector.fromArray(F, q, qo2 + d);
                c20 = q2.fma(k0v, c20);
                c21 = q2.fma(k1v, c21);
                FloatVector q3 = FloatVector.fromArray(F, q, qo3 + d);
                c30 = q3.fma(k0v, c30);
                c31 = q3.fma(k1v, c31);
            }
            // k1 may be a clamped copy of k: it then writes the same slot with the same value
            FV.cast(c00).intoArray(part, 0);
            FV.cast(c01).intoArray(part, L);
            FV.cast(c10).intoArray(part, 2 * L);
            FV.cast(c11).intoArray(part, 3 * L);
            FV.cast(c20).intoArray(part, 4 * L);
            FV.cast(c21).intoArray(part, 5 * L);
            FV.cast(c30).intoArray(part, 6 * L);
            FV.cast(c31).intoArray(part, 7 * L);
            laneSums(part, 8);
            scores[s0 + k] = part[8 * L + 0] + tailDot(q, qo0, a0, o0, bound, headDim);
            scores[s0 + k1] = part[8 * L + 1] + tailDot(q, qo0, a1, o1, bound, headDim);
            scores[s1 + k] = part[8 * L + 2] + tailDot(q, qo1, a0, o0, bound, headDim);
            scores[s1 + k1] = part[8 * L + 3] + tailDot(q, qo1, a1, o1, bound, headDim);
            scores[s2 + k] = part[8 * L + 4] + tailDot(q, qo2, a0, o0, bound, headDim);
            scores[s2 + k1] = part[8 * L + 5] + tailDot(q, qo2, a1, o1, bound, headDim);
            scores[s3 + k] = part[8 * L + 6] + tailDot(q, qo3, a0, o0, bound, headDim);
            scores[s3 + k1] = part[8 * L + 7] + tailDot(q, qo3, a1, o1, bound, headDim);
        }
    }

    /**
     * part[n·L + i] = Σ lanes of the vector at part[i·L ..] for i < n ({@link VectorOps#sum}: the same bits in every JIT
     * tier). Out of the score tiles, so that their 8 or 16 sums do not pass C2's inlining budget (they then boxed).
     */
    private static void laneSums(float[] part, int n) {
        for (int i = 0; i < n; i++) part[n * L + i] = VectorOps.sum(FloatVector.fromArray(F, part, i * L));
    }

    private static int rowOffset(int off, int rowStride, int heads, int headDim, int row) {
        return off + (row / heads) * rowStride + (row % heads) * headDim;
    }

    /** The scalar part of a dot product past the last whole vector (none when headDim is a multiple of it). */
    private static float tailDot(float[] a, int ao, float[] b, int bo, int from, int n) {
        float s = 0;
        for (int i = from; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /**
     * Turns a row's scores over its visible keys [vFrom, vTo] into probabilities, and zeroes the rest of the tile's
     * key range [from, to] so the value pass can run every row of the tile over the same keys.
     */
    private static void softmax(float[] s, int off, int vFrom, int vTo, int from, int to) {
        int step = F.length(), end = vTo + 1;
        int bound = vFrom + F.loopBound(end - vFrom);
        // vectorized: one scalar exp per key and row cost as much as the score and value passes together
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int k = vFrom;
        for (; k < bound; k += step) mv = FloatVector.fromArray(F, s, off + k).max(mv);
        float max = FV.cast(mv).reduceLanes(VectorOperators.MAX);
        for (; k < end; k++) max = Math.max(max, s[off + k]);
        float sum = StableMath.expShiftedSum(s, off + vFrom, off + bound, max);
        k = bound;
        for (; k < end; k++) {
            float e = StableMath.exp(s[off + k] - max);
            s[off + k] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (k = vFrom; k < bound; k += step) FloatVector.fromArray(F, s, off + k).mul(inv).intoArray(s, off + k);
        for (; k < end; k++) s[off + k] *= inv;
        java.util.Arrays.fill(s, off + from, off + vFrom, 0f);
        java.util.Arrays.fill(s, off + end, off + to + 1, 0f);
    }

    /**
     * out_row += Σ_k p[row][k] · V_k over keys [from, to] for rows [r, r+4) (clamped like {@link #scoreTile}), a
     * chunk of four vectors of the head at a time: the 16 accumulators stay in registers across the keys and each
     * value chunk is loaded once for the four rows.
     */
    private static void valueTile(float[] cv, float[] bv, int batchFrom, int[] keyOff, int from, int to,
                                  float[] p, int pStride, int pShift, int r, int rows, int heads, int headDim,
                                  float[] out, int outOff, int rowStride, int kvDim) {
        valueTile(cv, bv, batchFrom, keyOff, from, to, p, pStride, pShift, r, rows, heads, headDim, out, outOff, rowStride, kvDim, 0);
    }

    /** {@link #valueTile} over the head's elements from {@code d0} on. */
    private static void valueTile(float[] cv, float[] bv, int batchFrom, int[] keyOff, int from, int to,
                                  float[] p, int pStride, int pShift, int r, int rows, int heads, int headDim,
                                  float[] out, int outOff, int rowStride, int kvDim, int d0) {
        int r1 = Math.min(r + 1, rows - 1), r2 = Math.min(r + 2, rows - 1), r3 = Math.min(r + 3, rows - 1);
        int oo0 = rowOffset(outOff, rowStride, heads, headDim, r), oo1 = rowOffset(outOff, rowStride, heads, headDim, r1);
        int oo2 = rowOffset(outOff, rowStride, heads, headDim, r2), oo3 = rowOffset(outOff, rowStride, heads, headDim, r3);
        int p0 = r * pStride + pShift, p1 = r1 * pStride + pShift, p2 = r2 * pStride + pShift, p3 = r3 * pStride + pShift;
        int step = F.length();
        int d = d0;
        for (; FOUR_BY_FOUR && d + 4 * step <= headDim; d += 4 * step) {
            FloatVector c00 = FloatVector.fromArray(F, out, oo0 + d), c01 = FloatVector.fromArray(F, out, oo0 + d + step);
            FloatVector c02 = FloatVector.fromArray(F, out, oo0 + d + 2 * step), c03 = FloatVector.fromArray(F, out, oo0 + d + 3 * step);
            FloatVector c10 = FloatVector.fromArray(F, out, oo1 + d), c11 = FloatVector.fromArray(F, out, oo1 + d + step);
            FloatVector c12 = FloatVector.fromArray(F, out, oo1 + d + 2 * step), c13 = FloatVector.fromArray(F, out, oo1 + d + 3 * step);
            FloatVector c20 = FloatVector.fromArray(F, out, oo2 + d), c21 = FloatVector.fromArray(F, out, oo2 + d + step);
            FloatVector c22 = FloatVector.fromArray(F, out, oo2 + d + 2 * step), c23 = FloatVector.fromArray(F, out, oo2 + d + 3 * step);
            FloatVector c30 = FloatVector.fromArray(F, out, oo3 + d), c31 = FloatVector.fromArray(F, out, oo3 + d + step);
            FloatVector c32 = FloatVector.fromArray(F, out, oo3 + d + 2 * step), c33 = FloatVector.fromArray(F, out, oo3 + d + 3 * step);
            for (int k = from; k < to + 1; k++) {
                float[] a = k >= batchFrom ? bv : cv;
                int o = keyOff[k] + d;
                FloatVector v0 = FloatVector.fromArray(F, a, o), v1 = FloatVector.fromArray(F, a, o + step);
                FloatVector v2 = FloatVector.fromArray(F, a, o + 2 * step), v3 = FloatVector.fromArray(F, a, o + 3 * step);
                FloatVector w = FloatVector.broadcast(F, p[p0 + k]);
                c00 = v0.fma(w, c00);
                c01 = v1.fma(w, c01);
                c02 = v2.fma(w, c02);
                c03 = v3.fma(w, c03);
                w = FloatVector.broadcast(F, p[p1 + k]);
                c10 = v0.fma(w, c10);
                c11 = v1.fma(w, c11);
                c12 = v2.fma(w, c12);
                c13 = v3.fma(w, c13);
                w = FloatVector.broadcast(F, p[p2 + k]);
                c20 = v0.fma(w, c20);
                c21 = v1.fma(w, c21);
                c22 = v2.fma(w, c22);
                c23 = v3.fma(w, c23);
                w = FloatVector.broadcast(F, p[p3 + k]);
                c30 = v0.fma(w, c30);
                c31 = v1.fma(w, c31);
                c32 = v2.fma(w, c32);
                c33 = v3.fma(w, c33);
            }
            // a clamped row repeats a real row (same loads, same sums), so its stores rewrite the same values
            FV.cast(c30).intoArray(out, oo3 + d);
            FV.cast(c31).intoArray(out, oo3 + d + step);
            FV.cast(c32).intoArray(out, oo3 + d + 2 * step);
            FV.cast(c33).intoArray(out, oo3 + d + 3 * step);
            FV.cast(c20).intoArray(out, oo2 + d);
            FV.cast(c21).intoArray(out, oo2 + d + step);
            FV.cast(c22).intoArray(out, oo2 + d + 2 * step);
            FV.cast(c23).intoArray(out, oo2 + d + 3 * step);
            FV.cast(c10).intoArray(out, oo1 + d);
            FV.cast(c11).intoArray(out, oo1 + d + step);
            FV.cast(c12).intoArray(out, oo1 + d + 2 * step);
            FV.cast(c13).intoArray(out, oo1 + d + 3 * step);
            FV.cast(c00).intoArray(out, oo0 + d);
            FV.cast(c01).intoArray(out, oo0 + d + step);
            FV.cast(c02).intoArray(out, oo0 + d + 2 * step);
            FV.cast(c03).intoArray(out, oo0 + d + 3 * step);
        }
        // below 512 bits: two vectors of the head at a time (8 accumulators, 2 value vectors, a broadcast)
        for (; !FOUR_BY_FOUR && d + 2 * step <= headDim; d += 2 * step) {
            FloatVector c00 = FloatVector.fromArray(F, out, oo0 + d), c01 = FloatVector.fromArray(F, out, oo0 + d + step);
            FloatVector c10 = FloatVector.fromArray(F, out, oo1 + d), c11 = FloatVector.fromArray(F, out, oo1 + d + step);
            FloatVector c20 = FloatVector.fromArray(F, out, oo2 + d), c21 = FloatVector.fromArray(F, out, oo2 + d + step);
            FloatVector c30 = FloatVector.fromArray(F, out, oo3 + d), c31 = FloatVector.fromArray(F, out, oo3 + d + step);
            if (from >= batchFrom) {
                // only the call's keys (a prompt's own): value rows at a fixed stride, an index linear in k that C2
                // range-checks once per loop instead of a table look-up, an array choice and two checks per key (as in
                // valueTile6; the checks were ~1 % of a 256-bit 1B Q8_0 pp512's samples, docs/PERFORMANCE.md "256-bit
                // Q8_0 prompts on the Zen 5 host")
                int vb = keyOff[from] - from * kvDim + d;
                for (int k = from; k < to + 1; k++) {
                    int o = vb + k * kvDim;
                    FloatVector v0 = FloatVector.fromArray(F, bv, o), v1 = FloatVector.fromArray(F, bv, o + step);
                    FloatVector w = FloatVector.broadcast(F, p[p0 + k]);
                    c00 = v0.fma(w, c00);
                    c01 = v1.fma(w, c01);
                    w = FloatVector.broadcast(F, p[p1 + k]);
                    c10 = v0.fma(w, c10);
                    c11 = v1.fma(w, c11);
                    w = FloatVector.broadcast(F, p[p2 + k]);
                    c20 = v0.fma(w, c20);
                    c21 = v1.fma(w, c21);
                    w = FloatVector.broadcast(F, p[p3 + k]);
                    c30 = v0.fma(w, c30);
                    c31 = v1.fma(w, c31);
                }
            } else {
                for (int k = from; k < to + 1; k++) {
                    float[] a = k >= batchFrom ? bv : cv;
                    int o = keyOff[k] + d;
                    FloatVector v0 = FloatVector.fromArray(F, a, o), v1 = FloatVector.fromArray(F, a, o + step);
                    FloatVector w = FloatVector.broadcast(F, p[p0 + k]);
                    c00 = v0.fma(w, c00);
                    c01 = v1.fma(w, c01);
                    w = FloatVector.broadcast(F, p[p1 + k]);
                    c10 = v0.fma(w, c10);
                    c11 = v1.fma(w, c11);
                    w = FloatVector.broadcast(F, p[p2 + k]);
                    c20 = v0.fma(w, c20);
                    c21 = v1.fma(w, c21);
                    w = FloatVector.broadcast(F, p[p3 + k]);
                    c30 = v0.fma(w, c30);
                    c31 = v1.fma(w, c31);
                }
            }
            // a clamped row repeats a real row (same loads, same sums), so its stores rewrite the same values
            FV.cast(c30).intoArray(out, oo3 + d);
            FV.cast(c31).intoArray(out, oo3 + d + step);
            FV.cast(c20).intoArray(out, oo2 + d);
            FV.cast(c21).intoArray(out, oo2 + d + step);
            FV.cast(c10).intoArray(out, oo1 + d);
            FV.cast(c11).intoArray(out, oo1 + d + step);
            FV.cast(c00).intoArray(out, oo0 + d);
            FV.cast(c01).intoArray(out, oo0 + d + step);
        }
        // head sizes that are not a multiple of the chunk: one vector, then single floats
        for (; d + step <= headDim; d += step) {
            FloatVector c0 = FloatVector.fromArray(F, out, oo0 + d), c1 = FloatVector.fromArray(F, out, oo1 + d);
            FloatVector c2 = FloatVector.fromArray(F, out, oo2 + d), c3 = FloatVector.fromArray(F, out, oo3 + d);
            for (int k = from; k < to + 1; k++) {
                FloatVector v = FloatVector.fromArray(F, k >= batchFrom ? bv : cv, keyOff[k] + d);
                c0 = v.fma(FloatVector.broadcast(F, p[p0 + k]), c0);
                c1 = v.fma(FloatVector.broadcast(F, p[p1 + k]), c1);
                c2 = v.fma(FloatVector.broadcast(F, p[p2 + k]), c2);
                c3 = v.fma(FloatVector.broadcast(F, p[p3 + k]), c3);
            }
            FV.cast(c3).intoArray(out, oo3 + d);
            FV.cast(c2).intoArray(out, oo2 + d);
            FV.cast(c1).intoArray(out, oo1 + d);
            FV.cast(c0).intoArray(out, oo0 + d);
        }
        for (; d < headDim; d++) {
            // all read before any is written: a clamped row aliases a real one
            float x0 = out[oo0 + d] + tailValue(cv, bv, batchFrom, keyOff, from, to, p, p0, d);
            float x1 = out[oo1 + d] + tailValue(cv, bv, batchFrom, keyOff, from, to, p, p1, d);
            float x2 = out[oo2 + d] + tailValue(cv, bv, batchFrom, keyOff, from, to, p, p2, d);
            float x3 = out[oo3 + d] + tailValue(cv, bv, batchFrom, keyOff, from, to, p, p3, d);
            out[oo3 + d] = x3;
            out[oo2 + d] = x2;
            out[oo1 + d] = x1;
            out[oo0 + d] = x0;
        }
    }

    /**
     * {@link #valueTile} for six whole rows [r, r+6) at 512 bits: 24 accumulators, 4 value vectors and a broadcast (29
     * of AVX-512's 32 registers), so each value chunk loaded serves six rows instead of four. Every output element is
     * the same chain of fused multiply-adds over the keys as in the four-row tile: the same bits.
     */
    private static void valueTile6(float[] cv, float[] bv, int batchFrom, int[] keyOff, int from, int to,
                                   float[] p, int pStride, int pShift, int r, int heads, int headDim,
                                   float[] out, int outOff, int rowStride, int kvDim) {
        int oo0 = rowOffset(outOff, rowStride, heads, headDim, r), p0 = r * pStride + pShift;
        int oo1 = rowOffset(outOff, rowStride, heads, headDim, r + 1), p1 = (r + 1) * pStride + pShift;
        int oo2 = rowOffset(outOff, rowStride, heads, headDim, r + 2), p2 = (r + 2) * pStride + pShift;
        int oo3 = rowOffset(outOff, rowStride, heads, headDim, r + 3), p3 = (r + 3) * pStride + pShift;
        int oo4 = rowOffset(outOff, rowStride, heads, headDim, r + 4), p4 = (r + 4) * pStride + pShift;
        int oo5 = rowOffset(outOff, rowStride, heads, headDim, r + 5), p5 = (r + 5) * pStride + pShift;
        int d = 0;
        for (; d + 4 * L <= headDim; d += 4 * L) {
            FloatVector c00 = FloatVector.fromArray(F, out, oo0 + d), c01 = FloatVector.fromArray(F, out, oo0 + d + L);
            FloatVector c02 = FloatVector.fromArray(F, out, oo0 + d + 2 * L), c03 = FloatVector.fromArray(F, out, oo0 + d + 3 * L);
            FloatVector c10 = FloatVector.fromArray(F, out, oo1 + d), c11 = FloatVector.fromArray(F, out, oo1 + d + L);
            FloatVector c12 = FloatVector.fromArray(F, out, oo1 + d + 2 * L), c13 = FloatVector.fromArray(F, out, oo1 + d + 3 * L);
            FloatVector c20 = FloatVector.fromArray(F, out, oo2 + d), c21 = FloatVector.fromArray(F, out, oo2 + d + L);
            FloatVector c22 = FloatVector.fromArray(F, out, oo2 + d + 2 * L), c23 = FloatVector.fromArray(F, out, oo2 + d + 3 * L);
            FloatVector c30 = FloatVector.fromArray(F, out, oo3 + d), c31 = FloatVector.fromArray(F, out, oo3 + d + L);
            FloatVector c32 = FloatVector.fromArray(F, out, oo3 + d + 2 * L), c33 = FloatVector.fromArray(F, out, oo3 + d + 3 * L);
            FloatVector c40 = FloatVector.fromArray(F, out, oo4 + d), c41 = FloatVector.fromArray(F, out, oo4 + d + L);
            FloatVector c42 = FloatVector.fromArray(F, out, oo4 + d + 2 * L), c43 = FloatVector.fromArray(F, out, oo4 + d + 3 * L);
            FloatVector c50 = FloatVector.fromArray(F, out, oo5 + d), c51 = FloatVector.fromArray(F, out, oo5 + d + L);
            FloatVector c52 = FloatVector.fromArray(F, out, oo5 + d + 2 * L), c53 = FloatVector.fromArray(F, out, oo5 + d + 3 * L);
            if (from >= batchFrom) {
                // only the call's keys (an encoder, a prompt's own): value rows at a fixed stride, an index linear in k
                // that C2 range-checks once per loop instead of a table look-up and an array choice per key
                int vb = keyOff[from] - from * kvDim + d;
                for (int k = from; k < to + 1; k++) {
                    int o = vb + k * kvDim;
                    FloatVector v0 = FloatVector.fromArray(F, bv, o), v1 = FloatVector.fromArray(F, bv, o + L);
                    FloatVector v2 = FloatVector.fromArray(F, bv, o + 2 * L), v3 = FloatVector.fromArray(F, bv, o + 3 * L);
                    FloatVector w;
                    w = FloatVector.broadcast(F, p[p0 + k]);
                    c00 = v0.fma(w, c00);
                    c01 = v1.fma(w, c01);
                    c02 = v2.fma(w, c02);
                    c03 = v3.fma(w, c03);
                    w = FloatVector.broadcast(F, p[p1 + k]);
                    c10 = v0.fma(w, c10);
                    c11 = v1.fma(w, c11);
                    c12 = v2.fma(w, c12);
                    c13 = v3.fma(w, c13);
                    w = FloatVector.broadcast(F, p[p2 + k]);
                    c20 = v0.fma(w, c20);
                    c21 = v1.fma(w, c21);
                    c22 = v2.fma(w, c22);
                    c23 = v3.fma(w, c23);
                    w = FloatVector.broadcast(F, p[p3 + k]);
                    c30 = v0.fma(w, c30);
                    c31 = v1.fma(w, c31);
                    c32 = v2.fma(w, c32);
                    c33 = v3.fma(w, c33);
                    w = FloatVector.broadcast(F, p[p4 + k]);
                    c40 = v0.fma(w, c40);
                    c41 = v1.fma(w, c41);
                    c42 = v2.fma(w, c42);
                    c43 = v3.fma(w, c43);
                    w = FloatVector.broadcast(F, p[p5 + k]);
                    c50 = v0.fma(w, c50);
                    c51 = v1.fma(w, c51);
                    c52 = v2.fma(w, c52);
                    c53 = v3.fma(w, c53);
                }
            } else {
                for (int k = from; k < to + 1; k++) {
                    float[] a = k >= batchFrom ? bv : cv;
                    int o = keyOff[k] + d;
                    FloatVector v0 = FloatVector.fromArray(F, a, o), v1 = FloatVector.fromArray(F, a, o + L);
                    FloatVector v2 = FloatVector.fromArray(F, a, o + 2 * L), v3 = FloatVector.fromArray(F, a, o + 3 * L);
                    FloatVector w;
                    w = FloatVector.broadcast(F, p[p0 + k]);
                    c00 = v0.fma(w, c00);
                    c01 = v1.fma(w, c01);
                    c02 = v2.fma(w, c02);
                    c03 = v3.fma(w, c03);
                    w = FloatVector.broadcast(F, p[p1 + k]);
                    c10 = v0.fma(w, c10);
                    c11 = v1.fma(w, c11);
                    c12 = v2.fma(w, c12);
                    c13 = v3.fma(w, c13);
                    w = FloatVector.broadcast(F, p[p2 + k]);
                    c20 = v0.fma(w, c20);
                    c21 = v1.fma(w, c21);
                    c22 = v2.fma(w, c22);
                    c23 = v3.fma(w, c23);
                    w = FloatVector.broadcast(F, p[p3 + k]);
                    c30 = v0.fma(w, c30);
                    c31 = v1.fma(w, c31);
                    c32 = v2.fma(w, c32);
                    c33 = v3.fma(w, c33);
                    w = FloatVector.broadcast(F, p[p4 + k]);
                    c40 = v0.fma(w, c40);
                    c41 = v1.fma(w, c41);
                    c42 = v2.fma(w, c42);
                    c43 = v3.fma(w, c43);
                    w = FloatVector.broadcast(F, p[p5 + k]);
                    c50 = v0.fma(w, c50);
                    c51 = v1.fma(w, c51);
                    c52 = v2.fma(w, c52);
                    c53 = v3.fma(w, c53);
                }
            }
            FV.cast(c00).intoArray(out, oo0 + d);
            FV.cast(c01).intoArray(out, oo0 + d + L);
            FV.cast(c02).intoArray(out, oo0 + d + 2 * L);
            FV.cast(c03).intoArray(out, oo0 + d + 3 * L);
            FV.cast(c10).intoArray(out, oo1 + d);
            FV.cast(c11).intoArray(out, oo1 + d + L);
            FV.cast(c12).intoArray(out, oo1 + d + 2 * L);
            FV.cast(c13).intoArray(out, oo1 + d + 3 * L);
            FV.cast(c20).intoArray(out, oo2 + d);
            FV.cast(c21).intoArray(out, oo2 + d + L);
            FV.cast(c22).intoArray(out, oo2 + d + 2 * L);
            FV.cast(c23).intoArray(out, oo2 + d + 3 * L);
            FV.cast(c30).intoArray(out, oo3 + d);
            FV.cast(c31).intoArray(out, oo3 + d + L);
            FV.cast(c32).intoArray(out, oo3 + d + 2 * L);
            FV.cast(c33).intoArray(out, oo3 + d + 3 * L);
            FV.cast(c40).intoArray(out, oo4 + d);
            FV.cast(c41).intoArray(out, oo4 + d + L);
            FV.cast(c42).intoArray(out, oo4 + d + 2 * L);
            FV.cast(c43).intoArray(out, oo4 + d + 3 * L);
            FV.cast(c50).intoArray(out, oo5 + d);
            FV.cast(c51).intoArray(out, oo5 + d + L);
            FV.cast(c52).intoArray(out, oo5 + d + 2 * L);
            FV.cast(c53).intoArray(out, oo5 + d + 3 * L);
        }
        if (d < headDim) {
            // the head's rest (not a multiple of four vectors): the four-row tile's remainder loops over rows r..r+3, then
            // r+4, r+5 (a tile clamped at r+5)
            valueTile(cv, bv, batchFrom, keyOff, from, to, p, pStride, pShift, r, r + 6, heads, headDim, out, outOff, rowStride, kvDim, d);
            valueTile(cv, bv, batchFrom, keyOff, from, to, p, pStride, pShift, r + 4, r + 6, heads, headDim, out, outOff, rowStride, kvDim, d);
        }
    }

    /**
     * Reads the value rows of keys [from, to] front to back. The value tiles walk a 1 KB-strided slice at a time,
     * which the hardware prefetchers do not follow, so out of DRAM they run at memory latency; one sequential read
     * first streams the block into L1/L2 at full bandwidth. Returns a sum only so that the reads cannot be dropped.
     */
    private static float touchRows(float[] cv, float[] bv, int batchFrom, int[] keyOff, int from, int to, int headDim) {
        FloatVector acc = FloatVector.zero(F);
        int step = F.length(), bound = F.loopBound(headDim);
        for (int k = from; k < to + 1; k++) {
            float[] a = k >= batchFrom ? bv : cv;
            int o = keyOff[k];
            for (int d = 0; d < bound; d += step) acc = FloatVector.fromArray(F, a, o + d).add(acc);
        }
        return VectorOps.sum(acc);
    }

    private static float tailValue(float[] cv, float[] bv, int batchFrom, int[] keyOff, int from, int to,
                                   float[] p, int pOff, int d) {
        float s = 0;
        for (int k = from; k < to + 1; k++) s += p[pOff + k] * (k >= batchFrom ? bv : cv)[keyOff[k] + d];
        return s;
    }

    /**
     * One query head of one token: the plain reference for {@link #attendGroup}.
     *
     * @param q         query vector at {@code q[qOff..qOff+headDim)} (already normed, roped and scaled)
     * @param pos       the query's absolute position
     * @param end       the last position among the call's keys
     * @param callK     keys of the call, [callLen × kvDim], first row at position {@code callStart}
     * @param kvHead    the KV head this query head reads
     * @param scores    scratch of at least (keys the query sees) floats
     */
    public static void attendOne(Visibility vis, float[] q, int qOff, int pos, int end, KvView kv,
                                 float[] callK, float[] callV, int callStart, int kvDim, int kvHead, int headDim,
                                 float[] scores, float[] out, int outOff) {
        int lo = vis.first(pos), hi = vis.last(pos, end);
        int n = hi - lo + 1;
        float[] ck = kv.keys(), cv = kv.values();
        int hOff = kvHead * headDim;
        float max = Float.NEGATIVE_INFINITY;
        for (int j = lo; j <= hi; j++) {
            float s = j >= callStart
                    ? VectorOps.dot(q, qOff, callK, (j - callStart) * kvDim + hOff, headDim)
                    : VectorOps.dot(q, qOff, ck, kv.offset(j) + hOff, headDim);
            scores[j - lo] = s;
            if (s > max) max = s;
        }
        float sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(scores[i] - max);
            scores[i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        java.util.Arrays.fill(out, outOff, outOff + headDim, 0f);
        for (int j = lo; j <= hi; j++) {
            float p = scores[j - lo] * inv;
            if (j >= callStart) VectorOps.axpy(p, callV, (j - callStart) * kvDim + hOff, out, outOff, headDim);
            else VectorOps.axpy(p, cv, kv.offset(j) + hOff, out, outOff, headDim);
        }
    }
}
