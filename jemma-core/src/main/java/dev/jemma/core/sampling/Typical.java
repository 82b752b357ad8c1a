package dev.jemma.core.sampling;

import java.util.Arrays;

/**
 * Locally typical sampling (Meister et al., 2022, llama.cpp's {@code typical_p}): the tokens ranked by how far their
 * surprise (−log p) lies from the distribution's entropy, closest first, are kept until their probability exceeds p.
 * The most likely token is dropped when it is far less surprising than the distribution is on average. Keeps its work
 * buffers (one per sampler): without a top-k the candidates are the whole vocabulary. Not thread-safe.
 */
final class Typical {
    private double[] prob = new double[0];
    private long[] order = new long[0];

    /**
     * Keeps the typical set of the candidates {@code c[0..n)} (best first, finite logits), probabilities taken over
     * them, at least one token. Compacts the kept ones into {@code c[0..k)}, still best first, and returns k.
     *
     * <p>With z = Σ e^(l_j − max), −log p_i = ln z − (l_i − max) and the entropy H = ln z − Σ p_j (l_j − max), so a
     * token's distance |−log p_i − H| is |E − (l_i − max)| with E = Σ p_j (l_j − max): no logarithm per token (two per
     * token were most of the cost over a 262,144-token vocabulary).
     */
    int filter(float[] l, int[] c, int n, float p) {
        if (p >= 1f || n <= 1) return n;
        if (prob.length < n) {
            prob = new double[n];
            order = new long[n];
        }
        float max = l[c[0]];
        double sum = 0, weighted = 0;
        for (int i = 0; i < n; i++) {
            double shifted = l[c[i]] - max;
            double w = Math.exp(shifted);
            prob[i] = w;
            sum += w;
            weighted += w * shifted;
        }
        double expected = weighted / sum;
        // (distance from the entropy, position) in one long each, sorted: the closest first, the better token first on
        // ties (a distance is >= 0, so its float bits order as it does)
        for (int i = 0; i < n; i++) {
            prob[i] /= sum;
            float distance = (float) Math.abs(expected - (l[c[i]] - max));
            order[i] = (long) Float.floatToIntBits(distance) << 32 | i;
        }
        Arrays.sort(order, 0, n);
        double cum = 0;
        int kept = n;
        for (int i = 0; i < n; i++) {
            cum += prob[(int) order[i]];
            if (cum > p) {
                kept = i + 1;
                break;
            }
        }
        // back to the sampler's order (best first): the positions kept, ascending; compacted in place, since the i-th
        // kept position is at least i and those not yet read lie beyond it
        for (int i = 0; i < kept; i++) order[i] = (int) order[i];
        Arrays.sort(order, 0, kept);
        for (int i = 0; i < kept; i++) c[i] = c[(int) order[i]];
        return kept;
    }
}
