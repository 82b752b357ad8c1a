package dev.jemma.core.sampling;

import dev.jemma.core.tensor.VectorOps;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The sampler's draw when no top-k cut applies ({@code top_k} 0): top-p, min-p and temperature over every candidate,
 * without sorting the vocabulary. Sorting 262 144 logits to find where the cumulative probability reaches top-p took
 * ~20 ms per token, several times a small model's forward pass; llama.cpp's sampler avoids it the same way.
 *
 * <p>One pass takes the softmax's normaliser and a histogram of the logits by their distance below the maximum
 * ({@value #BUCKETS} buckets over at most {@value #RANGE} logits; the farthest tokens share the last bucket). Since a
 * bucket holds a contiguous run of the sorted order (larger logit first, the lower id first on ties), the sorted
 * sampler's walks — the cumulative probability until it reaches top-p, the temperature weights until the random draw
 * is spent — step over whole buckets by their sums and sort only the one bucket where a walk stops. The tokens drawn
 * are the sorted sampler's: the only difference is the order of some floating-point additions (bucket sums instead of
 * token after token), which moves a sum by a few units in its 16th digit and so never changes the token unless a cut
 * lies that close to a boundary.
 *
 * <p>Every input goes through the same arithmetic in id order, so masking the vocabulary to −∞ and drawing among the
 * allowed ids ({@link Sampler#sampleAmong}) draw the same token bit for bit. Not thread-safe (one per sampler).
 */
final class BucketedDraw {
    static final int BUCKETS = 1024;
    static final float RANGE = 64f;

    /** Per bucket: Σ exp(l − max) in id order, token count, Σ of the temperature weights (kept buckets). */
    private final double[] mass = new double[BUCKETS];
    private final int[] count = new int[BUCKETS];
    private final double[] weight = new double[BUCKETS];
    /** Buckets sorted during this draw: keys (see {@link Sampler#key}), best first; null when not sorted. */
    private final long[][] sorted = new long[BUCKETS][];
    private final int[] sortedList = new int[BUCKETS];
    private int sortedCount;
    /** Each candidate's bucket (by position j); −1 for tokens at −∞. */
    private short[] where = new short[0];
    /** The candidates' ids grouped by bucket, ascending within one: bucket b is order[start[b] .. start[b] + count[b]). */
    private int[] order = new int[0];
    private final int[] start = new int[BUCKETS + 1], fill = new int[BUCKETS];

    // the draw in progress
    private float[] l;
    private int[] ids;
    private int n;
    private float max, scale;
    private final float[] bounds = new float[2];

    /**
     * Draws from the candidates {@code ids[0..n)} (ascending; null: 0..n-1) of logits {@code l}, tokens at −∞ left out,
     * as the sorted sampler does after sorting them all: top-p, then min-p, then temperature; one value taken from
     * {@code random}.
     */
    int draw(float[] l, int[] ids, int n, SamplingParams p, SplittableRandom random) {
        this.l = l;
        this.ids = ids;
        this.n = n;
        try {
            return run(p, random);
        } finally {
            for (int i = 0; i < sortedCount; i++) sorted[sortedList[i]] = null;
            sortedCount = 0;
            this.l = null;
            this.ids = null;
        }
    }

    private int run(SamplingParams p, SplittableRandom random) {
        float hi, lo;
        if (ids == null) {
            VectorOps.range(l, n, bounds);
            hi = bounds[0];
            lo = bounds[1];
        } else {
            hi = Float.NEGATIVE_INFINITY;
            lo = Float.POSITIVE_INFINITY;
            for (int j = 0; j < n; j++) {
                float v = l[ids[j]];
                hi = Math.max(hi, v);
                if (v != Float.NEGATIVE_INFINITY) lo = Math.min(lo, v);
            }
        }
        double u = random.nextDouble();
        // every candidate masked: the sorted sampler's first candidate, the lowest id
        if (hi == Float.NEGATIVE_INFINITY) return id(0);
        max = hi;
        float range = Math.min(hi - lo, RANGE);
        scale = range > 0 ? BUCKETS / range : 0f;

        // the softmax's normaliser (no temperature: llama.cpp applies it last), the histogram, and the min-p count
        Arrays.fill(mass, 0);
        Arrays.fill(count, 0);
        double threshold = p.minP(); // min-p × the best token's exp(0)
        double z = 0;
        int finite = 0, aboveMinP = 0;
        if (where.length < n) where = new short[n];
        for (int j = 0; j < n; j++) {
            float v = l[id(j)];
            if (v == Float.NEGATIVE_INFINITY) {
                where[j] = -1;
                continue;
            }
            double e = Math.exp(v - max);
            z += e;
            int b = bucket(v);
            where[j] = (short) b;
            mass[b] += e;
            count[b]++;
            finite++;
            if (e >= threshold) aboveMinP++;
        }

        // group the ids by bucket (a counting sort, stable: ascending ids within a bucket)
        if (order.length < finite) order = new int[finite];
        for (int b = 0; b < BUCKETS; b++) start[b + 1] = start[b] + count[b];
        System.arraycopy(start, 0, fill, 0, BUCKETS);
        for (int j = 0; j < n; j++) {
            int b = where[j];
            if (b >= 0) order[fill[b]++] = id(j);
        }

        // top-p: the first position (in the sorted order) where the cumulative probability reaches it
        int keep = finite;
        if (p.topP() < 1f) {
            double cum = 0;
            int before = 0;
            search:
            for (int b = 0; b < BUCKETS; b++) {
                if (count[b] == 0) continue;
                if (cum + mass[b] / z < p.topP()) {
                    cum += mass[b] / z;
                    before += count[b];
                    continue;
                }
                long[] keys = sortedBucket(b);
                for (int i = 0; i < keys.length; i++) {
                    cum += Math.exp(logit(keys[i]) - max) / z;
                    if (cum >= p.topP()) {
                        keep = before + i + 1;
                        break search;
                    }
                }
                before += count[b]; // rounding left the cut beyond this bucket
            }
        }
        // min-p keeps a prefix too: the tokens at least min-p times as likely as the best
        if (p.minP() > 0f) keep = Math.min(keep, Math.max(1, aboveMinP));

        // the kept prefix: whole buckets before `last`, and the first `partial` tokens of bucket `last`
        int last = 0, before = 0;
        while (before + count[last] < keep) before += count[last++];
        int partial = keep - before;
        boolean whole = partial == count[last];

        float t = p.temperature();
        if (t == 1f) {
            // exp((l − max) / 1) is exp(l − max): the weights are the probabilities already summed
            System.arraycopy(mass, 0, weight, 0, last + 1);
        } else {
            Arrays.fill(weight, 0, last + 1, 0);
            // whole buckets in id order, as everywhere
            int upTo = whole ? last : last - 1;
            for (int b = 0; b <= upTo; b++) {
                double w = 0;
                for (int i = start[b], e = start[b + 1]; i < e; i++) w += Math.exp((l[order[i]] - max) / t);
                weight[b] = w;
            }
        }
        if (!whole) {
            long[] keys = sortedBucket(last);
            double w = 0;
            for (int i = 0; i < partial; i++) w += weightOf(keys[i], t);
            weight[last] = w;
        }
        double total = 0;
        for (int b = 0; b <= last; b++) total += weight[b];

        // the draw: whole buckets while the remainder stays positive, token by token where it runs out
        double r = u * total;
        for (int b = 0; b <= last; b++) {
            if (count[b] == 0) continue;
            if (r - weight[b] >= 0) {
                r -= weight[b];
                continue;
            }
            long[] keys = sortedBucket(b);
            int m = b == last ? partial : keys.length;
            for (int i = 0; i < m; i++) {
                r -= weightOf(keys[i], t);
                if (r < 0) return (int) keys[i];
            }
        }
        // rounding left a sliver: the last kept token, as the sorted sampler returns
        long[] keys = sortedBucket(last);
        return (int) keys[partial - 1];
    }

    private int id(int j) {
        return ids == null ? j : ids[j];
    }

    /** Monotone in the logit: a larger logit never lands in a later bucket, equal logits in the same one. */
    private int bucket(float v) {
        return Math.min(BUCKETS - 1, (int) ((max - v) * scale));
    }

    private float logit(long key) {
        return l[(int) key];
    }

    private double weightOf(long key, float t) {
        float d = logit(key) - max;
        return Math.exp(t == 1f ? d : d / t);
    }

    /** Bucket {@code b}'s tokens in the sorted sampler's order (sorted once per draw). */
    private long[] sortedBucket(int b) {
        long[] keys = sorted[b];
        if (keys != null) return keys;
        keys = new long[count[b]];
        for (int i = 0; i < keys.length; i++) keys[i] = Sampler.key(l, order[start[b] + i]);
        Arrays.sort(keys);
        sorted[b] = keys;
        sortedList[sortedCount++] = b;
        return keys;
    }
}
