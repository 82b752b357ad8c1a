package dev.jemma.core.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.JemmaException;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.ThreadPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Random E4B-shaped Gemma 3n (35 layers, 15 KV-shared, so full-attention layers 24/29/34 reuse layer 19's K/V) and
 * its official-E2B cut made by tools/gemma3n_matformer_cut.py (see src/test/resources/gemma3n/README.md):
 * <ul>
 *   <li>exact logits match an independent float64 NumPy forward, for any batch split and for one-token decoding
 *       (covers the full-attention KV-reuse path and the sliding ring with a prompt 3× the window), within the
 *       gemma3n fixture tolerance (max 1e-2, mean 1e-3): like gemma3n-tiny this random 35-layer model amplifies
 *       rounding — perturbing its weights by 6e-8 relative moves the float64 logits by up to 9e-4 — so f32
 *       arithmetic lands at ~1e-3 of float64, while a wrong formula or cache read shows up as ≥ 0.1;</li>
 *   <li>{@code --matformer e2b} on the E4B file gives the same exact logits as the independently cut E2B file.</li>
 * </ul>
 */
class Gemma3nMatFormerTest {
    static ThreadPool pool;
    static int[] ids;
    static Path e4b, e2b;

    @BeforeAll
    static void setUp() throws IOException, URISyntaxException {
        pool = new ThreadPool(2);
        e4b = resource("e4b-shaped-Q8_0.gguf");
        e2b = resource("e2b-cut-Q8_0.gguf");
        ids = new ObjectMapper().readValue(resource("ids.json").toFile(), int[].class);
    }

    @AfterAll
    static void tearDown() {
        pool.close();
    }

    static Path resource(String name) throws URISyntaxException {
        return Path.of(Gemma3nMatFormerTest.class.getResource("/gemma3n/" + name).toURI());
    }

    /** All-position logits, fed in batches of {@code batch} tokens (1 = token-by-token decoding). */
    static float[] logits(Path file, String matformer, int batch) {
        try (LanguageModel m = ModelLoader.load(file, new ModelLoader.Options(true, 2, batch, matformer), pool)) {
            int vocab = m.config().vocabSize();
            KvCache cache = m.newCache(ids.length);
            float[] out = new float[ids.length * vocab];
            for (int i = 0; i < ids.length; i += batch) {
                int n = Math.min(batch, ids.length - i);
                System.arraycopy(m.forward(ids, i, n, cache, true), 0, out, i * vocab, n * vocab);
            }
            return out;
        }
    }

    /**
     * In the default mode the file loaded whole and sliced ({@code --matformer e2b}) each keep an interleaved copy of
     * their own: loading one does not rebuild the other's (their matrices differ: the slice drops layers and narrows
     * FFNs), so a server holding both, or a user switching between them, builds each copy once.
     */
    @Test
    void wholeAndSlicedKeepCacheFilesOfTheirOwn() throws IOException {
        assumeTrue(dev.jemma.core.tensor.kernels.Kernels.ENABLED, "int8 kernels (the copy) on");
        for (String mf : new String[]{null, "e2b"}) {
            try (LanguageModel m = ModelLoader.load(e4b, new ModelLoader.Options(false, 2, 8, mf), pool)) {
                assertThat(m.config().layers()).isPositive();
            }
        }
        java.util.List<Path> files = dev.jemma.core.repack.RepackCache.cacheFilesFor(e4b);
        assertThat(files).hasSize(2);
        java.util.Map<Path, Object> made = new java.util.HashMap<>();
        for (Path f : files) made.put(f, java.nio.file.Files.getLastModifiedTime(f));
        for (String mf : new String[]{null, "e2b", null}) {
            try (LanguageModel m = ModelLoader.load(e4b, new ModelLoader.Options(false, 2, 8, mf), pool)) {
                assertThat(m.config().layers()).isPositive();
            }
        }
        for (Path f : files) assertThat(java.nio.file.Files.getLastModifiedTime(f)).as(f.toString()).isEqualTo(made.get(f));
    }

    static double meanDiff(float[] a, float[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
        return sum / a.length;
    }

    static double maxDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        return max;
    }

    @ParameterizedTest(name = "batch {0}")
    @ValueSource(ints = {64, 5, 1})
    void e4bShapedMatchesNumpyReferenceForAnyBatchSplit(int batch) throws Exception {
        float[] ref = Gemma3nConformanceTest.readF32(resource("e4b-shaped-Q8_0.numpy.logits.f32"));
        float[] got = logits(e4b, null, batch);
        double d = maxDiff(got, ref), mean = meanDiff(got, ref);
        System.out.printf("e4b-shaped batch %d vs numpy float64: max|d| %.3e mean|d| %.3e%n", batch, d, mean);
        assertThat(d).isLessThanOrEqualTo(1e-2);
        assertThat(mean).isLessThanOrEqualTo(1e-3);
    }

    @Test
    void e4bShapedSharesKvFromLayers18And19() {
        try (LanguageModel m = ModelLoader.load(e4b, new ModelLoader.Options(true, 2, 8), pool)) {
            Gemma3nConfig g = ((Gemma3nModel) m).gemma3nConfig();
            assertThat(g.sharedKvLayers()).isEqualTo(15);
            for (int l = 20; l < 35; l++) assertThat(g.kvSource()[l]).isEqualTo(l % 5 == 4 ? 19 : 18);
            KvCache cache = m.newCache(64);
            assertThat(cache.keys(24)).isSameAs(cache.keys(19));
            assertThat(cache.offset(24, 3)).isEqualTo(cache.offset(19, 3)).isNotEqualTo(cache.offset(18, 3));
            assertThat(cache.capacity(34)).isEqualTo(64);      // full-attention source: the whole context
            assertThat(cache.capacity(33)).isEqualTo(8);       // sliding source: a ring of the window
        }
    }

    @Test
    void matformerE2bOnE4bEqualsTheIndependentlyCutE2bFile() throws Exception {
        float[] sliced = logits(e4b, "e2b", 64);
        float[] cut = logits(e2b, null, 64);
        double d = maxDiff(sliced, cut);
        System.out.printf("--matformer e2b vs cut E2B file: max|d| %.3e%n", d);
        // Same weights, same arithmetic: only the JIT tier can differ between the two runs (the Vector API's
        // interpreted reduceLanes sums lanes in another order than C2's intrinsic), which moves this random
        // model's logits by up to ~4e-4 during warm-up. Slicing errors move them by > 0.1 (asserted below).
        assertThat(d).isLessThanOrEqualTo(1e-3);
        float[] ref = Gemma3nConformanceTest.readF32(resource("e2b-cut-Q8_0.numpy.logits.f32"));
        System.out.printf("cut E2B file vs numpy float64: max|d| %.3e mean|d| %.3e%n", maxDiff(cut, ref), meanDiff(cut, ref));
        assertThat(maxDiff(cut, ref)).isLessThanOrEqualTo(1e-2);
        assertThat(meanDiff(cut, ref)).isLessThanOrEqualTo(1e-3);
        // and it is a different model from E4B
        assertThat(maxDiff(sliced, logits(e4b, null, 64))).isGreaterThan(0.1);
    }

    @Test
    void matformerSliceConfig() {
        try (LanguageModel m = ModelLoader.load(e4b, new ModelLoader.Options(true, 2, 8, "e2b"), pool)) {
            Gemma3nConfig g = ((Gemma3nModel) m).gemma3nConfig();
            assertThat(m.config().layers()).isEqualTo(30);
            assertThat(m.config().ffnDim()).containsOnly(32);
            assertThat(g.sharedKvLayers()).isEqualTo(10);
            assertThat(g.fileLayer()[20]).isEqualTo(25);
            for (int l = 20; l < 30; l++) assertThat(g.kvSource()[l]).isEqualTo(l % 5 == 4 ? 19 : 18);
            assertThat(g.matformer()).contains("30 of 35 layers").contains("20-24");
        }
        // a custom mix: wider FFN on the last layers, one layer skipped in the shared tail
        float[] custom = logits(e4b, "ffn=32*20,64*14;skip=22", 64);
        assertThat(custom).hasSize(ids.length * 128);
    }

    @Test
    void badMatformerSpecsAreOneLineErrors() {
        assertThatThrownBy(() -> logits(e2b, "e2b", 8)).isInstanceOf(JemmaException.class).hasMessageContaining("35 layers");
        assertThatThrownBy(() -> logits(e4b, "ffn=128", 8)).isInstanceOf(JemmaException.class).hasMessageContaining("exceeds");
        assertThatThrownBy(() -> logits(e4b, "ffn=48", 8)).isInstanceOf(JemmaException.class).hasMessageContaining("multiple of 32");
        assertThatThrownBy(() -> logits(e4b, "skip=40", 8)).isInstanceOf(JemmaException.class).hasMessageContaining("outside");
    }
}
