package dev.jemma.core.sampling;

import dev.jemma.core.tensor.VectorOps;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.IntFunction;
import java.util.function.IntPredicate;

/**
 * Picks token ids from logits according to {@link SamplingParams}: in the default sampler order by its own path, which
 * never sorts the vocabulary, and in any other order by {@link OrderedChain}. Keeps its own random stream (seeded once), so a
 * sampler reused for a whole generation reproduces the same tokens for the same seed. It also holds the per-sequence
 * state of Mirostat (its cut μ), so one sampler serves one generation: the scheduler's sequences each have their own.
 * Not thread-safe.
 */
public final class Sampler {
    /** The settings as the default order runs them (what was asked for when it was another order). */
    private final SamplingParams p;
    /** The stages in their order when it is not the default one, else null. */
    private final OrderedChain chain;
    private final SplittableRandom random;
    private final BucketedDraw whole;
    private int[] idx = new int[0];
    private float[] work = new float[0];
    private long[] heap = new long[0];
    private int[] seenIds = new int[0], seenCounts = new int[0];
    private int[] cand = new int[0];
    /** The draw's probabilities and weights: vocabulary-sized without a top-k, so kept rather than made per token. */
    private double[] probs = new double[0], weights = new double[0];
    /** Locally typical sampling's buffers, once it is on. */
    private Typical typical;
    /** Per generation: Mirostat's cut; null when Mirostat is off. */
    private final Mirostat mirostat;
    /** DRY, null when off; the last DRY built, whose breaker set a later generation with the same breakers reuses. */
    private final Dry dry, lastDry;

    public Sampler(SamplingParams params) {
        this(params, null);
    }

    /** {@link #Sampler(SamplingParams, Sampler, IntFunction, int)} without the vocabulary: DRY, if on, must have no breakers. */
    public Sampler(SamplingParams params, Sampler previous) {
        this(params, previous, null, 0);
    }

    /**
     * A sampler that takes over the work buffers of {@code previous} (null: new ones), which must no longer be used: a
     * session's generations one after another then share them instead of each leaving a vocabulary-sized buffer (1 MB
     * for Gemma 3's 262,144 ids, twice when drawing from the whole distribution) behind — garbage per request that a
     * busy server collected. Mirostat's state is never taken over: each generation starts from its own 2τ.
     *
     * @param tokenBytes each token's text (UTF-8), for DRY's sequence breakers; null when DRY is off or has none
     * @param vocab      how many tokens {@code tokenBytes} knows
     */
    public Sampler(SamplingParams params, Sampler previous, IntFunction<byte[]> tokenBytes, int vocab) {
        this(params, previous, tokenBytes, vocab, false);
    }

    /** @param ordered run the chain stage by stage even in the default order (tests compare the two paths) */
    Sampler(SamplingParams params, Sampler previous, IntFunction<byte[]> tokenBytes, int vocab, boolean ordered) {
        SamplingParams fast = ordered && !params.mirostat().on() ? null : params.inDefaultOrder();
        this.p = fast != null ? fast : params;
        this.mirostat = p.mirostat().on() ? new Mirostat(p.mirostat()) : null;
        Dry reusable = previous == null ? null : previous.lastDry;
        this.dry = p.dry().on() ? new Dry(p.dry(), tokenBytes, vocab, reusable) : null;
        this.lastDry = dry != null ? dry : reusable;
        this.random = new SplittableRandom(params.seed());
        this.chain = fast != null ? null : new OrderedChain(params, this::applyPenalties, dry == null ? null : dry::apply, random);
        if (previous != null) {
            whole = previous.whole;
            idx = previous.idx;
            work = previous.work;
            heap = previous.heap;
            seenIds = previous.seenIds;
            seenCounts = previous.seenCounts;
            cand = previous.cand;
            typical = previous.typical;
            probs = previous.probs;
            weights = previous.weights;
        } else {
            whole = new BucketedDraw();
        }
    }

    public SamplingParams params() {
        return p;
    }

    /**
     * Chooses the next token.
     *
     * @param logits  the model's logits (not modified)
     * @param offset  where this position's row starts
     * @param vocab   row length
     * @param history tokens seen so far (prompt and output), for the penalties; may be null
     * @param histLen how many entries of {@code history} are valid
     */
    public int sample(float[] logits, int offset, int vocab, int[] history, int histLen) {
        if (chain != null) {
            if (work.length < vocab) work = new float[vocab];
            System.arraycopy(logits, offset, work, 0, vocab);
            return chain.sample(work, null, vocab, vocab, history, histLen);
        }
        // greedy with no penalty to apply: the row's own argmax, without copying it (1 MB for Gemma 3) into the work buffer
        if (p.greedy() && !penalizes(history, histLen)) return VectorOps.argmax(logits, offset, vocab);
        float[] l = prepare(logits, offset, vocab, history, histLen);
        if (p.greedy()) return argmax(l, vocab);
        if (mirostat != null) return mirostat(l, null, vocab, vocab);
        int left = -1;
        if (p.topNSigmaOn()) {
            if (cand.length < vocab) cand = new int[vocab];
            left = TopNSigma.apply(l, null, vocab, p.topNSigma(), cand);
        }
        if (noTopK(vocab) && !p.truncatesBeyondTopP()) return whole.draw(l, null, vocab, p, random);
        // candidates sorted by logit, best first, by partial selection (typical and XTC over the whole vocabulary: all);
        // after top-n-sigma's cut, among the tokens it left: the same candidates, less the −∞ ones dropped below
        int n = left > 0 ? topK(l, cand, left, noTopK(vocab) ? left : Math.min(p.topK(), left))
                : topK(l, null, vocab, noTopK(vocab) ? vocab : p.topK());
        // masked tokens (a grammar's −∞) are never candidates, even where rounding would leave the draw past the
        // last positive weight
        while (n > 1 && l[idx[n - 1]] == Float.NEGATIVE_INFINITY) n--;
        return draw(l, n);
    }

    /**
     * Samples as {@link #sample} would from the logits with every token failing {@code allowed} masked to −∞, without
     * masking the vocabulary: the best candidates are checked one by one, and when the top-k (greedy: the best) allowed
     * tokens are found among them, top-p, min-p and temperature apply to those exactly as after a full mask. Returns −1
     * when that cannot be decided from the candidates (too few allowed, or no top-k cut): mask and call {@link #sample},
     * or {@link #sampleAmong} with the allowed set. Nothing is drawn from the random stream then.
     * A grammar inside a string allows most tokens, so this path is the common one and costs a few checks per step.
     */
    public int sampleAllowed(float[] logits, int offset, int vocab, int[] history, int histLen, IntPredicate allowed) {
        // Mirostat's candidates are its own cut, not the top-k
        // and top-n-sigma's cut depends on every allowed token's logit; a reordered chain's stages, on its order
        if (chain != null || !p.greedy() && (noTopK(vocab) || mirostat != null || p.topNSigmaOn())) return -1;
        float[] l = prepare(logits, offset, vocab, history, histLen);
        int k = p.greedy() ? 1 : Math.min(p.topK(), vocab);
        int m = Math.min(vocab, Math.max(4 * k, 256));
        int n = topK(l, null, vocab, m);
        int kept = 0;
        for (int i = 0; i < n && kept < k; i++) {
            int id = idx[i];
            if (l[id] == Float.NEGATIVE_INFINITY) break;
            if (allowed.test(id)) idx[kept++] = id;
        }
        // fewer than k allowed among the candidates: the k-th best allowed token may lie further down
        if (kept == 0 || (kept < k && n < vocab)) return -1;
        return p.greedy() ? idx[0] : draw(l, kept);
    }

    /**
     * Samples as {@link #sample} would from the logits with every token but {@code ids[0..n)} masked to −∞ — the same
     * token for the same random stream — in time proportional to {@code n}, not to the vocabulary: for a grammar state
     * that allows few tokens (a key, a number, punctuation) this is all the sampling a step needs.
     *
     * @param ids the allowed token ids, ascending, at least one
     */
    public int sampleAmong(float[] logits, int offset, int vocab, int[] ids, int n, int[] history, int histLen) {
        if (n <= 0) throw new IllegalArgumentException("no allowed token");
        if (work.length < vocab) work = new float[vocab];
        float[] l = work;
        // only the allowed entries of the work buffer are read below
        for (int j = 0; j < n; j++) l[ids[j]] = logits[offset + ids[j]];
        if (chain != null) return chain.sample(l, ids, n, vocab, history, histLen);
        int distinct = historyCounts(history, histLen);
        for (int d = 0; d < distinct; d++) {
            int t = seenIds[d];
            if (t >= 0 && t < vocab && Arrays.binarySearch(ids, 0, n, t) >= 0) l[t] = penalized(l[t], seenCounts[d]);
        }
        // DRY may lower entries outside ids too: those are never read
        if (dry != null) dry.apply(l, vocab, history, histLen);
        if (p.greedy()) {
            int best = ids[0];
            for (int j = 1; j < n; j++) if (l[ids[j]] > l[best]) best = ids[j];
            return best;
        }
        if (mirostat != null) return mirostat(l, ids, n, vocab);
        if (p.topNSigmaOn()) TopNSigma.apply(l, ids, n, p.topNSigma(), null);
        if (noTopK(vocab) && !p.truncatesBeyondTopP()) return whole.draw(l, ids, n, p, random);
        int c = topK(l, ids, n, noTopK(vocab) ? n : Math.min(p.topK(), n));
        while (c > 1 && l[idx[c - 1]] == Float.NEGATIVE_INFINITY) c--;
        return draw(l, c);
    }

    /** The logits with the penalties applied, in the sampler's work buffer. */
    private float[] prepare(float[] logits, int offset, int vocab, int[] history, int histLen) {
        if (work.length < vocab) work = new float[vocab];
        float[] l = work;
        System.arraycopy(logits, offset, l, 0, vocab);
        applyPenalties(l, vocab, history, histLen);
        if (dry != null) dry.apply(l, vocab, history, histLen);
        return l;
    }

    /**
     * Mirostat's draw among the candidates {@code ids[0..n)} (ascending; null: 0..n-1) after temperature, as llama.cpp
     * chains them: version 1 keeps its estimated top-k, version 2 the tokens whose surprise is at most μ bits (at least
     * the best); then a draw from the kept ones, renormalised, and μ moves with the drawn token's surprise.
     */
    private int mirostat(float[] l, int[] ids, int n, int vocab) {
        float t = p.temperature();
        if (t != 1f) for (int j = 0; j < n; j++) l[ids == null ? j : ids[j]] /= t;
        int c;
        if (mirostat.version() == 1) {
            int m = finite(l, topK(l, ids, n, Math.min(Mirostat.M, n)));
            int k = mirostat.topK(l, idx, m, vocab);
            c = k <= m ? k : finite(l, topK(l, ids, n, Math.min(k, n)));
        } else {
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < n; j++) max = Math.max(max, l[ids == null ? j : ids[j]]);
            double z = 0;
            for (int j = 0; j < n; j++) z += Math.exp(l[ids == null ? j : ids[j]] - max);
            // log p = l − max − ln z must reach −μ·ln 2
            double floor = max + Math.log(z) + mirostat.minLogProb();
            if (cand.length < n) cand = new int[n];
            int kept = 0;
            for (int j = 0; j < n; j++) {
                int id = ids == null ? j : ids[j];
                if (l[id] >= floor && l[id] != Float.NEGATIVE_INFINITY) cand[kept++] = id;
            }
            c = kept == 0 ? topK(l, ids, n, 1) : topK(l, cand, kept, kept);
        }
        float max = l[idx[0]];
        if (weights.length < c) weights = new double[c];
        double[] w = weights;
        double total = 0;
        for (int i = 0; i < c; i++) total += w[i] = Math.exp(l[idx[i]] - max);
        double r = random.nextDouble() * total;
        int chosen = c - 1;
        for (int i = 0; i < c; i++) {
            r -= w[i];
            if (r < 0) {
                chosen = i;
                break;
            }
        }
        mirostat.observe(w[chosen] / total);
        return idx[chosen];
    }

    /** The count of candidates idx[0..n) left once the masked (−∞) ones at the end are dropped, at least one. */
    private int finite(float[] l, int n) {
        while (n > 1 && l[idx[n - 1]] == Float.NEGATIVE_INFINITY) n--;
        return n;
    }

    /** Mirostat's cut μ now (tests), or NaN when Mirostat is off. */
    double mirostatMu() {
        return mirostat == null ? Double.NaN : mirostat.mu();
    }

    /** Whether every token is a candidate: no top-k, or one that keeps the whole vocabulary ({@link BucketedDraw}). */
    private boolean noTopK(int vocab) {
        return p.topK() <= 0 || p.topK() >= vocab;
    }

    /** Locally typical, top-p, min-p, XTC and temperature over the candidates idx[0..n), best first; one draw. */
    private int draw(float[] l, int n) {
        int[] c = idx;
        if (p.typicalP() < 1f) {
            if (typical == null) typical = new Typical();
            n = typical.filter(l, c, n, p.typicalP());
        }
        // probabilities without temperature for top-p / min-p (llama.cpp applies temperature last)
        float max = l[c[0]];
        if (probs.length < n) probs = new double[n];
        if (weights.length < n) weights = new double[n];
        double[] prob = probs;
        double sum = 0;
        for (int i = 0; i < n; i++) sum += prob[i] = Math.exp(l[c[i]] - max);
        int keep = n;
        if (p.topP() < 1f) keep = topPCut(prob, n, sum, p.topP());
        if (p.minP() > 0f) {
            double threshold = p.minP() * prob[0];
            int m = 1;
            while (m < keep && prob[m] >= threshold) m++;
            keep = m;
        }
        int from = Xtc.firstKept(l, c, keep, p.xtc(), random);
        // temperature, then a draw from the renormalised distribution
        double total = 0;
        double[] w = weights;
        for (int i = from; i < keep; i++) total += w[i] = Math.exp((l[c[i]] - max) / p.temperature());
        double r = random.nextDouble() * total;
        for (int i = from; i < keep; i++) {
            r -= w[i];
            if (r < 0) return c[i];
        }
        return c[keep - 1];
    }

    private void applyPenalties(float[] l, int vocab, int[] history, int histLen) {
        int distinct = historyCounts(history, histLen);
        for (int d = 0; d < distinct; d++) {
            int t = seenIds[d];
            if (t >= 0 && t < vocab) l[t] = penalized(l[t], seenCounts[d]);
        }
    }

    /** Whether a penalty changes any logit for this history (what {@link #historyCounts} would find to do). */
    private boolean penalizes(int[] history, int histLen) {
        if (dry != null && history != null && histLen >= 2) return true;
        if (history == null || p.repeatLastN() == 0 || histLen <= 0) return false;
        return p.repeatPenalty() != 1f || p.presencePenalty() != 0f || p.frequencyPenalty() != 0f;
    }

    /**
     * The distinct tokens of the penalty window (the last repeatLastN of the history) with their counts, in
     * {@code seenIds} / {@code seenCounts}; 0 when no penalty applies.
     */
    private int historyCounts(int[] history, int histLen) {
        if (history == null || p.repeatLastN() == 0) return 0;
        if (p.repeatPenalty() == 1f && p.presencePenalty() == 0f && p.frequencyPenalty() == 0f) return 0;
        int from = Math.max(0, histLen - p.repeatLastN());
        int[] seen = Arrays.copyOfRange(history, from, histLen);
        Arrays.sort(seen);
        if (seenIds.length < seen.length) {
            seenIds = new int[seen.length];
            seenCounts = new int[seen.length];
        }
        int distinct = 0;
        for (int i = 0; i < seen.length; ) {
            int t = seen[i], j = i;
            while (j < seen.length && seen[j] == t) j++;
            seenIds[distinct] = t;
            seenCounts[distinct++] = j - i;
            i = j;
        }
        return distinct;
    }

    private float penalized(float v, int count) {
        v = v > 0 ? v / p.repeatPenalty() : v * p.repeatPenalty();
        return v - (count * p.frequencyPenalty() + p.presencePenalty());
    }

    /** Index of the largest logit (the lowest index on ties). */
    public static int argmax(float[] l, int vocab) {
        return VectorOps.argmax(l, 0, vocab);
    }

    /**
     * Maps a float to an int whose signed order is the float's order (NaN aside). Branch-free: logits' signs are
     * random, and a branch on them mispredicted every other token (a top-k scan of 262 144 logits took 4× as long).
     */
    private static int sortable(float f) {
        int b = Float.floatToRawIntBits(f);
        return b ^ (b >> 31 & 0x7fffffff);
    }

    /**
     * Fills {@code idx[0..k)} with the k best of the tokens {@code ids[0..n)} (ascending; null: 0..n-1), best first, and
     * returns k. "Best" is one total order, larger logit first and the lower id on equal logits, whatever the path: the
     * masked, the checked and the allowed-set samplers then pick the same candidates even where logits tie.
     */
    private int topK(float[] l, int[] ids, int n, int k) {
        if (idx.length < Math.max(k, 1)) idx = new int[Math.max(k, 1)];
        if (k >= n) {
            // full sort without boxing: (descending sortable logit bits, id) packed into one long per token
            // the heap's buffer, unused on this path
            if (heap.length < n) heap = new long[n];
            long[] keys = heap;
            for (int j = 0; j < n; j++) keys[j] = key(l, ids == null ? j : ids[j]);
            Arrays.sort(keys, 0, n);
            for (int j = 0; j < n; j++) idx[j] = (int) keys[j];
            return n;
        }
        // max-heap of the k best keys seen so far (the root is the worst of them); ids come in ascending order, so a
        // token whose logit only equals the root's is never better than it
        if (heap.length < k) heap = new long[k];
        long[] h = heap;
        int size = 0;
        int worst = Integer.MIN_VALUE; // the root's sortable logit once the heap is full
        for (int j = 0; j < n; j++) {
            // a whole row: jump to the next logit that could displace the worst held (most never can)
            if (ids == null && size == k && (j = VectorOps.firstAtLeast(l, j, n, l[(int) h[0]])) == n) break;
            int i = ids == null ? j : ids[j];
            if (size == k) {
                if (sortable(l[i]) <= worst) continue;
                h[0] = key(l, i);
                siftDown(h, 0, k);
                worst = sortable(l[(int) h[0]]);
            } else {
                int c = size++;
                h[c] = key(l, i);
                while (c > 0) {
                    int pc = (c - 1) >>> 1;
                    if (h[pc] >= h[c]) break;
                    long t = h[pc]; h[pc] = h[c]; h[c] = t;
                    c = pc;
                }
                if (size == k) worst = sortable(l[(int) h[0]]);
            }
        }
        Arrays.sort(h, 0, k);
        for (int j = 0; j < k; j++) idx[j] = (int) h[j];
        return k;
    }

    /** How many of the n candidates (probabilities {@code prob[i] / sum}, best first) top-p keeps (here and in {@link OrderedChain}). */
    static int topPCut(double[] prob, int n, double sum, float topP) {
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += prob[i] / sum;
            if (cum >= topP) return i + 1;
        }
        return n;
    }

    /** A token's place in the sampler's order, as one long: ascending keys are descending logits, then ascending ids. */
    static long key(float[] l, int id) {
        return (long) ~sortable(l[id]) << 32 | id;
    }

    /** Restores a max-heap of {@code size} keys below {@code j} (the top-k heaps here and in {@link OrderedChain}). */
    static void siftDown(long[] h, int j, int size) {
        while (true) {
            int a = 2 * j + 1, b = a + 1, m = j;
            if (a < size && h[a] > h[m]) m = a;
            if (b < size && h[b] > h[m]) m = b;
            if (m == j) return;
            long t = h[m]; h[m] = h[j]; h[j] = t;
            j = m;
        }
    }
}
