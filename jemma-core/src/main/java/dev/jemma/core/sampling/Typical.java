package dev.jemma.core.sampling;

import java.util.Arrays;

/**
 * Locally typical sampling (Meister et al., 2022, llama.cpp's {@code typical_p}): the tokens ranked by how far their
 * surprise (−log p) lies from the distribution's entropy, closest first, are kept until their probability exceeds p.
 * The most likely token is dropped when it is far less surprising than the distribution is on average.
 */
final class Typical {
    private Typical() {
    }

    /**
     * Keeps the typical set of the candidates {@code c[0..n)} (best first, finite logits), probabilities taken over
     * them, at least one token. Compacts the kept ones into {@code c[0..k)}, still best first, and returns k.
     */
    static int filter(float[] l, int[] c, int n, float p) {
        if (p >= 1f || n <= 1) return n;
        float max = l[c[0]];
        double sum = 0;
        double[] prob = new double[n];
        for (int i = 0; i < n; i++) sum += prob[i] = Math.exp(l[c[i]] - max);
        double entropy = 0;
        for (int i = 0; i < n; i++) {
            prob[i] /= sum;
            if (prob[i] > 0) entropy -= prob[i] * Math.log(prob[i]);
        }
        // (distance from the entropy, position) in one long each, sorted: the closest first, the better token first on
        // ties (a distance is >= 0, so its float bits order as it does)
        long[] order = new long[n];
        for (int i = 0; i < n; i++) {
            float shifted = (float) Math.abs(-Math.log(prob[i]) - entropy);
            order[i] = (long) Float.floatToIntBits(shifted) << 32 | i;
        }
        Arrays.sort(order);
        double cum = 0;
        int kept = n;
        for (int i = 0; i < n; i++) {
            cum += prob[(int) order[i]];
            if (cum > p) {
                kept = i + 1;
                break;
            }
        }
        // back to the sampler's order (best first): the positions kept, ascending
        for (int i = 0; i < kept; i++) order[i] = (int) order[i];
        Arrays.sort(order, 0, kept);
        int[] ids = new int[kept];
        for (int i = 0; i < kept; i++) ids[i] = c[(int) order[i]];
        System.arraycopy(ids, 0, c, 0, kept);
        return kept;
    }
}
