package dev.jemma.core.audio;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.media3n.MmprojWeights;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.FastMatMul;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static dev.jemma.core.testing.MultimodalFixtures.maxAbs;
import static org.assertj.core.api.Assertions.assertThat;

/** The conformer on HF's own features (input_features.f32) against HF's audio tower output (audio_tower.f32). */
class Gemma3nAudioEncoderTest {
    private static final ThreadPool POOL = new ThreadPool(2);

    @AfterAll
    static void close() {
        POOL.close();
    }

    @ParameterizedTest(name = "exact={0}")
    @ValueSource(booleans = {true, false})
    void towerMatchesHf(boolean exact) {
        JsonNode c = MultimodalFixtures.gemma3nCase("audio"), v = c.get("variant");
        double tol = MultimodalFixtures.tolerances().get("exact_f32_mode").get("gemma3n").get("audio_tower_output_max_abs").asDouble();
        float[] mel = MultimodalFixtures.f32(c.get("input_features").get("file").asText());
        float[] ref = MultimodalFixtures.f32(v.get("audio_tower_output").get("file").asText());
        try (GgufFile f = GgufFile.open(MultimodalFixtures.file(v.get("mmproj_gguf").asText()))) {
            AudioEncoderConfig cfg = AudioEncoderConfig.read(f);
            Gemma3nAudioEncoder enc = new Gemma3nAudioEncoder(new MmprojWeights(f), cfg);
            int frames = mel.length / cfg.melBins();
            assertThat(AudioEncoderConfig.tokens(frames) * cfg.hidden()).isEqualTo(ref.length);
            float[] got = enc.encode(mel, frames, exact ? MatMul.EXACT : new FastMatMul(), POOL);
            double d = maxAbs(ref, got);
            System.out.println("audio tower exact=" + exact + " max|d| = " + d);
            assertThat(d).isLessThanOrEqualTo(tol);
        }
    }
}
