package dev.jemma.core.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jemma.core.audio.AudioClip;
import dev.jemma.core.audio.Gemma3nAudioFeatureExtractor;

/**
 * Fuzzes the audio path a request's {@code input_audio} / {@code messages[i].audio} and {@code --audio} take: any
 * bytes either decode (RIFF/WAVE, PCM 8/16/24/32-bit or float 32/64-bit, plain or extensible, any channel count) and
 * resample to 16 kHz mono, or are refused with one printable line naming the clip — never an exception from inside
 * the parser, an OutOfMemoryError or a hang. A decoded clip then goes through Gemma 3n's log-mel feature extractor,
 * which must give {@code frames(samples)} rows of finite values (a non-finite feature would reach the encoder as NaN).
 * Clips are capped at 2 s so that a header announcing hours is refused from the header, as the server refuses one
 * over 30 s. Seeds: one tiny WAV per encoding, stereo, 8 kHz and 44.1 kHz.
 */
class AudioFuzzTest {
    @FuzzTest(maxDuration = "30s")
    void decodeAndExtract(byte[] bytes) {
        AudioClip[] clip = new AudioClip[1];
        if (!Fuzzing.clean(() -> clip[0] = AudioClip.fromWav(bytes, "audio[0]", 2.0))) return;
        AudioClip c = clip[0];
        if (c.samples().length > 2.0 * AudioClip.SAMPLE_RATE + 64) {
            throw new AssertionError(c.samples().length + " samples at 16 kHz from a clip accepted as at most 2 s");
        }
        float[][] features = new float[1][];
        if (!Fuzzing.clean(() -> features[0] = Gemma3nAudioFeatureExtractor.extract(c))) return;
        int frames = Gemma3nAudioFeatureExtractor.frames(c.samples().length);
        if (features[0].length != frames * Gemma3nAudioFeatureExtractor.MEL_BINS) {
            throw new AssertionError(features[0].length + " feature values for " + frames + " frames");
        }
        for (float v : features[0]) {
            if (!Float.isFinite(v)) throw new AssertionError("feature value " + v + " from a clip of " + c.samples().length + " samples");
        }
    }
}
