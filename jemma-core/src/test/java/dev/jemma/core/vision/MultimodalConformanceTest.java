package dev.jemma.core.vision;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.kv.KvCache;
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
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;

import static dev.jemma.core.testing.MultimodalFixtures.maxAbs;
import static dev.jemma.core.testing.MultimodalFixtures.relL2;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Gemma 3 with images in the prompt against HF's Gemma3ForConditionalGeneration: all-position logits and 16 greedy
 * ids, the images going end to end (PNG decoded, preprocessed as HF does, encoded, spliced at the soft tokens with
 * bidirectional attention within each image). --exact: the fixtures' exact tolerances; default mode: at least as
 * close as llama.cpp's own figures (tolerances.llamacpp_like_mode.per_case, 1.5 × what llama.cpp gets with HF's pixels).
 */
class MultimodalConformanceTest {
    private static final ThreadPool POOL = new ThreadPool(2);
    private static final int SOFT_TOKEN = 1002;

    @AfterAll
    static void close() {
        POOL.close();
    }

    static List<String> cases() {
        return MultimodalFixtures.caseVariants();
    }

    /** The case's images end to end: decoded from the PNG, pan-and-scan when the case says so, encoded. */
    private static List<float[]> embeddings(JsonNode c, ImageEncoder enc) {
        RgbImage image = ImageDecoder.read(MultimodalFixtures.file(c.get("images").get(0).asText()));
        Gemma3ImageProcessor p = Gemma3ImageProcessor.of(enc.config());
        List<float[]> out = new ArrayList<>();
        for (RgbImage im : Gemma3ImageProcessor.images(image, c.get("prompt").path("pan_and_scan").asBoolean(false))) {
            out.add(enc.encode(p.pixelValues(im), 0, POOL));
        }
        return out;
    }

    private static float[] concat(List<float[]> parts) {
        int n = parts.stream().mapToInt(a -> a.length).sum(), at = 0;
        float[] out = new float[n];
        for (float[] a : parts) {
            System.arraycopy(a, 0, out, at, a.length);
            at += a.length;
        }
        return out;
    }

    private static float[] allLogits(LanguageModel m, int[] ids, List<float[]> images) {
        KvCache cache = m.newCache(ids.length);
        return m.forward(ImagePrompt.batch(ids, 0, SOFT_TOKEN, images, m.config().dim(), cache, true));
    }

    private static int[] greedy(LanguageModel m, int[] ids, List<float[]> images, int n) {
        KvCache cache = m.newCache(ids.length + n);
        int vocab = m.config().vocabSize();
        float[] logits = m.forward(ImagePrompt.batch(ids, 0, SOFT_TOKEN, images, m.config().dim(), cache, false));
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = LogitStats.argmax(logits, 0, vocab);
            if (i + 1 < n) logits = m.forward(new int[]{out[i]}, 0, 1, cache, false);
        }
        return out;
    }

    @ParameterizedTest(name = "{0} exact")
    @MethodSource("cases")
    void exactModeMatchesHf(String cv) {
        JsonNode c = MultimodalFixtures.caseNode(cv), v = MultimodalFixtures.variant(cv);
        JsonNode tol = MultimodalFixtures.tolerances().get("exact_f32_mode").get("gemma3");
        int[] ids = Fixtures.ints(c.get("prompt").get("ids"));
        float[] ref = MultimodalFixtures.f32(v.get("logits").get("file").asText());
        try (ImageEncoder enc = ImageEncoder.open(MultimodalFixtures.file(v.get("mmproj_gguf").asText()), MatMul.EXACT);
             LanguageModel m = ModelLoader.load(MultimodalFixtures.file(v.get("text_gguf").asText()), new ModelLoader.Options(true, 2, 64), POOL)) {
            enc.requireTextWidth(m.config().dim());
            List<float[]> images = embeddings(c, enc);
            float[] refEmbd = MultimodalFixtures.f32(v.get("image_embeddings").get("file").asText());
            assertThat(maxAbs(refEmbd, concat(images))).as(cv + " image embeddings, end to end").isLessThanOrEqualTo(tol.get("image_embeddings_max_abs").asDouble());
            LogitStats s = LogitStats.compare(ref, allLogits(m, ids, images), m.config().vocabSize());
            System.out.println(cv + " exact: " + s);
            assertThat(s.maxAbs()).as(cv + " max|d|").isLessThanOrEqualTo(tol.get("logits_max_abs").asDouble());
            assertThat(s.meanAbs()).as(cv + " mean|d|").isLessThanOrEqualTo(tol.get("logits_mean_abs").asDouble());
            assertThat(greedy(m, ids, images, 16)).as(cv + " greedy ids").containsExactly(Fixtures.ints(v.get("greedy_ids")));
        }
    }

    @ParameterizedTest(name = "{0} default mode")
    @MethodSource("cases")
    void defaultModeAtLeastAsCloseAsLlamaCpp(String cv) {
        JsonNode c = MultimodalFixtures.caseNode(cv), v = MultimodalFixtures.variant(cv);
        JsonNode bound = MultimodalFixtures.tolerances().get("llamacpp_like_mode").get("per_case").get(MultimodalFixtures.MODEL + "/" + cv);
        int[] ids = Fixtures.ints(c.get("prompt").get("ids"));
        float[] ref = MultimodalFixtures.f32(v.get("logits").get("file").asText());
        try (ImageEncoder enc = ImageEncoder.open(MultimodalFixtures.file(v.get("mmproj_gguf").asText()), new FastMatMul());
             LanguageModel m = ModelLoader.load(MultimodalFixtures.file(v.get("text_gguf").asText()), new ModelLoader.Options(false, 2, 64), POOL)) {
            List<float[]> images = embeddings(c, enc);
            float[] refEmbd = MultimodalFixtures.f32(v.get("image_embeddings").get("file").asText()), embd = concat(images);
            assertThat(maxAbs(refEmbd, embd)).as(cv + " image embeddings max|d|").isLessThanOrEqualTo(bound.get("image_embd_max_abs").asDouble());
            assertThat(relL2(refEmbd, embd)).as(cv + " image embeddings rel L2").isLessThanOrEqualTo(bound.get("image_embd_rel_l2").asDouble());
            LogitStats s = LogitStats.compare(ref, allLogits(m, ids, images), m.config().vocabSize());
            JsonNode llama = bound.get("measured");
            System.out.println(cv + " default: " + s + " | llama.cpp e2e max|d| " + llama.get("llamacpp_max_abs").asDouble()
                    + ", with HF's pixels " + llama.get("hfres_max_abs").asDouble());
            assertThat(s.maxAbs()).as(cv + " max|d|").isLessThanOrEqualTo(bound.get("logits_max_abs").asDouble());
            assertThat(s.meanAbs()).as(cv + " mean|d|").isLessThanOrEqualTo(bound.get("logits_mean_abs").asDouble());
            assertThat(s.top1Agreement()).as(cv + " top-1").isGreaterThanOrEqualTo(bound.get("top1_min").asDouble());
            assertThat(greedy(m, ids, images, 16)).as(cv + " greedy ids").containsExactly(Fixtures.ints(v.get("greedy_ids")));
        }
    }
}
