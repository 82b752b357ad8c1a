package dev.jemma.core.testing;

/** Differences between two logit matrices [rows × vocab], as fixtures/README.md defines them. */
public record LogitStats(double maxAbs, double meanAbs, double top1Agreement, int rows) {
    public static LogitStats compare(float[] ref, float[] got, int vocab) {
        if (ref.length != got.length) throw new AssertionError("size mismatch: ref " + ref.length + " got " + got.length);
        int rows = ref.length / vocab;
        double max = 0, sum = 0;
        int agree = 0;
        for (int r = 0; r < rows; r++) {
            int ra = 0, ga = 0;
            for (int i = 0; i < vocab; i++) {
                int k = r * vocab + i;
                double d = Math.abs(ref[k] - got[k]);
                if (!(d <= max)) max = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
                sum += d;
                if (ref[k] > ref[r * vocab + ra]) ra = i;
                if (got[k] > got[r * vocab + ga]) ga = i;
            }
            if (ra == ga) agree++;
        }
        return new LogitStats(max, sum / ref.length, (double) agree / rows, rows);
    }

    public static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
        return best;
    }

    @Override
    public String toString() {
        return String.format("max|d|=%.3g mean|d|=%.3g top1=%.4f rows=%d", maxAbs, meanAbs, top1Agreement, rows);
    }
}
