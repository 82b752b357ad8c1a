package dev.jemma.core.audio;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.media3n.MediaPrompt;
import dev.jemma.core.model.Gemma3nModel;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.FastMatMul;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.LogitStats;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;

import static dev.jemma.core.testing.MultimodalFixtures.maxAbs;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Gemma 3n with a clip in the prompt, end to end against HF's Gemma3nForConditionalGeneration: the WAV decoded,
 * features, conformer, embed_audio and HF's padding to the prompt's soft-token run, spliced into the manifest's ids;
 * all-position logits and 16 greedy ids. llama.cpp has no Gemma 3n audio, so the default mode is held to the exact
 * mode's tolerances (the fixture's F16 text weights keep f32 activations in the default mode: F16 has no int8 kernels).
 */
class Gemma3nAudioConformanceTest {
    private static final ThreadPool POOL = new ThreadPool(2);

    @AfterAll
    static void close() {
        POOL.close();
    }

    @ParameterizedTest(name = "exact={0}")
    @ValueSource(booleans = {true, false})
    void clipInThePromptMatchesHf(boolean exact) throws Exception {
        JsonNode c = MultimodalFixtures.gemma3nCase("audio"), v = c.get("variant");
        JsonNode tol = MultimodalFixtures.tolerances().get("exact_f32_mode").get("gemma3n");
        int[] ids = Fixtures.ints(c.get("prompt").get("ids"));
        int soft = c.get("prompt").get("soft_token_id").asInt();
        int[] block = Fixtures.ints(c.get("prompt").get("soft_token_blocks").get(0));
        MatMul mm = exact ? MatMul.EXACT : new FastMatMul();
        AudioClip clip = AudioClip.fromWav(Files.readAllBytes(MultimodalFixtures.file(c.get("media").get(0).asText())), "mix", 30);
        try (LanguageModel m = ModelLoader.load(MultimodalFixtures.file(v.get("text_gguf").asText()), new ModelLoader.Options(exact, 2, 64), POOL);
             Gemma3nMmproj p = Gemma3nMmproj.open(MultimodalFixtures.file(v.get("mmproj_gguf").asText()), m.config().dim(), m.config().vocabSize(), mm, POOL)) {
            ((Gemma3nModel) m).attachMultimodal(p.perLayerVocab(), p.visionEmbedder(), p.audioEmbedder());
            Gemma3nAudioModel audio = new Gemma3nAudioModel(p, mm, m.config().vocabSize() - 1);
            int vocab = m.config().vocabSize(), dim = m.config().dim();

            float[] tower = audio.towerOutput(clip, POOL);
            assertThat(maxAbs(MultimodalFixtures.f32(v.get("audio_tower_output").get("file").asText()), tower)).as("audio tower")
                    .isLessThanOrEqualTo(tol.get("audio_tower_output_max_abs").asDouble());
            float[] rows = audio.softTokens(clip, block[1] - block[0], POOL);
            double embd = maxAbs(MultimodalFixtures.f32(v.get("soft_token_embeddings").get("file").asText()), rows);
            assertThat(embd).as("soft-token embeddings").isLessThanOrEqualTo(tol.get("soft_token_embeddings_max_abs").asDouble());

            KvCache cache = m.newCache(ids.length + 16);
            float[] got = m.forward(MediaPrompt.batch(ids, 0, soft, List.of(rows), dim, cache, true));
            LogitStats s = LogitStats.compare(MultimodalFixtures.f32(v.get("logits").get("file").asText()), got, vocab);
            System.out.println("gemma3n audio end to end, exact=" + exact + ": " + s + ", soft embeddings max|d| " + embd);
            assertThat(s.maxAbs()).isLessThanOrEqualTo(tol.get("logits_max_abs").asDouble());
            assertThat(s.meanAbs()).isLessThanOrEqualTo(tol.get("logits_mean_abs").asDouble());
            int[] out = new int[16];
            float[] logits = Arrays.copyOfRange(got, (ids.length - 1) * vocab, ids.length * vocab);
            for (int i = 0; i < out.length; i++) {
                out[i] = LogitStats.argmax(logits, 0, vocab);
                if (i + 1 < out.length) logits = m.forward(new int[]{out[i]}, 0, 1, cache, false);
            }
            assertThat(out).containsExactly(Fixtures.ints(v.get("greedy_ids")));
        }
    }
}
