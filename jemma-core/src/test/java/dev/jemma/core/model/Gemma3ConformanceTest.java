package dev.jemma.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.Formats;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.Interleaved;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.LogitStats;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every Gemma 3 fixture GGUF, every prompt, every position: exact mode within 1e-3 of the reference with identical
 * greedy continuations; the default mode (one token per step and in batches) and its f32-activation path at least as
 * close to the reference as llama.cpp is (max |Δ|, top-1), every case; int8 files also within the fixtures'
 * activation-quantized tolerances.
 */
class Gemma3ConformanceTest {
    private static ThreadPool pool;

    @BeforeAll
    static void start() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    static Stream<Arguments> cases() {
        JsonNode models = Fixtures.manifest().get("models");
        Path root = Fixtures.any();
        List<Arguments> out = new ArrayList<>();
        for (String model : List.of("gemma3-tiny", "gemma3-small-k")) {
            JsonNode m = models.get(model);
            for (Iterator<Map.Entry<String, JsonNode>> it = m.get("variants").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> v = it.next();
                for (String prompt : List.of("short", "long")) {
                    out.add(Arguments.of(model + "/" + v.getKey() + "/" + prompt, root, m, v.getValue(), prompt));
                }
            }
        }
        return out.stream();
    }

    private static Path locate(Path root, String rel) {
        Path p = root.resolve(rel);
        if (!Files.exists(p)) {
            if (root.equals(Fixtures.bundled())) Assumptions.abort(rel + " is not in the bundled core fixtures");
            throw new AssertionError("fixture missing: " + p);
        }
        return p;
    }

    private static void assumeSupported(Path gguf) {
        try (GgufFile f = GgufFile.open(gguf)) {
            for (var t : f.tensors().values()) {
                Assumptions.assumeTrue(Formats.isSupported(t.type()), "tensor type " + t.type() + " not supported yet");
            }
        }
    }

    /** One file × prompt of the manifest: the GGUF (skipped if a tensor type is unsupported), ids, reference and llama.cpp logits. */
    private record Fixture(Path gguf, int[] ids, float[] ref, float[] llama) {
        static Fixture of(Path root, JsonNode model, JsonNode variant, String prompt) {
            Path gguf = locate(root, variant.get("file").asText());
            assumeSupported(gguf);
            JsonNode p = variant.get("prompts").get(prompt);
            return new Fixture(gguf, Fixtures.ints(model.get("prompts").get(prompt).get("ids")),
                    Fixtures.readF32(locate(root, p.get("logits_file").asText())),
                    Fixtures.readF32(locate(root, p.get("llamacpp").get("logits_file").asText())));
        }
    }

    private static float[] allLogits(LanguageModel m, int[] ids) {
        return allLogits(m, ids, false);
    }

    /** Logits at every position, fed in uneven batches of 7 and 16 (or one token at a time, as generation does). */
    private static float[] allLogits(LanguageModel m, int[] ids, boolean oneByOne) {
        KvCache cache = m.newCache(ids.length);
        int vocab = m.config().vocabSize();
        float[] out = new float[ids.length * vocab];
        // uneven batches exercise the batch/cache split of attention
        int i = 0, step = oneByOne ? 1 : 7;
        while (i < ids.length) {
            int n = Math.min(step, ids.length - i);
            System.arraycopy(m.forward(ids, i, n, cache, true), 0, out, i * vocab, n * vocab);
            i += n;
            if (!oneByOne) step = step == 7 ? 16 : 7;
        }
        return out;
    }

    private static int[] greedy(LanguageModel m, int[] prompt, int n) {
        KvCache cache = m.newCache(prompt.length + n);
        int vocab = m.config().vocabSize();
        float[] logits = m.forward(prompt, 0, prompt.length, cache, false);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = LogitStats.argmax(logits, 0, vocab);
            if (i + 1 < n) logits = m.forward(new int[]{out[i]}, 0, 1, cache, false);
        }
        return out;
    }

    @ParameterizedTest(name = "{0} exact")
    @MethodSource("cases")
    void exactModeMatchesReference(String label, Path root, JsonNode model, JsonNode variant, String prompt) {
        Path gguf = locate(root, variant.get("file").asText());
        assumeSupported(gguf);
        JsonNode p = variant.get("prompts").get(prompt);
        int[] ids = Fixtures.ints(model.get("prompts").get(prompt).get("ids"));
        float[] ref = Fixtures.readF32(locate(root, p.get("logits_file").asText()));
        try (LanguageModel m = ModelLoader.load(gguf, new ModelLoader.Options(true, 2, 16), pool)) {
            LogitStats s = LogitStats.compare(ref, allLogits(m, ids), m.config().vocabSize());
            System.out.println(label + " exact: " + s);
            assertThat(s.maxAbs()).as(label + " max|d|").isLessThanOrEqualTo(1e-3);
            assertThat(s.meanAbs()).as(label + " mean|d|").isLessThanOrEqualTo(1e-4);
            assertThat(greedy(m, ids, 16)).as(label + " greedy ids").containsExactly(Fixtures.ints(p.get("greedy_ids")));
        }
    }

    @ParameterizedTest(name = "{0} default mode, f32 activations")
    @MethodSource("cases")
    void f32ActivationsNoWorseThanLlamaCpp(String label, Path root, JsonNode model, JsonNode variant, String prompt) {
        Fixture fx = Fixture.of(root, model, variant, prompt);
        Path gguf = fx.gguf();
        int[] ids = fx.ids();
        float[] ref = fx.ref();
        float[] llama = fx.llama();
        try (LanguageModel m = ModelLoader.load(gguf, new ModelLoader.Options(false, 2, 64).withF32Activations(true), pool)) {
            int vocab = m.config().vocabSize();
            LogitStats ours = LogitStats.compare(ref, allLogits(m, ids), vocab);
            LogitStats theirs = LogitStats.compare(ref, llama, vocab);
            System.out.println(label + " f32 activations: " + ours + " | llama.cpp: " + theirs);
            assertThat(ours.maxAbs()).as(label + " max|d| vs llama.cpp's").isLessThanOrEqualTo(theirs.maxAbs());
            assertThat(ours.top1Agreement()).as(label + " top-1 vs llama.cpp's").isGreaterThanOrEqualTo(theirs.top1Agreement());
        }
    }

    /**
     * The default mode, fed one token at a time (the generation path: int8 activations for every quantized matrix)
     * and in uneven batches (the prompt path: the int8 GEMM for Q4_0 / Q5_0 / Q4_K, f32 activations for the others),
     * is at least as close to the reference as llama.cpp is on every file and prompt — max |Δ| no larger, top-1
     * agreement no lower, over all positions (ENGINEERING.md) — with no case excluded. Files with int8 matrices are
     * also held to the fixtures' {@code activation_quantized_mode} tolerances (read from the manifest). What makes
     * the int8 paths meet llama.cpp's bars with a margin rather than by luck is the residual rows of
     * {@link dev.jemma.core.tensor.kernels.QuantizedActivations}.
     */
    @ParameterizedTest(name = "{0} default mode")
    @MethodSource("cases")
    void defaultModeNoWorseThanLlamaCpp(String label, Path root, JsonNode model, JsonNode variant, String prompt) {
        Fixture fx = Fixture.of(root, model, variant, prompt);
        Path gguf = fx.gguf();
        int[] ids = fx.ids();
        float[] ref = fx.ref();
        float[] llama = fx.llama();
        JsonNode tol = Fixtures.manifest().get("tolerances").get("activation_quantized_mode");
        boolean int8 = false;
        try (GgufFile f = GgufFile.open(gguf)) {
            for (var t : f.tensors().values()) int8 |= t.dims().length == 2 && Interleaved.int8Activations(t.type());
        }
        try (LanguageModel m = ModelLoader.load(gguf, new ModelLoader.Options(false, 2, 64), pool)) {
            int vocab = m.config().vocabSize();
            LogitStats theirs = LogitStats.compare(ref, llama, vocab);
            for (boolean oneByOne : new boolean[]{true, false}) {
                String how = label + (oneByOne ? " one token per step" : " batches");
                LogitStats ours = LogitStats.compare(ref, allLogits(m, ids, oneByOne), vocab);
                System.out.println(how + ": " + ours + " | llama.cpp: " + theirs);
                assertThat(ours.maxAbs()).as(how + " max|d| vs llama.cpp's").isLessThanOrEqualTo(theirs.maxAbs());
                assertThat(ours.top1Agreement()).as(how + " top-1 vs llama.cpp's").isGreaterThanOrEqualTo(theirs.top1Agreement());
                if (!int8 || !dev.jemma.core.tensor.kernels.Kernels.ENABLED) continue;
                String kind = variant.get("file").asText().contains("-F32") ? "F32" : "quantized";
                assertThat(ours.maxAbs()).as(how + " max|d|").isLessThanOrEqualTo(tol.get("max_abs_logit_diff").get(kind).asDouble());
                assertThat(ours.meanAbs()).as(how + " mean|d|").isLessThanOrEqualTo(tol.get("mean_abs_logit_diff").get(kind).asDouble());
                assertThat(ours.top1Agreement()).as(how + " top-1").isGreaterThanOrEqualTo(tol.get("top1_agreement_min").asDouble());
            }
        }
    }

    @SuppressWarnings("unused")
    private static boolean isQuantized(GgmlType t) {
        return t.isQuantized();
    }
}
