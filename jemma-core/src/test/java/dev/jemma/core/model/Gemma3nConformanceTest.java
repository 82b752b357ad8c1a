package dev.jemma.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.testing.SameBits;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * gemma3n-tiny (a random HF Gemma3nForCausalLM converted by llama.cpp) in exact mode against the float32 HF
 * reference logits of the same GGUF: every position, both prompts, F32 and Q8_0, max|Δ| ≤ 1e-2, mean|Δ| ≤ 1e-3
 * (fixtures/README.md, gemma3n_exact_f32_mode), and the 16 greedy ids decoded one token at a time with the cache.
 * The long prompt (92 tokens) is longer than the window (16) and than one batch (64 here), so it exercises the
 * ring cache and the KV-shared layers across batches.
 */
class Gemma3nConformanceTest {
    static Path dir;
    static JsonNode model;
    static ThreadPool pool;

    @BeforeAll
    static void setUp() throws IOException {
        String prop = System.getProperty("jemma.fixtures");
        Path fixtures = prop == null ? null : Path.of(prop);
        boolean present = fixtures != null && Files.isRegularFile(fixtures.resolve("manifest.json"))
                && Files.isDirectory(fixtures.resolve("gemma3n-tiny"));
        if (!present && "1".equals(System.getenv("JEMMA_REQUIRE_FIXTURES"))) {
            throw new IllegalStateException("fixtures missing at " + fixtures + " (JEMMA_REQUIRE_FIXTURES=1)");
        }
        assumeTrue(present, "shared fixtures not found (system property jemma.fixtures=" + prop + ")");
        dir = fixtures;
        model = new ObjectMapper().readTree(fixtures.resolve("manifest.json").toFile()).path("models").path("gemma3n-tiny");
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void tearDown() {
        if (pool != null) pool.close();
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"F32, short", "F32, long", "Q8_0, short", "Q8_0, long"})
    void exactLogitsAndGreedyIds(String type, String prompt) throws IOException {
        JsonNode variant = model.path("variants").path(type);
        JsonNode p = variant.path("prompts").path(prompt);
        int[] ids = ints(model.path("prompts").path(prompt).path("ids"));
        int[] greedy = ints(p.path("greedy_ids"));
        float[] ref = readF32(dir.resolve(p.path("logits_file").asText()));
        Path gguf = dir.resolve(variant.path("file").asText());

        try (LanguageModel m = ModelLoader.load(gguf, new ModelLoader.Options(true, 2, 64), pool)) {
            assertThat(m).isInstanceOf(Gemma3nModel.class);
            int vocab = m.config().vocabSize();
            assertThat(ref.length).isEqualTo(ids.length * vocab);
            KvCache cache = m.newCache(ids.length + greedy.length);
            float[] got = new float[ids.length * vocab];
            for (int i = 0; i < ids.length; i += m.maxBatch()) {
                int n = Math.min(m.maxBatch(), ids.length - i);
                System.arraycopy(m.forward(ids, i, n, cache, true), 0, got, i * vocab, n * vocab);
            }
            double max = 0, sum = 0;
            for (int i = 0; i < got.length; i++) {
                double d = Math.abs(got[i] - ref[i]);
                max = Math.max(max, d);
                sum += d;
            }
            double mean = sum / got.length;
            System.out.printf("gemma3n-tiny %s %s: max|d| %.3e mean|d| %.3e%n", type, prompt, max, mean);
            assertThat(max).as("max |Δlogit|").isLessThanOrEqualTo(1e-2);
            assertThat(mean).as("mean |Δlogit|").isLessThanOrEqualTo(1e-3);

            // greedy: argmax of the prompt's last logits, then one token at a time through the cache
            int[] out = new int[greedy.length];
            int next = argmax(got, (ids.length - 1) * vocab, vocab);
            for (int i = 0; i < greedy.length; i++) {
                out[i] = next;
                if (i + 1 < greedy.length) next = argmax(m.forward(new int[]{next}, 0, 1, cache, false), 0, vocab);
            }
            assertThat(out).as("greedy ids").containsExactly(greedy);
        }
    }

    /**
     * Default (fast) mode: per file and prompt, max|Δ| no larger than llama.cpp's and top-1 agreement no lower
     * (ENGINEERING.md; llama.cpp's figures from the manifest).
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"F32, short", "F32, long", "Q8_0, short", "Q8_0, long"})
    void defaultModeIsNoWorseThanLlamaCpp(String type, String prompt) throws IOException {
        JsonNode variant = model.path("variants").path(type);
        JsonNode p = variant.path("prompts").path(prompt);
        JsonNode llama = p.path("llamacpp").path("vs_reference");
        int[] ids = ints(model.path("prompts").path(prompt).path("ids"));
        float[] ref = readF32(dir.resolve(p.path("logits_file").asText()));
        try (LanguageModel m = ModelLoader.load(dir.resolve(variant.path("file").asText()), new ModelLoader.Options(false, 2, 64), pool)) {
            int vocab = m.config().vocabSize();
            KvCache cache = m.newCache(ids.length);
            double max = 0;
            int agree = 0;
            for (int i = 0; i < ids.length; i += m.maxBatch()) {
                int n = Math.min(m.maxBatch(), ids.length - i);
                float[] got = m.forward(ids, i, n, cache, true);
                for (int t = 0; t < n; t++) {
                    for (int v = 0; v < vocab; v++) max = Math.max(max, Math.abs(got[t * vocab + v] - ref[(i + t) * vocab + v]));
                    if (argmax(got, t * vocab, vocab) == argmax(ref, (i + t) * vocab, vocab)) agree++;
                }
            }
            double top1 = agree / (double) ids.length;
            System.out.printf("gemma3n-tiny %s %s default mode: max|d| %.3e top1 %.3f (llama.cpp %.3e / %.3f)%n", type, prompt, max, top1,
                    llama.path("max_abs_diff").asDouble(), llama.path("top1_agreement").asDouble());
            assertThat(max).isLessThanOrEqualTo(llama.path("max_abs_diff").asDouble());
            assertThat(top1).isGreaterThanOrEqualTo(llama.path("top1_agreement").asDouble());
        }
    }

    /**
     * The largest |Δ logit| from the exact mode fed the same way that the default mode may show on gemma3n-tiny. The
     * default mode gives every layer matrix ~15-bit activations (int8 with residual rows) and the output projection plain
     * 8-bit ones: measured ≤ 0.205 at 512, 256 and 128 bits (≤ 0.125 with residual rows in the output projection too;
     * docs/PERFORMANCE.md, "The output projection on plain int8 and the Q6_K kernel (branch outq29)"), while plain int8
     * in any one layer matrix kind — llama.cpp's scheme — moves logits by ≥ 1.8 through the layers that amplify it
     * ({@link #plainInt8InAnyLayerKindFailsTheBound}), and in every matrix by ~8-10, as llama.cpp's own logits do.
     */
    static final double FROM_EXACT = 0.25;

    /**
     * The default mode fed one token per step (generation: the single-token int8 kernels), in uneven steps of 7 and 16
     * tokens (the few-token int8 kernels) and in batches of 64 (the batch kernels: f32 over the decoded copy, Q8_0 here
     * and Q4_0 / Q5_0 / Q4_K too since their residual-row batches left the int8 GEMM — the Q4_0 file made at test time in
     * jemma-tools' Gemma3nQ4_0FidelityTest), held
     * to llama.cpp's own max |Δ| and top-1 per file and prompt and — since that bar is loose on this file (llama.cpp's
     * int8 activations in every matrix, amplified ~1000× through the layers) — to {@link #FROM_EXACT} from the exact
     * mode fed the same way.
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"F32, short", "F32, long", "Q8_0, short", "Q8_0, long"})
    void defaultModeDecodeIsNoWorseThanLlamaCpp(String type, String prompt) throws IOException {
        JsonNode variant = model.path("variants").path(type);
        JsonNode p = variant.path("prompts").path(prompt);
        JsonNode llama = p.path("llamacpp").path("vs_reference");
        int[] ids = ints(model.path("prompts").path(prompt).path("ids"));
        float[] ref = readF32(dir.resolve(p.path("logits_file").asText()));
        Path gguf = dir.resolve(variant.path("file").asText());
        try (LanguageModel fast = ModelLoader.load(gguf, new ModelLoader.Options(false, 2, 64), pool);
             LanguageModel exact = ModelLoader.load(gguf, new ModelLoader.Options(true, 2, 64), pool)) {
            int vocab = fast.config().vocabSize();
            for (int mode : new int[]{0, 1, 2}) {
                float[] got = FidelityProbe.logits(fast, ids, mode);
                float[] ex = FidelityProbe.logits(exact, ids, mode);
                double max = 0, fromExact = 0, sumExact = 0;
                int agree = 0;
                for (int t = 0; t < ids.length; t++) {
                    for (int v = 0; v < vocab; v++) {
                        int i = t * vocab + v;
                        max = Math.max(max, Math.abs(got[i] - ref[i]));
                        fromExact = Math.max(fromExact, Math.abs(got[i] - ex[i]));
                        sumExact += Math.abs(got[i] - ex[i]);
                    }
                    if (argmax(got, t * vocab, vocab) == argmax(ref, t * vocab, vocab)) agree++;
                }
                double top1 = agree / (double) ids.length;
                String how = type + " " + prompt + " " + FidelityProbe.MODES[mode];
                System.out.printf("gemma3n-tiny %s default mode: max|d| %.3e top1 %.3f, from exact max %.3e mean %.3e (llama.cpp %.3e / %.3f)%n",
                        how, max, top1, fromExact, sumExact / got.length, llama.path("max_abs_diff").asDouble(), llama.path("top1_agreement").asDouble());
                assertThat(max).as(how + " max|d| vs llama.cpp's").isLessThanOrEqualTo(llama.path("max_abs_diff").asDouble());
                assertThat(top1).as(how + " top-1 vs llama.cpp's").isGreaterThanOrEqualTo(llama.path("top1_agreement").asDouble());
                assertThat(fromExact).as(how + " max|d| from the exact mode").isLessThanOrEqualTo(FROM_EXACT);
            }
        }
    }

    /**
     * The bound above can fail: with any one layer matrix kind on plain int8 (the probe property {@code
     * -Djemma.gemma3n.int8Matrices}), the default mode fed one token per step lands farther than {@link #FROM_EXACT}
     * from the exact mode. So the 15-bit activations are what keeps the default mode inside it.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down", "laurel_l", "laurel_r"})
    void plainInt8InAnyLayerKindFailsTheBound(String kind) throws IOException {
        assumeTrue(dev.jemma.core.tensor.kernels.Kernels.ENABLED && !dev.jemma.core.tensor.kernels.QuantizedActivations.RESIDUAL,
                "int8 kernels on, residual rows not forced for every matrix");
        JsonNode variant = model.path("variants").path("Q8_0");
        int[] ids = ints(model.path("prompts").path("short").path("ids"));
        Path gguf = dir.resolve(variant.path("file").asText());
        String old = System.setProperty("jemma.gemma3n.int8Matrices", kind);
        LanguageModel fast;
        try {
            // the layers on int8 at any width (the probe leaves a kind on plain int8 only where the layers take int8)
            fast = withScheme("every", () -> ModelLoader.load(gguf, new ModelLoader.Options(false, 2, 64), pool));
        } finally {
            if (old == null) System.clearProperty("jemma.gemma3n.int8Matrices");
            else System.setProperty("jemma.gemma3n.int8Matrices", old);
        }
        try (fast; LanguageModel exact = ModelLoader.load(gguf, new ModelLoader.Options(true, 2, 64), pool)) {
            float[] got = FidelityProbe.logits(fast, ids, 0);
            float[] ex = FidelityProbe.logits(exact, ids, 0);
            double fromExact = 0;
            for (int i = 0; i < got.length; i++) fromExact = Math.max(fromExact, Math.abs(got[i] - ex[i]));
            System.out.printf("gemma3n-tiny Q8_0 short 1x1, plain int8 in %s: from exact max %.3e%n", kind, fromExact);
            assertThat(fromExact).as(kind + " on plain int8: max|d| from the exact mode").isGreaterThan(FROM_EXACT);
        }
    }

    /**
     * The default mode gives the output projection, and the layer matrices where this width's {@link Gemma3nScheme} says
     * so, their interleaved copy with residual rows where the type has one and the kernels run; exact mode and
     * {@code withF32Activations} keep them on the f32 row kernels.
     */
    @Test
    void onlyTheDefaultModeTakesTheInt8Matrices() {
        Path gguf = dir.resolve(model.path("variants").path("Q8_0").path("file").asText());
        try (Gemma3nModel fast = (Gemma3nModel) ModelLoader.load(gguf, new ModelLoader.Options(false, 2, 8), pool);
             Gemma3nModel exact = (Gemma3nModel) ModelLoader.load(gguf, new ModelLoader.Options(true, 2, 8), pool);
             Gemma3nModel f32 = (Gemma3nModel) ModelLoader.load(gguf, new ModelLoader.Options(false, 2, 8).withF32Activations(true), pool)) {
            boolean on = dev.jemma.core.tensor.kernels.Kernels.ENABLED;
            assertThat(fast.scheme()).isEqualTo(on ? Gemma3nScheme.chosen() : Gemma3nScheme.F32);
            assertThat(exact.scheme()).isEqualTo(Gemma3nScheme.F32);
            assertThat(f32.scheme()).isEqualTo(Gemma3nScheme.F32);
            assertInt8(fast, on, on && fast.scheme().layersInt8());
            assertInt8(exact, false, false);
            assertInt8(f32, false, false);
        }
    }

    /**
     * Each scheme asked for ({@code -Djemma.gemma3n.scheme}, as the A/B runs do) gives the interleaved copy and residual
     * rows to its matrices and to no others, at any width: every matrix, or the output projection only.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"every, EVERY_MATRIX", "output, OUTPUT_ONLY"})
    void eachSchemeGivesItsMatricesTheCopy(String asked, Gemma3nScheme scheme) {
        assumeTrue(dev.jemma.core.tensor.kernels.Kernels.ENABLED, "int8 kernels on");
        Path gguf = dir.resolve(model.path("variants").path("Q8_0").path("file").asText());
        try (Gemma3nModel m = withScheme(asked, () -> (Gemma3nModel) ModelLoader.load(gguf, new ModelLoader.Options(false, 2, 8), pool))) {
            assertThat(m.scheme()).isEqualTo(scheme);
            assertInt8(m, true, scheme == Gemma3nScheme.EVERY_MATRIX);
        }
    }

    /**
     * The output projection's copy is {@code output}, and it never asks for residual rows (plain int8: {@link
     * Gemma3nScheme#residualRows}); the layer matrices' copy and residual rows are {@code layers}.
     */
    private static void assertInt8(Gemma3nModel m, boolean output, boolean layers) {
        assertThat(m.output().interleaved() != null).as("output copy").isEqualTo(output);
        assertThat(m.output().residualRows()).as("output residual rows").isFalse();
        // 12 kinds of layer matrix (fewer on KV-shared layers) and the output projection
        assertThat(m.matrices()).hasSizeGreaterThan(12);
        for (WeightMatrix w : m.matrices().subList(1, m.matrices().size())) {
            assertThat(w.interleaved() != null).as(w.name() + " copy").isEqualTo(layers);
            assertThat(w.residualRows()).as(w.name() + " residual rows").isEqualTo(layers);
        }
    }

    /** {@code load} with {@code -Djemma.gemma3n.scheme=asked}, the property restored after. */
    static <T> T withScheme(String asked, java.util.function.Supplier<T> load) {
        String old = System.setProperty("jemma.gemma3n.scheme", asked);
        try {
            return load.get();
        } finally {
            if (old == null) System.clearProperty("jemma.gemma3n.scheme");
            else System.setProperty("jemma.gemma3n.scheme", old);
        }
    }

    /**
     * Residual rows are Gemma 3n's, not the process's: a Gemma 3 model loaded and run beside a Gemma 3n one (two models in
     * one {@code jemma serve}) keeps plain int8 activations in every matrix — what the kernels' own rule says of each of
     * its matrices, and the same logits bit for bit as before the Gemma 3n model was loaded and run.
     */
    @Test
    void aGemma3ModelBesideItKeepsPlainInt8() {
        assumeTrue(dev.jemma.core.tensor.kernels.Kernels.ENABLED && !dev.jemma.core.tensor.kernels.QuantizedActivations.RESIDUAL
                        && System.getProperty("jemma.int8.residualNames") == null,
                "int8 kernels on, no process-wide residual rows");
        Path g3 = dir.resolve("gemma3-tiny/gemma3-tiny-Q4_0.gguf");
        assumeTrue(Files.isRegularFile(g3), "gemma3-tiny Q4_0 fixture");
        int[] ids = ints(model.path("prompts").path("short").path("ids"));
        Path g3n = dir.resolve(model.path("variants").path("Q8_0").path("file").asText());
        try (Gemma3Model gemma3 = (Gemma3Model) ModelLoader.load(g3, new ModelLoader.Options(false, 2, 64), pool)) {
            int[] g3ids = java.util.Arrays.stream(ids).map(i -> i % gemma3.config().vocabSize()).toArray();
            float[] before = FidelityProbe.logits(gemma3, g3ids, 0);
            float[] beforeBatch = FidelityProbe.logits(gemma3, g3ids, 3);
            // every matrix with residual rows at any width: the most a Gemma 3n model could leak
            try (Gemma3nModel gemma3n = withScheme("every", () -> (Gemma3nModel) ModelLoader.load(g3n, new ModelLoader.Options(false, 2, 64), pool))) {
                FidelityProbe.logits(gemma3n, ids, 0);
                // every layer matrix asks for residual rows; the output projection is on plain int8 (Gemma3nScheme)
                for (WeightMatrix w : gemma3n.matrices()) {
                    boolean layer = w != gemma3n.output();
                    assertThat(dev.jemma.core.tensor.kernels.ResidualRows.wanted(w, 1)).as("gemma3n " + w.name()).isEqualTo(layer);
                    assertThat(dev.jemma.core.tensor.kernels.ResidualRows.wanted(w, 64)).as("gemma3n " + w.name()).isEqualTo(layer);
                }
                int int8 = 0;
                for (WeightMatrix w : gemma3.matrices()) {
                    if (w.interleaved() != null) int8++;
                    assertThat(dev.jemma.core.tensor.kernels.ResidualRows.wanted(w, 1)).as("gemma3 " + w.name()).isFalse();
                    assertThat(dev.jemma.core.tensor.kernels.ResidualRows.wanted(w, 64)).as("gemma3 " + w.name()).isFalse();
                }
                assertThat(int8).as("gemma3 matrices on the int8 kernels").isPositive();
                assertThat(FidelityProbe.logits(gemma3, g3ids, 0)).as("gemma3 one token per step").containsExactly(before);
                assertThat(FidelityProbe.logits(gemma3, g3ids, 3)).as("gemma3 one batch").containsExactly(beforeBatch);
            }
        }
    }

    /**
     * A prompt longer than the model's batch runs in one call (split into batches inside, as Gemma 3 does) and gives
     * the logits that calls of a few tokens each give.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"true", "false"})
    void splitsInputsLongerThanItsBatch(boolean exact) throws IOException {
        JsonNode variant = model.path("variants").path("F32");
        int[] ids = ints(model.path("prompts").path("long").path("ids"));
        try (LanguageModel m = ModelLoader.load(dir.resolve(variant.path("file").asText()), new ModelLoader.Options(exact, 2, 16), pool)) {
            assertThat(ids.length).isGreaterThan(m.maxBatch());
            int vocab = m.config().vocabSize();
            float[] whole = m.forward(ids, 0, ids.length, m.newCache(ids.length), true);
            KvCache cache = m.newCache(ids.length);
            float[] parts = new float[ids.length * vocab];
            for (int i = 0; i < ids.length; i += 7) {
                int n = Math.min(7, ids.length - i);
                System.arraycopy(m.forward(ids, i, n, cache, true), 0, parts, i * vocab, n * vocab);
            }
            assertThat(whole).hasSize(parts.length);
            // the same bits: a row's arithmetic does not depend on the other rows of its call (Gemma 3n's attention takes
            // no transposed copy of the call's keys, whose use depends on the cut: BatchForwardTest.cutDifferently), and
            // since det27 not on the JIT's state either, so nothing is warmed up first (before, a cold "whole" against
            // a warm "parts" compared JIT tiers and needed 1e-3). Measured bit for bit at 512, 256 and 128 bits in cold
            // JVMs, both modes. A row missing or misplacing cached keys moves logits by O(0.1)
            SameBits.assertSameBits(whole, parts, "one call against calls of 7");
            float[] last = m.forward(ids, 0, ids.length, m.newCache(ids.length), false);
            SameBits.assertSameBits(last, Arrays.copyOfRange(whole, (ids.length - 1) * vocab, ids.length * vocab), "the last row's logits alone");
        }
    }

    static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
        return best;
    }

    /**
     * The per-row steps between the matrices (AltUp router inputs, predict and correct, the norms and residual adds, the
     * per-layer gate, the PLE table rows and mix, the expand's magnitudes, the FFN top-k) run on whichever thread
     * prepares a row, in ranges of rows, inside the matmuls' quantization loops or across the pool: one thread and two
     * give the same bits, in both modes — the long prompt in two calls of 64 + 28 rows (each split across the threads),
     * then both prompts as two sequences of one batch (cut into parts), then a decode step of both.
     */
    @ParameterizedTest(name = "{0} exact={1}")
    @CsvSource({"F32, true", "F32, false", "Q8_0, true", "Q8_0, false"})
    void oneAndTwoThreadsGiveTheSameBits(String type, boolean exact) throws IOException {
        Path gguf = dir.resolve(model.path("variants").path(type).path("file").asText());
        int[] shortIds = ints(model.path("prompts").path("short").path("ids")), longIds = ints(model.path("prompts").path("long").path("ids"));
        float[][] one, two;
        try (ThreadPool single = new ThreadPool(1)) {
            one = threadRuns(gguf, exact, single, shortIds, longIds);
        }
        two = threadRuns(gguf, exact, pool, shortIds, longIds);
        for (int i = 0; i < one.length; i++) {
            SameBits.assertSameBits(two[i], one[i], type + (exact ? " exact" : " default") + " run " + i + ", 2 threads against 1");
        }
    }

    /** The logits of {@link #oneAndTwoThreadsGiveTheSameBits}'s runs on {@code threads}. */
    private static float[][] threadRuns(Path gguf, boolean exact, ThreadPool threads, int[] a, int[] b) {
        try (LanguageModel m = ModelLoader.load(gguf, new ModelLoader.Options(exact, 2, 64), threads)) {
            int vocab = m.config().vocabSize();
            KvCache cache = m.newCache(b.length);
            float[] prompt = new float[b.length * vocab];
            for (int i = 0; i < b.length; i += m.maxBatch()) {
                int n = Math.min(m.maxBatch(), b.length - i);
                System.arraycopy(m.forward(b, i, n, cache, true), 0, prompt, i * vocab, n * vocab);
            }
            KvCache ca = m.newCache(a.length + 1), cb = m.newCache(b.length + 1);
            float[] both = m.forward(Batch.builder().tokens(ca, a, 0, a.length, true).tokens(cb, b, 0, b.length, true).build());
            float[] step = m.forward(Batch.builder().token(ca, a[0], true).token(cb, b[0], true).build());
            return new float[][]{prompt, both, step};
        }
    }

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        assertThat(r).isNotEmpty();
        return r;
    }

    static float[] readF32(Path f) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        float[] r = new float[b.remaining() / 4];
        b.asFloatBuffer().get(r);
        return r;
    }
}
