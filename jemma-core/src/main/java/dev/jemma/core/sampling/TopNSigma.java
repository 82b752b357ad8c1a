package dev.jemma.core.sampling;

/**
 * Top-n-sigma (Tang et al., 2024, llama.cpp's {@code top_n_sigma}): masks every token whose logit lies more than n
 * standard deviations of the logits below the best one. It works on logits, so temperature (applied later) does not
 * change which tokens stay.
 */
final class TopNSigma {
    private TopNSigma() {
    }

    /**
     * Masks to −∞ the candidates {@code ids[0..n)} (null: 0..n-1) below the cut; statistics over the finite ones. When
     * {@code kept} is not null, the candidates left (ascending) are written to it and their count returned, so a top-k
     * after the cut looks at those few instead of scanning a vocabulary of −∞ (which no logit skip can pass over);
     * -1 when nothing was cut.
     */
    static int apply(float[] l, int[] ids, int n, float sigmas, int[] kept) {
        if (sigmas <= 0 || n <= 1) return -1;
        float max = Float.NEGATIVE_INFINITY;
        double sum = 0;
        int finite = 0;
        for (int j = 0; j < n; j++) {
            float v = l[ids == null ? j : ids[j]];
            if (v == Float.NEGATIVE_INFINITY) continue;
            max = Math.max(max, v);
            sum += v;
            finite++;
        }
        if (finite <= 1) return -1;
        double mean = sum / finite, acc = 0;
        for (int j = 0; j < n; j++) {
            float v = l[ids == null ? j : ids[j]];
            if (v != Float.NEGATIVE_INFINITY) acc += (v - mean) * (v - mean);
        }
        double cut = max - sigmas * Math.sqrt(acc / finite);
        int left = 0;
        for (int j = 0; j < n; j++) {
            int id = ids == null ? j : ids[j];
            if (l[id] < cut) l[id] = Float.NEGATIVE_INFINITY;
            else if (kept != null) kept[left++] = id;
        }
        return kept == null ? -1 : left;
    }
}
