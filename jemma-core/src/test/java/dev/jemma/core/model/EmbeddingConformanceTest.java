package dev.jemma.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * EmbeddingGemma ({@code gemma-embedding}) against sentence-transformers (fixtures/embedding): every GGUF type, every
 * case, every stage (per-token states, pooled, dense_2, dense_3, normalised, Matryoshka 32/16), all 36 cases in one
 * packed batch. Exact mode within the fixtures' exact tolerances; the default mode within the llama.cpp-parity bounds
 * and, case by case, about as close as llama.cpp itself is.
 */
class EmbeddingConformanceTest {
    private static ThreadPool pool;
    private static JsonNode manifest;

    @BeforeAll
    static void start() throws IOException {
        pool = new ThreadPool(2);
        manifest = new ObjectMapper().readTree(bundled().resolve("manifest-lite.json").toFile());
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    static Path bundled() {
        try {
            return Path.of(EmbeddingConformanceTest.class.getResource("/embedding/manifest-lite.json").toURI()).getParent();
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The tiny model's files are bundled; the real-vocabulary one (24 MB) is read from the shared fixtures. */
    static Path root(String model) {
        return model.equals("embgemma-tiny") ? bundled() : Fixtures.shared().resolve("embedding");
    }

    static Stream<Arguments> variants() {
        List<Arguments> out = new ArrayList<>();
        for (String model : List.of("embgemma-tiny", "embgemma-realvocab")) {
            JsonNode m = manifest.get("models").get(model);
            for (Iterator<Map.Entry<String, JsonNode>> it = m.get("variants").fields(); it.hasNext(); ) {
                var v = it.next();
                out.add(Arguments.of(model + "/" + v.getKey(), model, v.getKey()));
            }
        }
        return out.stream();
    }

    private static List<int[]> ids(JsonNode model) {
        List<int[]> ids = new ArrayList<>();
        for (JsonNode c : model.get("cases")) ids.add(Fixtures.ints(c.get("ids")));
        return ids;
    }

    private static EmbeddingModel load(Path gguf, boolean exact) {
        GgufFile f = GgufFile.open(gguf);
        return ModelLoader.loadEmbedding(f, new ModelLoader.Options(exact, 2, 64), pool, true, null);
    }

    private static float[][] reference(Path root, JsonNode files, String stage) {
        JsonNode e = files.get(stage);
        float[] flat = Fixtures.readF32(root.resolve(e.get("path").asText()));
        int n = e.get("shape").get(0).asInt(), w = e.get("shape").get(1).asInt();
        float[][] r = new float[n][w];
        for (int i = 0; i < n; i++) System.arraycopy(flat, i * w, r[i], 0, w);
        return r;
    }

    static double maxAbs(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    static double maxAbs(float[][] a, float[][] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, maxAbs(a[i], b[i]));
        return m;
    }

    /** max |Δ| over max |ref|, per row. */
    static double maxRel(float[][] a, float[][] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            double ref = 0;
            for (float x : b[i]) ref = Math.max(ref, Math.abs(x));
            m = Math.max(m, maxAbs(a[i], b[i]) / Math.max(ref, 1e-30));
        }
        return m;
    }

    static double cosine(float[] a, float[] b) {
        double d = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            d += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return d / Math.sqrt(na * nb);
    }

    static float[][] mrl(float[][] e, int d) {
        float[][] r = new float[e.length][];
        for (int i = 0; i < e.length; i++) r[i] = dev.jemma.core.embed.Embedder.matryoshka(e[i], d);
        return r;
    }

    @ParameterizedTest(name = "{0} exact")
    @MethodSource("variants")
    void exactModeMatchesSentenceTransformers(String label, String model, String type) {
        JsonNode m = manifest.get("models").get(model), v = m.get("variants").get(type), files = v.get("files");
        Path root = root(model);
        JsonNode tol = manifest.get("tolerances").get("exact_f32_mode");
        List<int[]> ids = ids(m);
        try (EmbeddingModel em = load(root.resolve(v.get("file").asText()), true)) {
            assertThat(em.dimension()).isEqualTo(64);
            EmbeddingModel.Stages s = em.run(ids);
            assertThat(maxRel(s.pooled(), reference(root, files, "pooled"))).as("pooled").isLessThanOrEqualTo(tol.get("pooled_dense_max_rel_diff").asDouble());
            assertThat(s.dense()).hasSize(2);
            assertThat(maxRel(s.dense().get(0), reference(root, files, "dense2"))).as("dense2").isLessThanOrEqualTo(tol.get("pooled_dense_max_rel_diff").asDouble());
            assertThat(maxRel(s.dense().get(1), reference(root, files, "dense3"))).as("dense3").isLessThanOrEqualTo(tol.get("pooled_dense_max_rel_diff").asDouble());
            float[][] ref = reference(root, files, "embeddings");
            assertThat(maxAbs(s.embeddings(), ref)).as("embeddings").isLessThanOrEqualTo(tol.get("embedding_max_abs_diff").asDouble());
            for (int i = 0; i < ref.length; i++) {
                assertThat(cosine(s.embeddings()[i], ref[i])).as("cosine case " + i).isGreaterThanOrEqualTo(tol.get("embedding_min_cosine").asDouble());
            }
            assertThat(maxAbs(mrl(s.embeddings(), 32), reference(root, files, "mrl32"))).as("mrl32").isLessThanOrEqualTo(tol.get("mrl_max_abs_diff").asDouble());
            assertThat(maxAbs(mrl(s.embeddings(), 16), reference(root, files, "mrl16"))).as("mrl16").isLessThanOrEqualTo(tol.get("mrl_max_abs_diff").asDouble());
            for (Iterator<Map.Entry<String, JsonNode>> it = files.get("tokens").fields(); it.hasNext(); ) {
                var t = it.next();
                int index = caseIndex(m, t.getKey());
                float[] want = Fixtures.readF32(root.resolve(t.getValue().get("path").asText()));
                assertThat(maxAbs(s.tokens().get(index), want)).as("token states of " + t.getKey())
                        .isLessThanOrEqualTo(tol.get("token_hidden_max_abs_diff").asDouble());
            }
        }
    }

    @ParameterizedTest(name = "{0} default")
    @MethodSource("variants")
    void defaultModeIsAsCloseAsLlamaCpp(String label, String model, String type) {
        JsonNode m = manifest.get("models").get(model), v = m.get("variants").get(type), files = v.get("files");
        Path root = root(model);
        JsonNode tol = manifest.get("tolerances").get("llamacpp_parity_mode").get("per_type")
                .get(type.equals("F32") || type.equals("F16") || type.equals("BF16") ? type : "quantized");
        List<int[]> ids = ids(m);
        try (EmbeddingModel em = load(root.resolve(v.get("file").asText()), false)) {
            EmbeddingModel.Stages s = em.run(ids);
            float[][] ref = reference(root, files, "embeddings");
            JsonNode perCase = v.get("llamacpp").get("per_case");
            double worst = 0, llamaWorst = 0;
            for (int i = 0; i < ref.length; i++) {
                double d = maxAbs(s.embeddings()[i], ref[i]);
                worst = Math.max(worst, d);
                JsonNode lc = perCase.get(i);
                double llama = Math.max(lc.get("max_abs_diff").asDouble(), lc.get("fa_on").get("max_abs_diff").asDouble());
                llamaWorst = Math.max(llamaWorst, llama);
                assertThat(d).as("case %s: %.3g vs llama.cpp %.3g", lc.get("case").asText(), d, llama)
                        .isLessThanOrEqualTo(tol.get("embedding_max_abs_diff").asDouble());
                assertThat(cosine(s.embeddings()[i], ref[i])).isGreaterThanOrEqualTo(tol.get("embedding_min_cosine").asDouble());
            }
            System.out.printf("%s default: worst max|d| %.3g (llama.cpp %.3g)%n", label, worst, llamaWorst);
            assertThat(maxAbs(mrl(s.embeddings(), 16), reference(root, files, "mrl16"))).isLessThanOrEqualTo(tol.get("mrl_max_abs_diff").asDouble());
        }
    }

    @Test
    void resultsDoNotDependOnBatchComposition() {
        JsonNode m = manifest.get("models").get("embgemma-tiny");
        List<int[]> ids = ids(m);
        for (boolean exact : new boolean[]{true, false}) {
            try (EmbeddingModel em = load(bundled().resolve("embgemma-tiny/embgemma-tiny-Q8_0.gguf"), exact)) {
                float[][] all = em.embed(ids);
                List<int[]> reversed = new ArrayList<>(ids);
                java.util.Collections.reverse(reversed);
                float[][] rev = em.embed(reversed);
                for (int i = 0; i < ids.size(); i++) {
                    float[] alone = em.embed(List.of(ids.get(i)))[0];
                    assertThat(maxAbs(all[i], alone)).as("case %d alone vs batched (exact %s)", i, exact).isLessThanOrEqualTo(1e-6);
                    assertThat(maxAbs(rev[ids.size() - 1 - i], alone)).as("case %d reversed batch", i).isLessThanOrEqualTo(1e-6);
                }
            }
        }
    }

    /**
     * The row-wise steps (norms, q/k norm and rope, GELU) and the matmuls split a batch's rows across threads: each row
     * is computed whole by one thread, so one thread and two give the same values (to the 1e-6 of the batch-composition
     * test: the vector tanh and exp round differently before and after C2 compiles them, so two loads of a model in one
     * JVM may differ in the last bits; a row placed wrongly differs by far more).
     */
    @Test
    void resultsDoNotDependOnThreads() {
        JsonNode m = manifest.get("models").get("embgemma-tiny");
        List<int[]> ids = ids(m);
        int tokens = ids.stream().mapToInt(t -> t.length).sum();
        assertThat(tokens).as("rows of the batch: enough to be split").isGreaterThanOrEqualTo(DecoderBlocks.PARALLEL_ROWS);
        for (boolean exact : new boolean[]{true, false}) {
            float[][] two;
            try (EmbeddingModel em = load(bundled().resolve("embgemma-tiny/embgemma-tiny-Q8_0.gguf"), exact)) {
                two = em.embed(ids);
            }
            try (ThreadPool one = new ThreadPool(1);
                 EmbeddingModel em = ModelLoader.loadEmbedding(GgufFile.open(bundled().resolve("embgemma-tiny/embgemma-tiny-Q8_0.gguf")),
                         new ModelLoader.Options(exact, 1, 64), one, true, null)) {
                float[][] single = em.embed(ids);
                for (int i = 0; i < ids.size(); i++) {
                    assertThat(maxAbs(single[i], two[i])).as("case %d, 1 vs 2 threads (exact %s)", i, exact).isLessThanOrEqualTo(1e-6);
                }
            }
        }
    }

    @Test
    void aChatModelCannotBeLoadedForTextGenerationByMistake() throws IOException {
        Path gguf = bundled().resolve("embgemma-tiny/embgemma-tiny-F32.gguf");
        try (GgufFile f = GgufFile.open(gguf)) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> ModelLoader.load(f, new ModelLoader.Options(true, 1, 8), pool, false))
                    .hasMessageContaining("embedding model").hasMessageContaining("jemma embed");
        }
        assertThat(Files.exists(gguf)).isTrue();
    }

    private static int caseIndex(JsonNode m, String id) {
        for (JsonNode c : m.get("cases")) if (c.get("id").asText().equals(id)) return c.get("index").asInt();
        throw new AssertionError("no case " + id);
    }
}
