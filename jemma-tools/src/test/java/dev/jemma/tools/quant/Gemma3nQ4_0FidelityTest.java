package dev.jemma.tools.quant;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Gemma 3n's default mode on Q4_0 layer matrices, the type of Google's QAT files and of the E2B benchmark: the only
 * quantized gemma3n fixture is Q8_0, whose batches run f32 over the decoded copy, so this file is made here from the
 * F32 fixture ({@code jemma quantize … Q4_0}: layer matrices Q4_0, the tied embedding and output Q6_K). Fed one token
 * per step (the Q4_0 / Q6_K single-token int8 kernels), in steps of 7 and 16 (the few-token int8 kernels; 16 tokens
 * below 512 bits, and batches of 64, on the f32 tile over the decoded copy: {@code FastMatMul.f32TileForResidualRows}),
 * every layer matrix with residual rows where it takes int8 (the output projection on plain int8), and held to the bound of
 * {@code Gemma3nConformanceTest.FROM_EXACT} (0.25) from the exact mode of the same file fed the same way — the
 * weights' own Q4_0 rounding is in both, so only the activations' differs. Plain int8 activations in a layer matrix
 * kind move the logits of this model by ≥ 1.8 (Gemma3nConformanceTest.plainInt8InAnyLayerKindFailsTheBound).
 */
class Gemma3nQ4_0FidelityTest {
    static final double FROM_EXACT = 0.25;
    static final String[] MODES = {"1x1", "7/16", "64"};

    @TempDir
    static Path tmp;
    static Path q4;
    static ThreadPool pool;

    @BeforeAll
    static void quantize() {
        Path f32 = Fixtures.shared().resolve("gemma3n-tiny/gemma3n-tiny-F32.gguf");
        pool = new ThreadPool(2);
        q4 = tmp.resolve("gemma3n-tiny-Q4_0.gguf");
        ModelQuantizer.quantize(f32, q4, new ModelQuantizer.Options(QuantPreset.Q4_0), pool, null);
        int q4Layers = 0;
        try (GgufFile f = GgufFile.open(q4)) {
            for (GgufTensorInfo t : f.tensors().values()) {
                if (t.name().startsWith("blk.") && t.dims().length == 2 && t.type() == GgmlType.Q4_0) q4Layers++;
            }
        }
        assertThat(q4Layers).as("Q4_0 layer matrices").isPositive();
    }

    @AfterAll
    static void close() {
        if (pool != null) pool.close();
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"short", "long"})
    void defaultModeStaysNearTheExactMode(String prompt) {
        int[] ids = Fixtures.ints(Fixtures.manifest().path("models").path("gemma3n-tiny").path("prompts").path(prompt).path("ids"));
        try (LanguageModel fast = ModelLoader.load(q4, new ModelLoader.Options(false, 2, 64), pool);
             LanguageModel exact = ModelLoader.load(q4, new ModelLoader.Options(true, 2, 64), pool)) {
            int vocab = fast.config().vocabSize();
            for (int mode = 0; mode < MODES.length; mode++) {
                float[] got = logits(fast, ids, mode);
                float[] ex = logits(exact, ids, mode);
                double max = 0, sum = 0;
                int agree = 0;
                for (int t = 0; t < ids.length; t++) {
                    for (int v = 0; v < vocab; v++) {
                        double d = Math.abs(got[t * vocab + v] - ex[t * vocab + v]);
                        max = Math.max(max, d);
                        sum += d;
                    }
                    if (argmax(got, t * vocab, vocab) == argmax(ex, t * vocab, vocab)) agree++;
                }
                String how = "gemma3n-tiny Q4_0 " + prompt + " " + MODES[mode];
                System.out.printf("%s default mode from exact: max|d| %.3e mean %.3e top1 %.3f%n", how, max, sum / got.length,
                        agree / (double) ids.length);
                assertThat(max).as(how + " max|d| from the exact mode").isLessThanOrEqualTo(FROM_EXACT);
            }
        }
    }

    /** Logits of every position, fed one token per step (mode 0), in steps of 7 and 16 alternately (1) or of 64 (2). */
    static float[] logits(LanguageModel m, int[] ids, int mode) {
        KvCache cache = m.newCache(ids.length);
        int vocab = m.config().vocabSize();
        float[] out = new float[ids.length * vocab];
        int i = 0, step = mode == 0 ? 1 : mode == 1 ? 7 : 64;
        while (i < ids.length) {
            int n = Math.min(step, ids.length - i);
            System.arraycopy(m.forward(ids, i, n, cache, true), 0, out, i * vocab, n * vocab);
            i += n;
            if (mode == 1) step = step == 7 ? 16 : 7;
        }
        return out;
    }

    static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (x[off + i] > x[off + best]) best = i;
        return best;
    }
}
