package dev.jemma.tools.quant;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Quantizes the fixtures' F32 files and compares with the files llama-quantize made from the same input: the
 * same type for every tensor and identical bytes, K-quants included (so the per-tensor RMSE is llama.cpp's).
 */
class ModelQuantizerTest {
    @TempDir
    Path tmp;

    @Test
    void tinyQ4_0AndQ4_K_MMatchLlamaQuantizeBitForBit() {
        Path dir = Fixtures.shared().resolve("gemma3-tiny");
        for (String preset : new String[]{"Q4_0", "Q4_K_M", "Q6_K"}) {
            Path out = tmp.resolve("tiny-" + preset + ".gguf");
            try (ThreadPool pool = new ThreadPool(2)) {
                ModelQuantizer.quantize(dir.resolve("gemma3-tiny-F32.gguf"), out,
                        new ModelQuantizer.Options(QuantPreset.parse(preset)), pool, null);
            }
            compare(out, dir.resolve("gemma3-tiny-" + preset + ".gguf"), dir.resolve("gemma3-tiny-F32.gguf"));
        }
    }

    @Test
    void smallKQuantsMatchLlamaQuantizeBitForBit() {
        Path dir = Fixtures.shared().resolve("gemma3-small-k");
        for (String preset : new String[]{"Q4_K_M", "Q6_K", "Q4_0"}) {
            Path out = tmp.resolve("small-" + preset + ".gguf");
            try (ThreadPool pool = new ThreadPool(2)) {
                ModelQuantizer.quantize(dir.resolve("gemma3-small-k-F32.gguf"), out,
                        new ModelQuantizer.Options(QuantPreset.parse(preset)), pool, null);
            }
            compare(out, dir.resolve("gemma3-small-k-" + preset + ".gguf"), dir.resolve("gemma3-small-k-F32.gguf"));
        }
    }

    @Test
    void q5KMFollowsTheMixtureAndStaysCloseToF32() {
        Path f32 = Fixtures.shared().resolve("gemma3-small-k/gemma3-small-k-F32.gguf");
        Path out = tmp.resolve("small-Q5_K_M.gguf");
        Map<String, GgmlType> plan;
        try (ThreadPool pool = new ThreadPool(2)) {
            plan = ModelQuantizer.quantize(f32, out, new ModelQuantizer.Options(QuantPreset.Q5_K_M), pool, null);
        }
        for (var e : plan.entrySet()) {
            String n = e.getKey();
            GgmlType want = n.endsWith("norm.weight") ? GgmlType.F32
                    : n.equals("token_embd.weight") || n.matches("blk\\.[25]\\.(attn_v|ffn_down)\\.weight") ? GgmlType.Q6_K
                    : GgmlType.Q5_K;
            assertThat(e.getValue()).as(n).isEqualTo(want);
        }
        try (GgufFile a = GgufFile.open(out); GgufFile src = GgufFile.open(f32)) {
            assertThat(a.getLong("general.file_type", -1)).isEqualTo(17);
            for (GgufTensorInfo t : a.tensors().values()) {
                if (t.type() != GgmlType.Q5_K) continue;
                float[] w = src.tensorData(src.tensor(t.name())).toArray(ValueLayout.JAVA_FLOAT);
                float[] y = new float[w.length];
                dev.jemma.core.tensor.Formats.of(t.type()).dequantize(a.tensorData(t), 0, y, 0, w.length);
                double e = 0, s = 0;
                for (int i = 0; i < w.length; i++) {
                    e += (w[i] - y[i]) * (double) (w[i] - y[i]);
                    s += w[i] * (double) w[i];
                }
                assertThat(Math.sqrt(e / s)).as(t.name()).isLessThan(0.05);
            }
        }
    }

    @Test
    void pureAndTokenEmbeddingTypeOverrideTheMixture() {
        try (GgufFile f = GgufFile.open(Fixtures.bundled().resolve("gemma3-tiny/gemma3-tiny-Q8_0.gguf"))) {
            Map<String, GgmlType> mix = ModelQuantizer.plan(f, new ModelQuantizer.Options(QuantPreset.Q4_K_M));
            assertThat(mix.get("token_embd.weight")).isEqualTo(GgmlType.Q8_0); // 64-wide rows: no Q6_K
            assertThat(mix.get("blk.0.attn_v.weight")).isEqualTo(GgmlType.Q8_0); // Q6_K fallback
            assertThat(mix.get("blk.1.attn_v.weight")).isEqualTo(GgmlType.Q5_0); // Q4_K fallback
            assertThat(mix.get("blk.1.attn_norm.weight")).isEqualTo(GgmlType.F32);
            Map<String, GgmlType> pure = ModelQuantizer.plan(f, new ModelQuantizer.Options(QuantPreset.Q4_0, null, null, true));
            assertThat(pure.get("token_embd.weight")).isEqualTo(GgmlType.Q4_0);
            assertThat(pure.get("blk.0.attn_v.weight")).isEqualTo(GgmlType.Q4_0);
            Map<String, GgmlType> emb = ModelQuantizer.plan(f, new ModelQuantizer.Options(QuantPreset.Q4_0, GgmlType.F16, null, false));
            assertThat(emb.get("token_embd.weight")).isEqualTo(GgmlType.F16); // Google's QAT layout
            assertThat(emb.get("blk.3.ffn_up.weight")).isEqualTo(GgmlType.Q4_0);
        }
    }

    private void compare(Path ours, Path theirs, Path f32) {
        try (GgufFile a = GgufFile.open(ours); GgufFile b = GgufFile.open(theirs); GgufFile src = GgufFile.open(f32)) {
            assertThat(a.tensors().keySet()).isEqualTo(b.tensors().keySet());
            assertThat(a.getLong("general.file_type", -1)).isEqualTo(b.getLong("general.file_type", -2));
            assertThat(a.getLong("general.quantization_version", -1)).isEqualTo(2);
            for (GgufTensorInfo tb : b.tensors().values()) {
                GgufTensorInfo ta = a.tensor(tb.name());
                assertThat(ta.type()).as(tb.name()).isEqualTo(tb.type());
                assertThat(ta.dims()).isEqualTo(tb.dims());
                byte[] x = a.tensorData(ta).toArray(ValueLayout.JAVA_BYTE);
                byte[] y = b.tensorData(tb).toArray(ValueLayout.JAVA_BYTE);
                // ggml's reference K-quant search is deterministic f32 arithmetic: same input, same blocks
                assertThat(x).as("%s %s bytes", ours.getFileName(), tb.name()).isEqualTo(y);
                if (isK(tb.type())) {
                    float[] w = src.tensorData(src.tensor(tb.name())).toArray(ValueLayout.JAVA_FLOAT);
                    assertThat(rmse(w, KDequant.dequantize(tb.type(), x, w.length))).isLessThan(0.02);
                }
            }
        }
    }

    private static boolean isK(GgmlType t) {
        return t == GgmlType.Q4_K || t == GgmlType.Q5_K || t == GgmlType.Q6_K;
    }

    private static double rmse(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - b[i]) * (double) (a[i] - b[i]);
        return Math.sqrt(s / a.length);
    }
}
