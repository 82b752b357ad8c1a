package dev.jemma.core.tensor.attention;

import dev.jemma.core.tensor.ThreadPool;
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
 */
public final class Attention {
    private static final VectorSpecies<Float> F = VectorOps.F;
    /** Query rows (tokens × heads of a group) attended together; scores take rows × keys floats of scratch. */
    static final int TARGET_ROWS = 16;
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
    @SuppressWarnings("unchecked")
    private static final Class<FloatVector> FV = (Class<FloatVector>) F.vectorType();

    private Attention() {
    }

    /** Per-thread scratch for {@link #attend}; grows on demand, so steady-state calls do not allocate. */
    public static final class Scratch {
        private float[] scores = new float[0];
        private int[] keyOffsets = new int[0];
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
            return 4L * scores.length + 4L * keyOffsets.length;
        }
    }

    /**
     * The most {@link #scratch}{@code (threads)} grows to over calls that see at most {@code keys} keys with {@code group}
     * query heads per KV head: a worker's scores hold at most max(TARGET_ROWS, group) rows of {@code keys}, and an array
     * grows to at most twice what was asked plus 32 (see {@link Scratch#scores}).
     */
    public static long scratchBytes(int threads, int group, int keys) {
        return scratchBytesFixed(threads) + scratchBytesPerKey(threads, group) * keys;
    }

    /** The part of {@link #scratchBytes} that does not grow with the keys: each array's 32-element pad. */
    public static long scratchBytesFixed(int threads) {
        return (long) threads * 4 * (32 + 32);
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
                        callK, callV, start, row0, kvDim, kvHead, headDim, s, out, off);
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
        int rows = tokens * heads;
        int lo = Integer.MAX_VALUE, hi = Integer.MIN_VALUE;
        for (int t = 0; t < tokens; t++) {
            lo = Math.min(lo, vis.first(firstPos + t));
            hi = Math.max(hi, vis.last(firstPos + t, end));
        }
        int nKeys = hi - lo + 1;
        float[] scores = scratch.scores(rows * nKeys);
        int[] keyOff = scratch.keyOffsets(nKeys);
        // the cache's ring offset (a division) is computed once per key here, not once per key per row tile
        for (int j = lo; j <= hi; j++) {
            keyOff[j - lo] = (j >= callStart ? (j - callStart + callRow0) * kvDim : kv.offset(j)) + kvHead * headDim;
        }
        float[] ck = kv.keys(), cv = kv.values();
        boolean fromDram = (long) nKeys * headDim > DRAM_RANGE_FLOATS;
        for (int r = 0; r < rows; r += 4) {
            int last = Math.min(r + 3, rows - 1);
            // keys any row of the tile sees; rows see the subset their own position and visibility allow
            int from = Integer.MAX_VALUE, to = Integer.MIN_VALUE;
            for (int row = r; row <= last; row++) {
                int pos = firstPos + row / heads;
                from = Math.min(from, vis.first(pos) - lo);
                to = Math.max(to, vis.last(pos, end) - lo);
            }
            if (FOUR_BY_FOUR) scoreTile(q, qOff, rowStride, heads, headDim, r, rows, ck, callK, callStart - lo, keyOff, from, to,
                    scores, nKeys);
            else scoreTile2(q, qOff, rowStride, heads, headDim, r, rows, ck, callK, callStart - lo, keyOff, from, to,
                    scores, nKeys);
            for (int row = r; row <= last; row++) {
                int pos = firstPos + row / heads;
                softmax(scores, row * nKeys, vis.first(pos) - lo, vis.last(pos, end) - lo, from, to);
            }
            for (int row = r; row <= last; row++) {
                int o = rowOffset(outOff, rowStride, heads, headDim, row);
                java.util.Arrays.fill(out, o, o + headDim, 0f);
            }
            for (int k = from; k <= to; k += VALUE_KEY_BLOCK) {
                if (fromDram) scratch.sink += touchRows(cv, callV, callStart - lo, keyOff, k, Math.min(to, k + VALUE_KEY_BLOCK - 1), headDim);
                valueTile(cv, callV, callStart - lo, keyOff, k, Math.min(to, k + VALUE_KEY_BLOCK - 1), scores,
                        nKeys, r, rows, heads, headDim, out, outOff, rowStride);
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
                                  float[] scores, int nKeys) {
        int r1 = Math.min(r + 1, rows - 1), r2 = Math.min(r + 2, rows - 1), r3 = Math.min(r + 3, rows - 1);
        int qo0 = rowOffset(qOff, rowStride, heads, headDim, r), qo1 = rowOffset(qOff, rowStride, heads, headDim, r1);
        int qo2 = rowOffset(qOff, rowStride, heads, headDim, r2), qo3 = rowOffset(qOff, rowStride, heads, headDim, r3);
        int s0 = r * nKeys, s1 = r1 * nKeys, s2 = r2 * nKeys, s3 = r3 * nKeys;
        int step = F.length(), bound = F.loopBound(headDim);
        for (int k = from; k <= to; k += 4) {
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
            scores[s0 + k] = c00.reduceLanes(VectorOperators.ADD) + tailDot(q, qo0, a0, o0, bound, headDim);
            scores[s0 + k1] = c01.reduceLanes(VectorOperators.ADD) + tailDot(q, qo0, a1, o1, bound, headDim);
            scores[s0 + k2] = c02.reduceLanes(VectorOperators.ADD) + tailDot(q, qo0, a2, o2, bound, headDim);
            scores[s0 + k3] = c03.reduceLanes(VectorOperators.ADD) + tailDot(q, qo0, a3, o3, bound, headDim);
            scores[s1 + k] = c10.reduceLanes(VectorOperators.ADD) + tailDot(q, qo1, a0, o0, bound, headDim);
            scores[s1 + k1] = c11.reduceLanes(VectorOperators.ADD) + tailDot(q, qo1, a1, o1, bound, headDim);
            scores[s1 + k2] = c12.reduceLanes(VectorOperators.ADD) + tailDot(q, qo1, a2, o2, bound, headDim);
            scores[s1 + k3] = c13.reduceLanes(VectorOperators.ADD) + tailDot(q, qo1, a3, o3, bound, headDim);
            scores[s2 + k] = c20.reduceLanes(VectorOperators.ADD) + tailDot(q, qo2, a0, o0, bound, headDim);
            scores[s2 + k1] = c21.reduceLanes(VectorOperators.ADD) + tailDot(q, qo2, a1, o1, bound, headDim);
            scores[s2 + k2] = c22.reduceLanes(VectorOperators.ADD) + tailDot(q, qo2, a2, o2, bound, headDim);
            scores[s2 + k3] = c23.reduceLanes(VectorOperators.ADD) + tailDot(q, qo2, a3, o3, bound, headDim);
            scores[s3 + k] = c30.reduceLanes(VectorOperators.ADD) + tailDot(q, qo3, a0, o0, bound, headDim);
            scores[s3 + k1] = c31.reduceLanes(VectorOperators.ADD) + tailDot(q, qo3, a1, o1, bound, headDim);
            scores[s3 + k2] = c32.reduceLanes(VectorOperators.ADD) + tailDot(q, qo3, a2, o2, bound, headDim);
            scores[s3 + k3] = c33.reduceLanes(VectorOperators.ADD) + tailDot(q, qo3, a3, o3, bound, headDim);
        }
    }

    /** {@link #scoreTile} two keys at a time (8 accumulators): for 16 vector registers. Same scores, bit for bit. */
    private static void scoreTile2(float[] q, int qOff, int rowStride, int heads, int headDim, int r, int rows,
                                   float[] ck, float[] bk, int batchFrom, int[] keyOff, int from, int to,
                                   float[] scores, int nKeys) {
        int r1 = Math.min(r + 1, rows - 1), r2 = Math.min(r + 2, rows - 1), r3 = Math.min(r + 3, rows - 1);
        int qo0 = rowOffset(qOff, rowStride, heads, headDim, r), qo1 = rowOffset(qOff, rowStride, heads, headDim, r1);
        int qo2 = rowOffset(qOff, rowStride, heads, headDim, r2), qo3 = rowOffset(qOff, rowStride, heads, headDim, r3);
        int s0 = r * nKeys, s1 = r1 * nKeys, s2 = r2 * nKeys, s3 = r3 * nKeys;
        int step = F.length(), bound = F.loopBound(headDim);
        for (int k = from; k <= to; k += 2) {
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
            scores[s0 + k] = FV.cast(c00).reduceLanes(VectorOperators.ADD) + tailDot(q, qo0, a0, o0, bound, headDim);
            scores[s0 + k1] = FV.cast(c01).reduceLanes(VectorOperators.ADD) + tailDot(q, qo0, a1, o1, bound, headDim);
            scores[s1 + k] = FV.cast(c10).reduceLanes(VectorOperators.ADD) + tailDot(q, qo1, a0, o0, bound, headDim);
            scores[s1 + k1] = FV.cast(c11).reduceLanes(VectorOperators.ADD) + tailDot(q, qo1, a1, o1, bound, headDim);
            scores[s2 + k] = FV.cast(c20).reduceLanes(VectorOperators.ADD) + tailDot(q, qo2, a0, o0, bound, headDim);
            scores[s2 + k1] = FV.cast(c21).reduceLanes(VectorOperators.ADD) + tailDot(q, qo2, a1, o1, bound, headDim);
            scores[s3 + k] = FV.cast(c30).reduceLanes(VectorOperators.ADD) + tailDot(q, qo3, a0, o0, bound, headDim);
            scores[s3 + k1] = FV.cast(c31).reduceLanes(VectorOperators.ADD) + tailDot(q, qo3, a1, o1, bound, headDim);
        }
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
        for (; k < bound; k += step) mv = mv.max(FloatVector.fromArray(F, s, off + k));
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; k < end; k++) max = Math.max(max, s[off + k]);
        FloatVector sv = FloatVector.zero(F);
        for (k = vFrom; k < bound; k += step) {
            FloatVector e = FloatVector.fromArray(F, s, off + k).sub(max).lanewise(VectorOperators.EXP);
            e.intoArray(s, off + k);
            sv = sv.add(e);
        }
        float sum = sv.reduceLanes(VectorOperators.ADD);
        for (; k < end; k++) {
            float e = (float) Math.exp(s[off + k] - max);
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
                                  float[] p, int nKeys, int r, int rows, int heads, int headDim,
                                  float[] out, int outOff, int rowStride) {
        int r1 = Math.min(r + 1, rows - 1), r2 = Math.min(r + 2, rows - 1), r3 = Math.min(r + 3, rows - 1);
        int oo0 = rowOffset(outOff, rowStride, heads, headDim, r), oo1 = rowOffset(outOff, rowStride, heads, headDim, r1);
        int oo2 = rowOffset(outOff, rowStride, heads, headDim, r2), oo3 = rowOffset(outOff, rowStride, heads, headDim, r3);
        int p0 = r * nKeys, p1 = r1 * nKeys, p2 = r2 * nKeys, p3 = r3 * nKeys;
        int step = F.length();
        int d = 0;
        for (; FOUR_BY_FOUR && d + 4 * step <= headDim; d += 4 * step) {
            FloatVector c00 = FloatVector.fromArray(F, out, oo0 + d), c01 = FloatVector.fromArray(F, out, oo0 + d + step);
            FloatVector c02 = FloatVector.fromArray(F, out, oo0 + d + 2 * step), c03 = FloatVector.fromArray(F, out, oo0 + d + 3 * step);
            FloatVector c10 = FloatVector.fromArray(F, out, oo1 + d), c11 = FloatVector.fromArray(F, out, oo1 + d + step);
            FloatVector c12 = FloatVector.fromArray(F, out, oo1 + d + 2 * step), c13 = FloatVector.fromArray(F, out, oo1 + d + 3 * step);
            FloatVector c20 = FloatVector.fromArray(F, out, oo2 + d), c21 = FloatVector.fromArray(F, out, oo2 + d + step);
            FloatVector c22 = FloatVector.fromArray(F, out, oo2 + d + 2 * step), c23 = FloatVector.fromArray(F, out, oo2 + d + 3 * step);
            FloatVector c30 = FloatVector.fromArray(F, out, oo3 + d), c31 = FloatVector.fromArray(F, out, oo3 + d + step);
            FloatVector c32 = FloatVector.fromArray(F, out, oo3 + d + 2 * step), c33 = FloatVector.fromArray(F, out, oo3 + d + 3 * step);
            for (int k = from; k <= to; k++) {
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
            c30.intoArray(out, oo3 + d);
            c31.intoArray(out, oo3 + d + step);
            c32.intoArray(out, oo3 + d + 2 * step);
            c33.intoArray(out, oo3 + d + 3 * step);
            c20.intoArray(out, oo2 + d);
            c21.intoArray(out, oo2 + d + step);
            c22.intoArray(out, oo2 + d + 2 * step);
            c23.intoArray(out, oo2 + d + 3 * step);
            c10.intoArray(out, oo1 + d);
            c11.intoArray(out, oo1 + d + step);
            c12.intoArray(out, oo1 + d + 2 * step);
            c13.intoArray(out, oo1 + d + 3 * step);
            c00.intoArray(out, oo0 + d);
            c01.intoArray(out, oo0 + d + step);
            c02.intoArray(out, oo0 + d + 2 * step);
            c03.intoArray(out, oo0 + d + 3 * step);
        }
        // below 512 bits: two vectors of the head at a time (8 accumulators, 2 value vectors, a broadcast)
        for (; !FOUR_BY_FOUR && d + 2 * step <= headDim; d += 2 * step) {
            FloatVector c00 = FloatVector.fromArray(F, out, oo0 + d), c01 = FloatVector.fromArray(F, out, oo0 + d + step);
            FloatVector c10 = FloatVector.fromArray(F, out, oo1 + d), c11 = FloatVector.fromArray(F, out, oo1 + d + step);
            FloatVector c20 = FloatVector.fromArray(F, out, oo2 + d), c21 = FloatVector.fromArray(F, out, oo2 + d + step);
            FloatVector c30 = FloatVector.fromArray(F, out, oo3 + d), c31 = FloatVector.fromArray(F, out, oo3 + d + step);
            for (int k = from; k <= to; k++) {
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
            for (int k = from; k <= to; k++) {
                FloatVector v = FloatVector.fromArray(F, k >= batchFrom ? bv : cv, keyOff[k] + d);
                c0 = v.fma(FloatVector.broadcast(F, p[p0 + k]), c0);
                c1 = v.fma(FloatVector.broadcast(F, p[p1 + k]), c1);
                c2 = v.fma(FloatVector.broadcast(F, p[p2 + k]), c2);
                c3 = v.fma(FloatVector.broadcast(F, p[p3 + k]), c3);
            }
            c3.intoArray(out, oo3 + d);
            c2.intoArray(out, oo2 + d);
            c1.intoArray(out, oo1 + d);
            c0.intoArray(out, oo0 + d);
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
     * Reads the value rows of keys [from, to] front to back. The value tiles walk a 1 KB-strided slice at a time,
     * which the hardware prefetchers do not follow, so out of DRAM they run at memory latency; one sequential read
     * first streams the block into L1/L2 at full bandwidth. Returns a sum only so that the reads cannot be dropped.
     */
    private static float touchRows(float[] cv, float[] bv, int batchFrom, int[] keyOff, int from, int to, int headDim) {
        FloatVector acc = FloatVector.zero(F);
        int step = F.length(), bound = F.loopBound(headDim);
        for (int k = from; k <= to; k++) {
            float[] a = k >= batchFrom ? bv : cv;
            int o = keyOff[k];
            for (int d = 0; d < bound; d += step) acc = acc.add(FloatVector.fromArray(F, a, o + d));
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    private static float tailValue(float[] cv, float[] bv, int batchFrom, int[] keyOff, int from, int to,
                                   float[] p, int pOff, int d) {
        float s = 0;
        for (int k = from; k <= to; k++) s += p[pOff + k] * (k >= batchFrom ? bv : cv)[keyOff[k] + d];
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
