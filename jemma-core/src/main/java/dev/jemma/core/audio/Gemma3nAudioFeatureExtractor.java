package dev.jemma.core.audio;

import dev.jemma.core.JemmaException;

/**
 * HF {@code Gemma3nAudioFeatureExtractor} with its Gemma 3n settings: 16 kHz mono in, 128 log-mel bins per 10 ms out.
 * <pre>
 *   pad the clip with zeros to a multiple of 128 samples          (HF pad_to_multiple_of=128)
 *   frame i = x[160·i .. 160·i + 513)                             (frame 512 + 1 for the pre-emphasis, hop 160)
 *   f[0] = x[0]·(1 − 0.97),  f[j] = x[j] − 0.97·x[j−1]   j < 512   (HTK-flavoured pre-emphasis)
 *   f    = f ⊙ hann_periodic(512);  |rfft(f, 1024)|               (FFT "overdrive": twice the frame length)
 *   mel  = |X| · F   (F: 513 × 128 triangular filters, 125 – 7600 Hz, HTK mel scale, no area normalisation)
 *   out  = log(max(mel, 1e-5))
 * </pre>
 * As numpy does, framing, pre-emphasis and the window run in float32, the FFT in float64 rounded to float32, the
 * filterbank in float64. Bins near the mel floor are mostly the window's side-lobe leakage, so the window must be
 * numpy's own float32 values to the last bit: it is read from a table (tools/gemma3n_hann_window.py) rather than
 * computed with a correctly rounded cosine, which moves those bins by up to 1.4e-3. The clip must be at most 30 s (HF truncates
 * there; callers split longer clips) and at least one frame (513 samples) long.
 */
public final class Gemma3nAudioFeatureExtractor {
    public static final int MEL_BINS = 128, FRAME = 512, HOP = 160, FFT = 1024, PAD_MULTIPLE = 128, MAX_SAMPLES = 480_000;
    private static final float PREEMPHASIS = 0.97f;
    private static final double MIN_HZ = 125, MAX_HZ = 7600, MEL_FLOOR = 1e-5;
    private static final int BINS = FFT / 2 + 1;

    /** HF's periodic Hann window as numpy computes it in float32 (see tools/gemma3n_hann_window.py). */
    static final float[] WINDOW = readWindow();
    /** filters[k · MEL_BINS + m]: weight of FFT bin k in mel band m. */
    private static final double[] FILTERS = filterbank();
    private static final double[] COS = new double[FFT / 2], SIN = new double[FFT / 2];
    private static final int[] BITREV = new int[FFT];

    static {
        for (int i = 0; i < FFT / 2; i++) {
            COS[i] = Math.cos(-2 * Math.PI * i / FFT);
            SIN[i] = Math.sin(-2 * Math.PI * i / FFT);
        }
        int bits = Integer.numberOfTrailingZeros(FFT);
        for (int i = 0; i < FFT; i++) BITREV[i] = Integer.reverse(i) >>> (32 - bits);
    }

    private Gemma3nAudioFeatureExtractor() {
    }

    private static float[] readWindow() {
        try (var in = Gemma3nAudioFeatureExtractor.class.getResourceAsStream("gemma3n-hann512.f32")) {
            if (in == null) throw new IllegalStateException("gemma3n-hann512.f32 missing from the jar");
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(in.readAllBytes()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            if (b.remaining() != 4 * FRAME) throw new IllegalStateException("gemma3n-hann512.f32 holds " + b.remaining() + " bytes");
            float[] w = new float[FRAME];
            b.asFloatBuffer().get(w);
            return w;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Frames the extractor makes of {@code samples} samples (after HF's padding to a multiple of 128). */
    public static int frames(int samples) {
        int padded = (samples + PAD_MULTIPLE - 1) / PAD_MULTIPLE * PAD_MULTIPLE;
        return padded < FRAME + 1 ? 0 : (padded - FRAME - 1) / HOP + 1;
    }

    /** Log-mel features [frames × 128] of a 16 kHz clip (see the class comment). */
    public static float[] extract(AudioClip clip) {
        float[] x = clip.samples();
        // HF truncates at 480 000 samples; more than a few samples over is a caller's mistake (split long clips)
        if (x.length > MAX_SAMPLES && x.length <= MAX_SAMPLES + 16) x = java.util.Arrays.copyOf(x, MAX_SAMPLES);
        if (x.length > MAX_SAMPLES) {
            throw new JemmaException(clip.name() + ": " + AudioClip.duration(clip.seconds()) + " is longer than the 30 s one clip may last");
        }
        int n = frames(x.length);
        if (n == 0) {
            throw new JemmaException(clip.name() + ": " + String.format(java.util.Locale.ROOT, "%.3f", clip.seconds())
                    + " s of audio is too short (at least " + (FRAME + 1) + " samples, 32 ms, are needed)");
        }
        float[] padded = java.util.Arrays.copyOf(x, (x.length + PAD_MULTIPLE - 1) / PAD_MULTIPLE * PAD_MULTIPLE);
        float[] out = new float[n * MEL_BINS];
        double[] re = new double[FFT], im = new double[FFT], mag = new double[BINS];
        final float oneMinus = (float) (1.0 - 0.97);
        for (int i = 0; i < n; i++) {
            int o = i * HOP;
            java.util.Arrays.fill(re, 0);
            java.util.Arrays.fill(im, 0);
            re[0] = (padded[o] * oneMinus) * WINDOW[0];
            for (int j = 1; j < FRAME; j++) {
                float f = padded[o + j] - PREEMPHASIS * padded[o + j - 1];
                re[j] = f * WINDOW[j];
            }
            fft(re, im);
            // numpy computes a float32 rfft in float64 and rounds it to complex64; np.abs then works in float32
            for (int k = 0; k < BINS; k++) mag[k] = (float) Math.hypot((float) re[k], (float) im[k]);
            for (int m = 0; m < MEL_BINS; m++) {
                double s = 0;
                for (int k = 0; k < BINS; k++) s += mag[k] * FILTERS[k * MEL_BINS + m];
                out[i * MEL_BINS + m] = (float) Math.log(Math.max(s, MEL_FLOOR));
            }
        }
        return out;
    }

    /** HF create_fb_matrix(513, 125, 7600, 128, 16000, 1024, norm=None), in the same float32/float64 mix. */
    private static double[] filterbank() {
        double[] fb = new double[BINS * MEL_BINS];
        double mMin = 2595.0 * Math.log10(1.0 + MIN_HZ / 700.0), mMax = 2595.0 * Math.log10(1.0 + MAX_HZ / 700.0);
        double[] fPts = new double[MEL_BINS + 2];
        for (int i = 0; i < fPts.length; i++) {
            double m = mMin + (mMax - mMin) * i / (MEL_BINS + 1);    // np.linspace
            fPts[i] = 700.0 * (Math.pow(10, m / 2595.0) - 1.0);
        }
        for (int k = 0; k < BINS; k++) {
            double freq = (float) (k * (16000.0 / FFT));
            for (int m = 0; m < MEL_BINS; m++) {
                double down = -(fPts[m] - freq) / (fPts[m + 1] - fPts[m]);
                double up = (fPts[m + 2] - freq) / (fPts[m + 2] - fPts[m + 1]);
                fb[k * MEL_BINS + m] = Math.max(0, Math.min(down, up));
            }
        }
        return fb;
    }

    /** In-place radix-2 complex FFT of length {@link #FFT}. */
    private static void fft(double[] re, double[] im) {
        for (int i = 0; i < FFT; i++) {
            int j = BITREV[i];
            if (j > i) {
                double t = re[i];
                re[i] = re[j];
                re[j] = t;
                t = im[i];
                im[i] = im[j];
                im[j] = t;
            }
        }
        for (int len = 2; len <= FFT; len <<= 1) {
            int half = len / 2, stride = FFT / len;
            for (int s = 0; s < FFT; s += len) {
                for (int k = 0; k < half; k++) {
                    double wr = COS[k * stride], wi = SIN[k * stride];
                    int a = s + k, b = a + half;
                    double xr = re[b] * wr - im[b] * wi, xi = re[b] * wi + im[b] * wr;
                    re[b] = re[a] - xr;
                    im[b] = im[a] - xi;
                    re[a] += xr;
                    im[a] += xi;
                }
            }
        }
    }
}
