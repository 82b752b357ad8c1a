package dev.jemma.core.audio;

/**
 * Band-limited sample-rate conversion: each output sample is the input convolved with a Kaiser-windowed sinc low-pass
 * centred on its exact (fractional) input position, the cut-off at the lower of the two Nyquist frequencies (with a
 * small transition band below it), so downsampling does not alias and upsampling does not image. The kernel is
 * tabulated finely once per ratio and interpolated linearly between table points.
 */
public final class Resampler {
    /** Zero crossings of the sinc on each side (at the narrower of the two rates). */
    private static final int ZEROS = 24;
    /** Table points per zero crossing. */
    private static final int OVERSAMPLE = 512;
    /** Kaiser β: about 80 dB of stop-band attenuation. */
    private static final double BETA = 8.0;
    /** Cut-off as a fraction of the lower Nyquist frequency: the transition band ends at Nyquist. */
    private static final double ROLLOFF = 0.94;

    private Resampler() {
    }

    /** {@code x} at {@code from} Hz → the same signal at {@code to} Hz ({@code x} itself when the rates are equal). */
    public static float[] resample(float[] x, int from, int to) {
        if (from == to) return x;
        double ratio = (double) to / from;
        double cutoff = Math.min(1.0, ratio) * ROLLOFF;       // in cycles per input sample × 2 (1 = input Nyquist)
        double halfWidth = ZEROS / cutoff;                    // kernel half-width in input samples
        float[] table = table(cutoff);
        // rounded, not ceiled: 30 s at 44.1 kHz must stay 480 000 samples despite the ratio's rounding
        long outLen = Math.round(x.length * ratio);
        float[] out = new float[Math.toIntExact(outLen)];
        double step = 1.0 / ratio, scale = OVERSAMPLE * cutoff;
        for (int j = 0; j < out.length; j++) {
            double t = j * step;
            int lo = (int) Math.ceil(t - halfWidth), hi = (int) Math.floor(t + halfWidth);
            double acc = 0;
            for (int k = Math.max(lo, 0); k <= Math.min(hi, x.length - 1); k++) {
                double pos = Math.abs(t - k) * scale;        // distance in table steps
                int i = (int) pos;
                if (i + 1 >= table.length) continue;
                double f = pos - i;
                acc += x[k] * (table[i] + f * (table[i + 1] - table[i]));
            }
            out[j] = (float) acc;
        }
        return out;
    }

    /** h(d) = cutoff · sinc(cutoff · d) · kaiser(d / halfWidth) at d = i / (OVERSAMPLE · cutoff), i = 0 … ZEROS·OVERSAMPLE. */
    private static float[] table(double cutoff) {
        int n = ZEROS * OVERSAMPLE + 2;
        float[] t = new float[n];
        double i0b = besselI0(BETA);
        for (int i = 0; i < n; i++) {
            double u = (double) i / OVERSAMPLE;               // cutoff · d
            double r = u / ZEROS;
            double w = r >= 1 ? 0 : besselI0(BETA * Math.sqrt(1 - r * r)) / i0b;
            double sinc = u == 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
            t[i] = (float) (cutoff * sinc * w);
        }
        return t;
    }

    private static double besselI0(double x) {
        double sum = 1, term = 1, q = x * x / 4;
        for (int k = 1; k < 200 && term > 1e-17 * sum; k++) {
            term *= q / ((double) k * k);
            sum += term;
        }
        return sum;
    }
}
