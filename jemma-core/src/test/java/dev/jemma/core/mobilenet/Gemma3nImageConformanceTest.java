package dev.jemma.core.mobilenet;

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
import dev.jemma.core.vision.Gemma3ImageProcessor;
import dev.jemma.core.vision.ImageDecoder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;
import java.util.List;

import static dev.jemma.core.testing.MultimodalFixtures.maxAbs;
import static dev.jemma.core.testing.MultimodalFixtures.relL2;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Gemma 3n with an image in the prompt against HF's Gemma3nForConditionalGeneration (gemma3n-mm-tiny, case "image"):
 * the PNG end to end (decoded, stretched to 768 × 768, x / 255, MobileNet-V5, embed_vision), the soft-token embeddings,
 * then all-position logits with the 256 soft tokens spliced in and 16 greedy ids. Exact mode: the fixtures' exact
 * tolerances; default mode: the same (its MobileNet-V5 and embedder keep f32 activations on F16 weights), and within
 * llama.cpp's own figures for the embeddings.
 */
class Gemma3nImageConformanceTest {
    private static final ThreadPool POOL = new ThreadPool(2);

    @AfterAll
    static void close() {
        POOL.close();
    }

    private static JsonNode imageCase() {
        Assumptions.assumeTrue(Fixtures.sharedAvailable(), "shared fixtures not available");
        return MultimodalFixtures.gemma3nCase("image");
    }

    private static MatMul matmul(boolean exact) {
        return exact ? MatMul.EXACT : new FastMatMul();
    }

    private static LanguageModel text(boolean exact) {
        return ModelLoader.load(MultimodalFixtures.file(imageCase().get("variant").get("text_gguf").asText()),
                new ModelLoader.Options(exact, 2, 64), POOL);
    }

    private static Gemma3nMmproj mmproj(LanguageModel m, MatMul mm) {
        return Gemma3nMmproj.open(MultimodalFixtures.file(imageCase().get("variant").get("mmproj_gguf").asText()), m.config().dim(),
                m.config().vocabSize(), mm, POOL);
    }

    /** The fixture's PNG through Gemma 3n's preprocessing and image encoder. */
    private static float[] encodePng(Gemma3nImageEncoder enc) {
        JsonNode media = MultimodalFixtures.model(MultimodalFixtures.GEMMA3N).get("media").get("square");
        var image = ImageDecoder.read(MultimodalFixtures.file(media.get("file").asText()));
        Gemma3ImageProcessor p = new Gemma3ImageProcessor(enc.imageSize(), new float[]{0, 0, 0}, new float[]{1, 1, 1});
        return enc.encode(p.pixelValues(image), 0, POOL);
    }

    @ParameterizedTest(name = "exact={0}")
    @ValueSource(booleans = {true, false})
    void softTokenEmbeddingsMatchHf(boolean exact) {
        JsonNode v = imageCase().get("variant");
        double tol = MultimodalFixtures.tolerances().get("exact_f32_mode").get("gemma3n").get("soft_token_embeddings_max_abs").asDouble();
        JsonNode llama = MultimodalFixtures.tolerances().get("llamacpp_like_mode").get("per_case").get("gemma3n-mm-tiny/image/default");
        float[] ref = MultimodalFixtures.f32(v.get("soft_token_embeddings").get("file").asText());
        MatMul mm = matmul(exact);
        try (LanguageModel m = text(true); Gemma3nMmproj p = mmproj(m, mm)) {
            float[] got = encodePng(Gemma3nImageEncoder.open(p, mm));
            double d = maxAbs(ref, got), rel = relL2(ref, got);
            System.out.printf("gemma3n image soft embeddings, exact=%s: max |Δ| %.3g, rel L2 %.3g (llama.cpp: %.3g, %.3g)%n", exact, d, rel,
                    llama.get("measured").get("llamacpp_embd_max_abs").asDouble(), llama.get("measured").get("llamacpp_embd_rel_l2").asDouble());
            assertThat(d).isLessThanOrEqualTo(tol);
            assertThat(d).isLessThanOrEqualTo(llama.get("image_embd_max_abs").asDouble());
            assertThat(rel).isLessThanOrEqualTo(llama.get("image_embd_rel_l2").asDouble());
        }
    }

    @ParameterizedTest(name = "exact={0}")
    @ValueSource(booleans = {true, false})
    void logitsAndGreedyIdsMatchHf(boolean exact) {
        JsonNode c = imageCase(), v = c.get("variant");
        JsonNode tol = MultimodalFixtures.tolerances().get("exact_f32_mode").get("gemma3n");
        int[] ids = Fixtures.ints(c.get("prompt").get("ids"));
        int soft = c.get("prompt").get("soft_token_id").asInt();
        float[] ref = MultimodalFixtures.f32(v.get("logits").get("file").asText());
        MatMul mm = matmul(exact);
        try (LanguageModel m = text(exact); Gemma3nMmproj p = mmproj(m, mm)) {
            ((Gemma3nModel) m).attachMultimodal(p.perLayerVocab(), p.visionEmbedder(), p.audioEmbedder());
            List<float[]> images = List.of(encodePng(Gemma3nImageEncoder.open(p, mm)));
            int vocab = m.config().vocabSize(), dim = m.config().dim();
            KvCache cache = m.newCache(ids.length + 16);
            float[] got = m.forward(MediaPrompt.batch(ids, 0, soft, images, dim, cache, true));
            LogitStats s = LogitStats.compare(ref, got, vocab);
            System.out.println("gemma3n image end to end, exact=" + exact + ": " + s);
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
