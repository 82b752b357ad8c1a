package dev.jemma.core.sampling;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The sampler chain in an order other than the default ({@link SamplerChain}), as llama.cpp runs it: each listed stage
 * in turn on the candidates the stages before it left, then the seeded draw. The default order (stages left out or
 * not) never comes here: {@link Sampler}'s own path runs it without sorting the vocabulary. Given that order, this
 * draws the same tokens as that path over sorted candidates — the same arithmetic in the same sequence (probabilities
 * as exp(l − max) over the candidates best first, a temperature that ends the chain folded into the draw's weights, the
 * random stream used by XTC and the draw alone) — which {@code OrderedChainTest} checks.
 *
 * <p>Candidates are kept in {@code c[0..n)}, sorted by the sampler's one total order (larger logit first, the lower id
 * on ties) only where a stage needs it (top-k, typical, top-p, XTC, the draw). Logits are changed in place in the
 * sampler's work buffer: by the penalties and DRY, and divided by a temperature that is not the last stage. Not
 * thread-safe (one per sampler).
 */
final class OrderedChain {
    /** Changes logits in place for the tokens seen: the repetition penalties, DRY. */
    interface LogitAdjuster {
        void apply(float[] l, int vocab, int[] history, int histLen);
    }

    private final SamplingParams p;
    private final SamplerStage[] stages;
    private final LogitAdjuster penalties, dry;
    private final SplittableRandom random;
    private int[] c = new int[0];
    private long[] keys = new long[0];
    private double[] weights = new double[0];
    private Typical typical;
    // the candidates now: c[from..n) (XTC's cut is kept as `from` so the draw's maximum stays the one before it, as in
    // the default path's arithmetic), sorted or not
    private int n, from;
    private boolean sorted;

    /**
     * @param dry null when DRY is off
     */
    OrderedChain(SamplingParams p, LogitAdjuster penalties, LogitAdjuster dry, SplittableRandom random) {
        this.p = p;
        this.stages = p.samplers().stages().toArray(SamplerStage[]::new);
        this.penalties = penalties;
        this.dry = dry;
        this.random = random;
    }

    /**
     * Runs the chain and draws over the candidates {@code ids[0..count)} (ascending; null: 0..count-1) of the logits
     * {@code l} (the sampler's work buffer, changed here); tokens at −∞ are never candidates.
     */
    int sample(float[] l, int[] ids, int count, int vocab, int[] history, int histLen) {
        candidates(l, ids, count);
        boolean greedy = p.temperature() <= 0;
        float foldedTemperature = 1f;
        for (int s = 0; s < stages.length; s++) {
            SamplerStage stage = stages[s];
            boolean last = s == stages.length - 1;
            if (!(stage == SamplerStage.TEMPERATURE && last)) settle();
            switch (stage) {
                case PENALTIES -> {
                    penalties.apply(l, vocab, history, histLen);
                    sorted = false;
                }
                case DRY -> {
                    if (dry != null) {
                        dry.apply(l, vocab, history, histLen);
                        sorted = false;
                    }
                }
                case TOP_N_SIGMA -> {
                    if (p.topNSigma() > 0) {
                        TopNSigma.apply(l, c, n, p.topNSigma(), null);
                        dropMasked(l);
                    }
                }
                case TOP_K -> {
                    if (p.topK() > 0 && p.topK() < n) topK(l, p.topK());
                }
                // under greedy, typical and XTC do not run: they would only ever drop the best token
                case TYPICAL_P -> {
                    if (!greedy && p.typicalP() < 1f) {
                        sort(l);
                        if (typical == null) typical = new Typical();
                        n = typical.filter(l, c, n, p.typicalP());
                    }
                }
                case TOP_P -> {
                    if (p.topP() < 1f) topP(l);
                }
                case MIN_P -> {
                    if (p.minP() > 0f) minP(l);
                }
                case XTC -> {
                    if (!greedy && p.xtc().on()) {
                        sort(l);
                        from = Xtc.firstKept(l, c, n, p.xtc(), random);
                    }
                }
                case TEMPERATURE -> {
                    if (greedy) return best(l);
                    if (last) foldedTemperature = p.temperature();
                    else divide(l, p.temperature());
                }
            }
        }
        return draw(l, foldedTemperature);
    }

    /** The finite candidates, in id order; when every one is masked, the first (the sorted sampler's pick). */
    private void candidates(float[] l, int[] ids, int count) {
        if (c.length < Math.max(count, 1)) c = new int[Math.max(count, 1)];
        int m = 0;
        for (int j = 0; j < count; j++) {
            int id = ids == null ? j : ids[j];
            if (l[id] != Float.NEGATIVE_INFINITY) c[m++] = id;
        }
        if (m == 0) {
            c[0] = ids == null ? 0 : ids[0];
            m = 1;
        }
        n = m;
        from = 0;
        sorted = false;
    }

    /** Applies XTC's pending cut: the candidates become c[0..n) again. */
    private void settle() {
        if (from == 0) return;
        System.arraycopy(c, from, c, 0, n - from);
        n -= from;
        from = 0;
    }

    private void dropMasked(float[] l) {
        int m = 0;
        for (int i = 0; i < n; i++) if (l[c[i]] != Float.NEGATIVE_INFINITY) c[m++] = c[i];
        n = Math.max(m, 1);
    }

    /** Sorts the candidates best first (one total order: larger logit, then the lower id). */
    private void sort(float[] l) {
        if (sorted) return;
        long[] k = keys(n);
        for (int i = 0; i < n; i++) k[i] = Sampler.key(l, c[i]);
        Arrays.sort(k, 0, n);
        for (int i = 0; i < n; i++) c[i] = (int) k[i];
        sorted = true;
    }

    /** Keeps the k best candidates, best first: a max-heap of the k best keys seen (its root the worst of them). */
    private void topK(float[] l, int k) {
        if (sorted) {
            n = k;
            return;
        }
        long[] h = keys(k);
        for (int i = 0; i < k; i++) h[i] = Sampler.key(l, c[i]);
        for (int i = k / 2 - 1; i >= 0; i--) Sampler.siftDown(h, i, k);
        for (int i = k; i < n; i++) {
            long key = Sampler.key(l, c[i]);
            if (key >= h[0]) continue;
            h[0] = key;
            Sampler.siftDown(h, 0, k);
        }
        Arrays.sort(h, 0, k);
        for (int i = 0; i < k; i++) c[i] = (int) h[i];
        n = k;
        sorted = true;
    }

    /** Top-p over the candidates' probabilities (a temperature before it included), as the default path computes it. */
    private void topP(float[] l) {
        sort(l);
        double[] prob = weights(n);
        float max = l[c[0]];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += prob[i] = Math.exp(l[c[i]] - max);
        n = Sampler.topPCut(prob, n, sum, p.topP());
    }

    /** Keeps the candidates at least min-p times as likely as the best; order kept. */
    private void minP(float[] l) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, l[c[i]]);
        double threshold = p.minP();
        int m = 0;
        for (int i = 0; i < n; i++) if (Math.exp(l[c[i]] - max) >= threshold) c[m++] = c[i];
        n = Math.max(m, 1);
    }

    /**
     * A temperature that other stages follow: the candidates' logits divided. Dividing keeps their order, but may make
     * two neighbours equal, which the total order then ranks by id: an insertion pass restores it.
     */
    private void divide(float[] l, float t) {
        if (t == 1f) return;
        for (int i = 0; i < n; i++) l[c[i]] /= t;
        if (!sorted) return;
        for (int i = 1; i < n; i++) {
            int id = c[i];
            long key = Sampler.key(l, id);
            int j = i - 1;
            while (j >= 0 && Sampler.key(l, c[j]) > key) {
                c[j + 1] = c[j];
                j--;
            }
            c[j + 1] = id;
        }
    }

    /** Greedy at the temperature stage: the best candidate left. */
    private int best(float[] l) {
        if (sorted) return c[from];
        long bestKey = Long.MAX_VALUE;
        for (int i = from; i < n; i++) bestKey = Math.min(bestKey, Sampler.key(l, c[i]));
        return (int) bestKey;
    }

    /** The seeded draw from the candidates, weights exp((l − max) / t), best first. */
    private int draw(float[] l, float t) {
        sort(l);
        float max = l[c[0]];
        double[] w = weights(n);
        double total = 0;
        for (int i = from; i < n; i++) total += w[i] = Math.exp((l[c[i]] - max) / t);
        double r = random.nextDouble() * total;
        for (int i = from; i < n; i++) {
            r -= w[i];
            if (r < 0) return c[i];
        }
        return c[n - 1];
    }

    private long[] keys(int size) {
        if (keys.length < size) keys = new long[size];
        return keys;
    }

    private double[] weights(int size) {
        if (weights.length < size) weights = new double[size];
        return weights;
    }
}
