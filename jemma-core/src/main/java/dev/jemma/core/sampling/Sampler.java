package dev.jemma.core.sampling;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;

/**
 * Picks token ids from logits according to {@link SamplingParams}. Keeps its own random stream (seeded once), so a
 * sampler reused for a whole generation reproduces the same tokens for the same seed. Not thread-safe.
 */
public final class Sampler {
    private final SamplingParams p;
    private final SplittableRandom random;
    private int[] idx = new int[0];
    private float[] work = new float[0];

    public Sampler(SamplingParams params) {
        this.p = params;
        this.random = new SplittableRandom(params.seed());
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
        float[] l = prepare(logits, offset, vocab, history, histLen);
        if (p.greedy()) return argmax(l, vocab);
        // candidates sorted by logit, best first: top-k by partial selection, else everything
        int k = p.topK() > 0 ? Math.min(p.topK(), vocab) : vocab;
        int n = topK(l, vocab, k);
        // masked tokens (a grammar's −∞) are never candidates, even where rounding would leave the draw past the
        // last positive weight
        while (n > 1 && l[idx[n - 1]] == Float.NEGATIVE_INFINITY) n--;
        return draw(l, n);
    }

    /**
     * Samples as {@link #sample} would from the logits with every token failing {@code allowed} masked to −∞, without
     * masking the vocabulary: the best candidates are checked one by one, and when the top-k (greedy: the best) allowed
     * tokens are found among them, top-p, min-p and temperature apply to those exactly as after a full mask. Returns −1
     * when that cannot be decided from the candidates (too few allowed, or no top-k cut): mask and call {@link #sample}.
     * A grammar inside a string allows most tokens, so this path is the common one and costs a few checks per step.
     */
    public int sampleAllowed(float[] logits, int offset, int vocab, int[] history, int histLen, IntPredicate allowed) {
        if (!p.greedy() && p.topK() <= 0) return -1;
        float[] l = prepare(logits, offset, vocab, history, histLen);
        int k = p.greedy() ? 1 : Math.min(p.topK(), vocab);
        int m = Math.min(vocab, Math.max(4 * k, 256));
        int n = topK(l, vocab, m);
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

    /** The logits with the penalties applied, in the sampler's work buffer. */
    private float[] prepare(float[] logits, int offset, int vocab, int[] history, int histLen) {
        if (work.length < vocab) work = new float[vocab];
        float[] l = work;
        System.arraycopy(logits, offset, l, 0, vocab);
        applyPenalties(l, vocab, history, histLen);
        return l;
    }

    /** Top-p, min-p and temperature over the candidates idx[0..n), best first; one draw. */
    private int draw(float[] l, int n) {
        int[] c = idx;
        // probabilities without temperature for top-p / min-p (llama.cpp applies temperature last)
        float max = l[c[0]];
        double[] prob = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += prob[i] = Math.exp(l[c[i]] - max);
        int keep = n;
        if (p.topP() < 1f) {
            double cum = 0;
            for (int i = 0; i < n; i++) {
                cum += prob[i] / sum;
                if (cum >= p.topP()) {
                    keep = i + 1;
                    break;
                }
            }
        }
        if (p.minP() > 0f) {
            double threshold = p.minP() * prob[0];
            int m = 1;
            while (m < keep && prob[m] >= threshold) m++;
            keep = m;
        }
        // temperature, then a draw from the renormalised distribution
        double total = 0;
        double[] w = new double[keep];
        for (int i = 0; i < keep; i++) total += w[i] = Math.exp((l[c[i]] - max) / p.temperature());
        double r = random.nextDouble() * total;
        for (int i = 0; i < keep; i++) {
            r -= w[i];
            if (r < 0) return c[i];
        }
        return c[keep - 1];
    }

    private void applyPenalties(float[] l, int vocab, int[] history, int histLen) {
        if (history == null || p.repeatLastN() == 0) return;
        if (p.repeatPenalty() == 1f && p.presencePenalty() == 0f && p.frequencyPenalty() == 0f) return;
        int from = Math.max(0, histLen - p.repeatLastN());
        int[] seen = Arrays.copyOfRange(history, from, histLen);
        Arrays.sort(seen);
        for (int i = 0; i < seen.length; ) {
            int t = seen[i], j = i;
            while (j < seen.length && seen[j] == t) j++;
            int count = j - i;
            i = j;
            if (t < 0 || t >= vocab) continue;
            float v = l[t];
            v = v > 0 ? v / p.repeatPenalty() : v * p.repeatPenalty();
            v -= count * p.frequencyPenalty() + p.presencePenalty();
            l[t] = v;
        }
    }

    /** Index of the largest logit (the lowest index on ties). */
    public static int argmax(float[] l, int vocab) {
        int best = 0;
        for (int i = 1; i < vocab; i++) if (l[i] > l[best]) best = i;
        return best;
    }

    /** Maps a float to an int whose signed order is the float's order (NaN aside). */
    private static int sortable(float f) {
        int b = Float.floatToRawIntBits(f);
        return b >= 0 ? b : b ^ 0x7fffffff;
    }

    /** Fills {@code idx[0..k)} with the k largest logits' ids, largest first; returns k. */
    private int topK(float[] l, int vocab, int k) {
        if (idx.length < Math.max(k, 1)) idx = new int[Math.max(k, 1)];
        if (k == vocab) {
            // full sort without boxing: (descending sortable logit bits, id) packed into one long per token
            long[] keys = new long[vocab];
            for (int i = 0; i < vocab; i++) keys[i] = (long) ~sortable(l[i]) << 32 | i;
            Arrays.sort(keys);
            for (int i = 0; i < vocab; i++) idx[i] = (int) keys[i];
            return vocab;
        }
        // min-heap of the best k seen so far
        int[] h = new int[k];
        int size = 0;
        for (int i = 0; i < vocab; i++) {
            float v = l[i];
            if (size < k) {
                int j = size++;
                h[j] = i;
                while (j > 0) {
                    int pj = (j - 1) >>> 1;
                    if (l[h[pj]] <= l[h[j]]) break;
                    int t = h[pj]; h[pj] = h[j]; h[j] = t;
                    j = pj;
                }
            } else if (v > l[h[0]]) {
                h[0] = i;
                int j = 0;
                while (true) {
                    int a = 2 * j + 1, b = a + 1, m = j;
                    if (a < k && l[h[a]] < l[h[m]]) m = a;
                    if (b < k && l[h[b]] < l[h[m]]) m = b;
                    if (m == j) break;
                    int t = h[m]; h[m] = h[j]; h[j] = t;
                    j = m;
                }
            }
        }
        Integer[] best = new Integer[k];
        for (int i = 0; i < k; i++) best[i] = h[i];
        Arrays.sort(best, (a, b) -> {
            int cmp = Float.compare(l[b], l[a]);
            return cmp != 0 ? cmp : Integer.compare(a, b);
        });
        for (int i = 0; i < k; i++) idx[i] = best[i];
        return k;
    }
}
