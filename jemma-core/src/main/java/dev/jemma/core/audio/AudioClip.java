package dev.jemma.core.audio;

import dev.jemma.core.JemmaException;

import java.util.ArrayList;
import java.util.List;

/**
 * A clip ready for Gemma 3n: mono float samples at 16 kHz (decoded from WAV and resampled when needed), with where it
 * came from for messages. Refuses digital silence (every sample 0: the model would describe nothing) with one line.
 */
public record AudioClip(String name, float[] samples, int sourceRate) {
    public static final int SAMPLE_RATE = 16_000;
    /** The longest clip Gemma 3n takes in one piece (HF's feature extractor truncates at 480 000 samples). */
    public static final double MAX_CLIP_SECONDS = 30.0;
    /** The longest file {@code jemma transcribe} splits into clips (one hour). */
    public static final double MAX_FILE_SECONDS = 3600.0;
    /** Below this rate a one-line warning says the model hears only the band up to half of it. */
    public static final int NARROWBAND_RATE = 16_000;

    public double seconds() {
        return samples.length / (double) SAMPLE_RATE;
    }

    /**
     * Decodes a WAV file and brings it to 16 kHz mono.
     *
     * @param maxSeconds longest accepted (refused from the header, before decoding)
     */
    public static AudioClip fromWav(byte[] bytes, String name, double maxSeconds) {
        WavReader.Pcm pcm = WavReader.read(bytes, name, maxSeconds);
        boolean silent = true;
        for (float s : pcm.samples()) {
            if (s != 0f) {
                silent = false;
                break;
            }
        }
        if (silent) throw new JemmaException(name + ": the clip is silent (every sample is 0), there is nothing to hear");
        return new AudioClip(name, Resampler.resample(pcm.samples(), pcm.sampleRate(), SAMPLE_RATE), pcm.sampleRate());
    }

    /** A one-line note when the source rate is below 16 kHz (upsampling adds no high frequencies), else null. */
    public String narrowbandWarning() {
        if (sourceRate >= NARROWBAND_RATE) return null;
        return name + ": " + sourceRate + " Hz audio carries nothing above " + sourceRate / 2 + " Hz; upsampled to 16 kHz, recognition may suffer";
    }

    /** Refuses a clip longer than Gemma 3n takes in one piece, naming the way to split it. */
    public AudioClip requireOnePiece() {
        // a sample or two over (a resampled 30 s clip) is what HF's extractor cuts off: allowed, cut in extract
        if (seconds() > MAX_CLIP_SECONDS + 0.001) {
            throw new JemmaException(name + ": " + duration(seconds()) + " of audio is longer than the 30 s Gemma 3n hears at once"
                    + " (split it, or use 'jemma transcribe', which splits long clips)");
        }
        return this;
    }

    /** Consecutive pieces of at most {@code seconds} each (the last may be shorter), named with their time range. */
    public List<AudioClip> split(double seconds) {
        int n = (int) Math.round(seconds * SAMPLE_RATE);
        List<AudioClip> out = new ArrayList<>();
        for (int at = 0; at < samples.length; at += n) {
            int end = Math.min(samples.length, at + n);
            out.add(new AudioClip(name + " [" + duration(at / (double) SAMPLE_RATE) + "–" + duration(end / (double) SAMPLE_RATE) + "]",
                    java.util.Arrays.copyOfRange(samples, at, end), sourceRate));
        }
        return out;
    }

    /** "2.5 s", "1:05:00". */
    public static String duration(double s) {
        if (s < 60) return String.format(java.util.Locale.ROOT, "%.1f s", s);
        long t = Math.round(s);
        return t >= 3600 ? String.format(java.util.Locale.ROOT, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
                : String.format(java.util.Locale.ROOT, "%d:%02d", t / 60, t % 60);
    }
}
