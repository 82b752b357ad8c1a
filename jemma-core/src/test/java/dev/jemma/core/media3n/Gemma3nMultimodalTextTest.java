package dev.jemma.core.media3n;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.kv.KvCache;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.List;

import static dev.jemma.core.testing.MultimodalFixtures.maxAbs;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The shared Gemma 3n multimodal pieces against HF: the mmproj's embedders (soft path on the reference audio-tower
 * output, hard path on the padding id) and the text model with media ids and soft-token rows in the prompt (the
 * reference soft-token embeddings spliced in, so this checks the text side alone: embed_audio's hard path for
 * {@code <end_of_audio>}, token 0's per-layer input for media rows, causal attention over them).
 */
class Gemma3nMultimodalTextTest {
    private static final ThreadPool POOL = new ThreadPool(2);
    private static final MatMul FAST = new FastMatMul();

    @AfterAll
    static void close() {
        POOL.close();
    }

    private static JsonNode audioCase() {
        return MultimodalFixtures.gemma3nCase("audio");
    }

    private static Gemma3nMmproj mmproj(LanguageModel m, MatMul mm) {
        return Gemma3nMmproj.open(MultimodalFixtures.file(audioCase().get("variant").get("mmproj_gguf").asText()), m.config().dim(),
                m.config().vocabSize(), mm, POOL);
    }

    private static LanguageModel text(boolean exact) {
        return ModelLoader.load(MultimodalFixtures.file(audioCase().get("variant").get("text_gguf").asText()),
                new ModelLoader.Options(exact, 2, 64), POOL);
    }

    @Test
    void layoutFollowsHf() {
        try (LanguageModel m = text(true); Gemma3nMmproj p = mmproj(m, MatMul.EXACT)) {
            JsonNode cfg = MultimodalFixtures.model(MultimodalFixtures.GEMMA3N).get("hf_config");
            assertThat(p.perLayerVocab()).isEqualTo(cfg.get("text_config").get("vocab_size_per_layer_input").asInt());
            assertThat(p.audioEmbedder().vocabOffset()).isEqualTo(cfg.get("audio_config").get("vocab_offset").asInt());
            assertThat(p.visionEmbedder().vocabOffset()).isEqualTo(cfg.get("vision_config").get("vocab_offset").asInt());
            assertThat(p.visionEmbedder().inputDim()).isEqualTo(cfg.get("vision_config").get("hidden_size").asInt());
        }
    }

    @ParameterizedTest(name = "exact={0}")
    @ValueSource(booleans = {true, false})
    void audioEmbedderMatchesHf(boolean exact) {
        JsonNode v = audioCase().get("variant");
        double tol = MultimodalFixtures.tolerances().get("exact_f32_mode").get("gemma3n").get("soft_token_embeddings_max_abs").asDouble();
        try (LanguageModel m = text(true); Gemma3nMmproj p = mmproj(m, exact ? MatMul.EXACT : FAST)) {
            Gemma3nMultimodalEmbedder e = p.audioEmbedder();
            float[] tower = MultimodalFixtures.f32(v.get("audio_tower_output").get("file").asText());
            float[] ref = MultimodalFixtures.f32(v.get("audio_embed_output").get("file").asText());
            int rows = tower.length / e.inputDim();
            assertThat(maxAbs(ref, e.embedSoft(tower, rows, exact ? MatMul.EXACT : FAST, POOL))).isLessThanOrEqualTo(tol);
            // the padding rows after the clip are the hard embedding of the vocabulary's last id
            float[] soft = MultimodalFixtures.f32(v.get("soft_token_embeddings").get("file").asText());
            int dim = m.config().dim();
            float[] pad = e.embedHard(m.config().vocabSize() - 1);
            for (int r = rows; r < soft.length / dim; r++) {
                assertThat(maxAbs(Arrays.copyOfRange(soft, r * dim, (r + 1) * dim), pad)).as("padding row " + r).isLessThanOrEqualTo(tol);
            }
        }
    }

    @ParameterizedTest(name = "exact={0}")
    @ValueSource(booleans = {true, false})
    void textModelWithAudioRowsMatchesHf(boolean exact) {
        JsonNode c = audioCase(), v = c.get("variant");
        JsonNode tol = MultimodalFixtures.tolerances().get("exact_f32_mode").get("gemma3n");
        int[] ids = Fixtures.ints(c.get("prompt").get("ids"));
        int soft = c.get("prompt").get("soft_token_id").asInt();
        List<float[]> media = List.of(MultimodalFixtures.f32(v.get("soft_token_embeddings").get("file").asText()));
        float[] ref = MultimodalFixtures.f32(v.get("logits").get("file").asText());
        try (LanguageModel m = text(exact); Gemma3nMmproj p = mmproj(m, exact ? MatMul.EXACT : FAST)) {
            ((Gemma3nModel) m).attachMultimodal(p.perLayerVocab(), p.visionEmbedder(), p.audioEmbedder());
            int vocab = m.config().vocabSize(), dim = m.config().dim();
            KvCache cache = m.newCache(ids.length + 16);
            float[] got = m.forward(MediaPrompt.batch(ids, 0, soft, media, dim, cache, true));
            LogitStats s = LogitStats.compare(ref, got, vocab);
            System.out.println("gemma3n audio rows, exact=" + exact + ": " + s);
            assertThat(s.maxAbs()).isLessThanOrEqualTo(tol.get("logits_max_abs").asDouble());
            assertThat(s.meanAbs()).isLessThanOrEqualTo(tol.get("logits_mean_abs").asDouble());
            // greedy continuation from the same cache
            int[] out = new int[16];
            float[] logits = Arrays.copyOfRange(got, (ids.length - 1) * vocab, ids.length * vocab);
            for (int i = 0; i < out.length; i++) {
                out[i] = LogitStats.argmax(logits, 0, vocab);
                if (i + 1 < out.length) logits = m.forward(new int[]{out[i]}, 0, 1, cache, false);
            }
            assertThat(out).containsExactly(Fixtures.ints(v.get("greedy_ids")));
        }
    }

    @Test
    void withoutEmbeddersTheTextModelDiffersFromHf() {
        // guards the test above: the media ids really take the embedder path (llama.cpp's token_embd rows differ)
        JsonNode c = audioCase(), v = c.get("variant");
        int[] ids = Fixtures.ints(c.get("prompt").get("ids"));
        int soft = c.get("prompt").get("soft_token_id").asInt();
        List<float[]> media = List.of(MultimodalFixtures.f32(v.get("soft_token_embeddings").get("file").asText()));
        float[] ref = MultimodalFixtures.f32(v.get("logits").get("file").asText());
        try (LanguageModel m = text(true)) {
            float[] got = m.forward(MediaPrompt.batch(ids, 0, soft, media, m.config().dim(), m.newCache(ids.length), true));
            assertThat(LogitStats.compare(ref, got, m.config().vocabSize()).maxAbs()).isGreaterThan(0.1);
        }
    }
}
