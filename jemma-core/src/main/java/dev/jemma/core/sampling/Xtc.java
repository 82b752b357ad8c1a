package dev.jemma.core.sampling;

import java.util.SplittableRandom;

/** Exclude top choices ({@link XtcParams}), on the candidates left by top-p and min-p. */
final class Xtc {
    private Xtc() {
    }

    /**
     * The first candidate to keep among {@code c[0..n)} (best first, probabilities taken over them): 0 when XTC does not
     * apply this time, else the position of the least likely candidate that still reaches the threshold, when at least
     * one candidate before it does too. Draws one value from {@code random} whenever XTC is on and there are two
     * candidates or more, whether it then applies or not.
     */
    static int firstKept(float[] l, int[] c, int n, XtcParams x, SplittableRandom random) {
        if (!x.on() || n < 2) return 0;
        if (random.nextDouble() >= x.probability()) return 0;
        float max = l[c[0]];
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.exp(l[c[i]] - max);
        int last = 0;
        for (int i = 0; i < n; i++) {
            if (Math.exp(l[c[i]] - max) / sum >= x.threshold()) last = i;
            else break;
        }
        return last;
    }
}
