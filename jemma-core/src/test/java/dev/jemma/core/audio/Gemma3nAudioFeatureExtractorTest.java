package dev.jemma.core.audio;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;

import static dev.jemma.core.testing.MultimodalFixtures.maxAbs;
import static org.assertj.core.api.Assertions.assertThat;

/** The log-mel features of the fixture's WAV against HF's Gemma3nAudioFeatureExtractor (input_features.f32). */
class Gemma3nAudioFeatureExtractorTest {
    @Test
    void matchesHf() throws Exception {
        JsonNode c = MultimodalFixtures.gemma3nCase("audio");
        double tol = MultimodalFixtures.tolerances().get("preprocessing").get("input_features_max_abs").asDouble();
        byte[] wav = Files.readAllBytes(MultimodalFixtures.file(c.get("media").get(0).asText()));
        AudioClip clip = AudioClip.fromWav(wav, "mix", 30);
        assertThat(clip.samples()).hasSize(40000);
        float[] ref = MultimodalFixtures.f32(c.get("input_features").get("file").asText());
        float[] got = Gemma3nAudioFeatureExtractor.extract(clip);
        assertThat(Gemma3nAudioFeatureExtractor.frames(clip.samples().length)).isEqualTo(c.get("input_features").get("shape").get(0).asInt());
        double d = maxAbs(ref, got);
        System.out.println("input_features max|d| = " + d);
        assertThat(d).isLessThanOrEqualTo(tol);
    }

    @Test
    void windowTableIsThePeriodicHannWindow() {
        // float32 rounding of the angle (up to 2.4e-7 near 2π) and of 1 − cos(x) near 0: an absolute bound
        float[] w = Gemma3nAudioFeatureExtractor.WINDOW;
        assertThat(w).hasSize(512);
        for (int i = 0; i < w.length; i++) {
            double hann = 0.5 * (1 - Math.cos(2 * Math.PI * i / 512));
            assertThat((double) w[i]).as("w[%d]", i).isCloseTo(hann, org.assertj.core.api.Assertions.within(3e-7));
        }
    }
}
