package dev.jemma.core.sampling;

/**
 * The state of Mirostat ({@link MirostatParams}) over one generation: the cut μ, which starts at 2τ and after each
 * token moves by η times how far that token's surprise (−log₂ of its probability among the kept candidates) was from the
 * target τ. One per sequence: a generation's sampler owns it, so concurrent generations never share it.
 */
final class Mirostat {
    /** Tokens Mirostat 1 estimates the Zipf exponent from (the paper's m). */
    static final int M = 100;
    private static final double LN2 = Math.log(2);

    private final MirostatParams p;
    private double mu;

    Mirostat(MirostatParams p) {
        this.p = p;
        this.mu = 2.0 * p.tau();
    }

    int version() {
        return p.version();
    }

    double mu() {
        return mu;
    }

    /**
     * Mirostat 1's top-k: from the candidates {@code c[0..m)} (best first, finite), the Zipf exponent s estimated by
     * least squares over the log ratios of neighbouring probabilities, then k = (ε·2^μ / (1 − N^−ε))^(1/s) with
     * ε = s − 1 and N the vocabulary's size; between 1 and {@code vocab}.
     */
    int topK(float[] l, int[] c, int m, int vocab) {
        double sumTB = 0, sumT2 = 0;
        for (int i = 0; i + 1 < m; i++) {
            double t = Math.log((i + 2) / (double) (i + 1));
            double b = l[c[i]] - l[c[i + 1]]; // log(p_i / p_{i+1}): the normaliser cancels
            sumTB += t * b;
            sumT2 += t * t;
        }
        double s = sumTB / sumT2;
        double eps = s - 1;
        double k = Math.pow(eps * Math.pow(2, mu) / (1 - Math.pow(vocab, -eps)), 1 / s);
        if (Double.isNaN(k) || k < 1) return 1;
        return (int) Math.min(k, vocab);
    }

    /** Mirostat 2's cut: the lowest log-probability (natural log) a candidate may have, −μ·ln 2. */
    double minLogProb() {
        return -mu * LN2;
    }

    /** Moves μ after a token was drawn with probability {@code prob} among the kept candidates. */
    void observe(double prob) {
        double surprise = -Math.log(prob) / LN2;
        mu -= p.eta() * (surprise - p.tau());
    }
}
