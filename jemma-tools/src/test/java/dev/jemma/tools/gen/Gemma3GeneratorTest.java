package dev.jemma.tools.gen;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufValueType;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelConfig;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.Formats;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The random real-shaped generator: real shapes and parameter counts, llama-quantize's type choices, sane weights. */
class Gemma3GeneratorTest {
    @TempDir
    Path dir;

    private static long params(List<Gemma3Generator.TensorPlan> plan) {
        long n = 0;
        for (Gemma3Generator.TensorPlan t : plan) {
            long e = 1;
            for (long d : t.dims()) e *= d;
            n += e;
        }
        return n;
    }

    private static Map<String, Gemma3Generator.TensorPlan> byName(List<Gemma3Generator.TensorPlan> plan) {
        return plan.stream().collect(Collectors.toMap(Gemma3Generator.TensorPlan::name, Function.identity()));
    }

    @Test
    void publishedSizesHaveTheirRealParameterCounts() {
        // element counts of the real llama.cpp conversions (tied embeddings, 262 144 rows)
        assertThat(params(Gemma3Generator.plan(new Gemma3Generator.Spec(Gemma3Size.S270M, "F16", null, 1), 262144))).isEqualTo(268_098_176L);
        assertThat(params(Gemma3Generator.plan(new Gemma3Generator.Spec(Gemma3Size.S1B, "F16", null, 1), 262144))).isEqualTo(999_885_952L);
        assertThat(params(Gemma3Generator.plan(new Gemma3Generator.Spec(Gemma3Size.S4B, "F16", null, 1), 262144))).isEqualTo(3_880_099_328L);
        List<Gemma3Generator.TensorPlan> p27 = Gemma3Generator.plan(new Gemma3Generator.Spec(Gemma3Size.S27B, "Q4_0", null, 1), 262144);
        assertThat(p27).hasSize(2 + 62 * 13);
        assertThat(byName(p27).get("blk.61.attn_q.weight").dims()).containsExactly(5376, 4096);
        assertThat(byName(p27).get("blk.0.attn_k_norm.weight").dims()).containsExactly(128);
        assertThat(Gemma3Generator.sizeLabel(999_885_952L)).isEqualTo("1000M");
        assertThat(Gemma3Generator.sizeLabel(3_880_099_328L)).isEqualTo("3.9B");
        assertThat(Gemma3Generator.sizeLabel(268_098_176L)).isEqualTo("268M");
    }

    @Test
    void typesFollowLlamaQuantize() {
        var q1 = byName(Gemma3Generator.plan(new Gemma3Generator.Spec(Gemma3Size.S1B, "Q4_0", null, 1), 262144));
        assertThat(q1.get("token_embd.weight").type()).isEqualTo(GgmlType.Q8_0); // 1152 is not a multiple of 256
        assertThat(q1.get("blk.0.attn_q.weight").type()).isEqualTo(GgmlType.Q4_0);
        assertThat(q1.get("blk.0.attn_norm.weight").type()).isEqualTo(GgmlType.F32);
        var q4 = byName(Gemma3Generator.plan(new Gemma3Generator.Spec(Gemma3Size.S4B, "Q4_0", null, 1), 262144));
        assertThat(q4.get("token_embd.weight").type()).isEqualTo(GgmlType.Q6_K);
        var qat = byName(Gemma3Generator.plan(new Gemma3Generator.Spec(Gemma3Size.S4B, "Q4_0", GgmlType.F16, 1), 262144));
        assertThat(qat.get("token_embd.weight").type()).isEqualTo(GgmlType.F16);
        assertThat(qat.values().stream().filter(t -> t.name().startsWith("blk.") && t.dims().length == 2)
                .allMatch(t -> t.type() == GgmlType.Q4_0)).isTrue();
        // Q4_K_M on 1B: K rows of 1152 fall back to Q5_0, "more bits" attn_v on 1152 rows fall back Q6_K → Q8_0,
        // ffn_down (rows 6912 = 27·256) keeps Q4_K / Q6_K
        var km = byName(Gemma3Generator.plan(new Gemma3Generator.Spec(Gemma3Size.S1B, "Q4_K_M", null, 1), 262144));
        assertThat(km.get("blk.0.attn_q.weight").type()).isEqualTo(GgmlType.Q5_0);
        assertThat(km.get("blk.0.attn_v.weight").type()).isEqualTo(GgmlType.Q8_0);
        assertThat(km.get("blk.0.ffn_down.weight").type()).isEqualTo(GgmlType.Q6_K);
        assertThat(km.get("blk.4.ffn_down.weight").type()).isEqualTo(GgmlType.Q4_K);
        assertThat(km.get("blk.0.attn_output.weight").type()).isEqualTo(GgmlType.Q4_K); // rows of 1024
    }

    @Test
    void randomBlocksDequantizeToSmallCenteredWeights() {
        for (GgmlType t : GgmlType.values()) {
            if (!RandomBlocks.isWritable(t) || !Formats.isSupported(t)) continue;
            int blocks = 4096 / t.blockSize * 16;
            byte[] b = new byte[blocks * t.typeSize];
            new RandomBlocks(t, 0.02f, 7).fill(b, 0, blocks);
            int n = blocks * t.blockSize;
            float[] w = new float[n];
            Formats.of(t).dequantize(MemorySegment.ofArray(b), 0, w, 0, n);
            double sum = 0, sq = 0;
            for (float x : w) {
                assertThat(Float.isFinite(x)).isTrue();
                sum += x;
                sq += (double) x * x;
            }
            double mean = sum / n, sd = Math.sqrt(sq / n - mean * mean);
            assertThat(sd).as(t + " sd").isCloseTo(0.02, within(0.003));
            assertThat(mean).as(t + " mean").isCloseTo(0, within(0.002));
        }
    }

    /** A 270M-shaped model with the small bundled vocabulary: real metadata, loads, finite logits. */
    @Test
    void generatedModelLoadsAndRuns() {
        Path vocabFile = Fixtures.bundled().resolve("gemma3-tiny/gemma3-tiny-Q8_0.gguf");
        Path out = dir.resolve("g.gguf");
        try (GgufFile vocab = GgufFile.open(vocabFile)) {
            Gemma3Generator.generate(new Gemma3Generator.Spec(Gemma3Size.S270M, "Q4_0", null, 3), vocab, out);
        }
        assertThat(dir.resolve("g.gguf.part")).doesNotExist();
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.getString("general.architecture")).isEqualTo("gemma3");
            assertThat(f.valueType("gemma3.block_count")).containsExactly(GgufValueType.UINT32);
            assertThat(f.getInt("gemma3.attention.sliding_window", 0)).isEqualTo(512);
            assertThat(f.has("gemma3.rope.scaling.factor")).isFalse();
            assertThat(f.getStringArray("tokenizer.ggml.tokens")).hasSize(1000);
            assertThat(f.getString("tokenizer.chat_template")).contains("start_of_turn");
            assertThat(f.getLong("general.file_type", -1)).isEqualTo(2);
            assertThat(f.tensors()).hasSize(2 + 18 * 13);
            GgufTensorInfo embd = f.tensor("token_embd.weight");
            assertThat(embd.dims()).containsExactly(640, 1000);
            ModelConfig c = ModelLoader.readConfig(f);
            assertThat(c.layers()).isEqualTo(18);
            assertThat(c.globalLayerCount()).isEqualTo(3);
            assertThat(c.kvHeads()).isEqualTo(1);
        }
        try (ThreadPool pool = new ThreadPool(1);
             LanguageModel m = ModelLoader.load(out, new ModelLoader.Options(true, 1, 4).withContextLength(8), pool)) {
            KvCache cache = m.newCache(8);
            float[] logits = m.forward(new int[]{2, 10, 20}, 0, 3, cache, true);
            assertThat(logits).hasSize(3 * 1000);
            double sd = 0;
            for (float x : logits) {
                assertThat(Float.isFinite(x)).isTrue();
                sd += x * x;
            }
            assertThat(Math.sqrt(sd / logits.length)).isBetween(0.05, 20.0);
        }
    }

    @Test
    void sameSeedSameFile() throws Exception {
        Path vocabFile = Fixtures.bundled().resolve("gemma3-tiny/gemma3-tiny-Q8_0.gguf");
        Gemma3Shape tiny = new Gemma3Shape("tiny", 2, 256, 2, 1, 64, 512, 16, 8f, 1024);
        try (GgufFile vocab = GgufFile.open(vocabFile)) {
            Gemma3Generator.generate(new Gemma3Generator.Spec(tiny, "Q4_K_M", null, 5), vocab, dir.resolve("a.gguf"));
            Gemma3Generator.generate(new Gemma3Generator.Spec(tiny, "Q4_K_M", null, 5), vocab, dir.resolve("b.gguf"));
            Gemma3Generator.generate(new Gemma3Generator.Spec(tiny, "Q4_K_M", null, 6), vocab, dir.resolve("c.gguf"));
        }
        assertThat(Files.mismatch(dir.resolve("a.gguf"), dir.resolve("b.gguf"))).isEqualTo(-1);
        assertThat(Files.mismatch(dir.resolve("a.gguf"), dir.resolve("c.gguf"))).isNotEqualTo(-1);
        try (GgufFile f = GgufFile.open(dir.resolve("a.gguf"))) {
            assertThat(f.getString("gemma3.rope.scaling.type")).isEqualTo("linear");
            assertThat(f.tensor("token_embd.weight").type()).isEqualTo(GgmlType.Q6_K);
            assertThat(f.tensor("blk.0.ffn_down.weight").type()).isEqualTo(GgmlType.Q4_K); // use_more_bits(0, 2) is false
            assertThat(f.tensor("blk.1.ffn_down.weight").type()).isEqualTo(GgmlType.Q6_K);
        }
    }

    /** Gemma 3n: the tensor names per layer and globally are exactly those of the converter's fixture file. */
    @Test
    void gemma3nTensorNamesMatchTheConverter() {
        Path fixture = Fixtures.shared().resolve("gemma3n-tiny/gemma3n-tiny-Q8_0.gguf");
        List<Gemma3Generator.TensorPlan> plan = Gemma3Generator.plan3n(new Gemma3Generator.Spec3n(Gemma3nSize.E4B, "Q8_0", null, 1));
        java.util.function.Function<String, String> generic = n -> n.replaceFirst("^blk\\.\\d+\\.", "blk.N.");
        try (GgufFile f = GgufFile.open(fixture)) {
            assertThat(plan.stream().map(t -> generic.apply(t.name())).distinct().toList())
                    .isEqualTo(f.tensors().keySet().stream().map(generic).distinct().toList());
            for (Gemma3Generator.TensorPlan t : plan) {
                GgufTensorInfo ft = f.tensor(t.name().replaceFirst("^blk\\.\\d+\\.", "blk.0."));
                assertThat(t.dims()).as(t.name()).hasSameSizeAs(ft.dims());
                assertThat(t.type() == GgmlType.F32).as(t.name()).isEqualTo(ft.type() == GgmlType.F32);
            }
        }
        assertThat(plan).hasSize(4 + 35 * 24 + 3);
        var m = byName(plan);
        assertThat(m.get("per_layer_token_embd.weight").dims()).containsExactly(8960, 262400);
        assertThat(m.get("blk.34.ffn_gate.weight").dims()).containsExactly(2048, 16384);
        assertThat(m.get("altup_proj.weight").dims()).containsExactly(2048, 2048, 3);
        assertThat(m.get("blk.0.laurel_r.weight").dims()).containsExactly(64, 2048);
    }
}
