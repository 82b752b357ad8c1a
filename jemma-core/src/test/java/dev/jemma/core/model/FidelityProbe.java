package dev.jemma.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.LogitStats;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Probe (not a test): default-mode max|d| / top-1 per fixture case in three feeding modes vs llama.cpp's — one token
 * per step (the generation path), uneven batches of 7 and 16 (few-token kernels) and batches of 64 (the GEMMs). The
 * last line counts the case × mode pairs that fall short of llama.cpp's max |d| or top-1, per mode. Arguments: a regex
 * over "model/type" (empty: every file). Run with the JVM flags under test (vector width, {@code -Djemma.int8.*});
 * docs/PERFORMANCE.md, "Fidelity, second pass", has the command.
 *
 * <p>With {@code -Dprobe.emulate=SWITCHES} the model runs on {@link LlamaCppArithmetic} instead of the default mode: an
 * f32 emulation of llama.cpp's (or Jemma's) activation rounding, one switch per difference ({@code llama} and
 * {@code jemma} name the full sets), fed the whole prompt in one call as llama.cpp's reference run was unless
 * {@code -Dprobe.modes} says otherwise (indices into {@link #MODES}, e.g. {@code 0,3}). Each row then also says how
 * far the emulation is from llama.cpp's own logits ({@code vs llama} max |d| and top-1 agreement), and the last line
 * counts the cases whose pass/fail against llama.cpp's bars is not llama.cpp's own (which, at its own bars, passes).
 * docs/PERFORMANCE.md, "Fidelity, third pass", has the commands and the counts.
 */
public class FidelityProbe {
    /** Feeding modes: one token per step, batches of 7 and 16 in turn, batches of 64, the whole prompt in one call. */
    static final String[] MODES = {"1x1", "7/16", "64", "all"};

    static float[] logits(LanguageModel m, int[] ids, int mode) {
        KvCache cache = m.newCache(ids.length);
        int vocab = m.config().vocabSize();
        float[] out = new float[ids.length * vocab];
        int i = 0, step = mode == 0 ? 1 : mode == 1 ? 7 : mode == 2 ? 64 : ids.length;
        while (i < ids.length) {
            int n = Math.min(step, ids.length - i);
            System.arraycopy(m.forward(ids, i, n, cache, true), 0, out, i * vocab, n * vocab);
            i += n;
            if (mode == 1) step = step == 7 ? 16 : 7;
        }
        return out;
    }

    public static void main(String[] args) {
        String filter = args.length > 0 ? args[0] : "";
        JsonNode models = Fixtures.manifest().get("models");
        Path root = Fixtures.shared();
        String emulate = System.getProperty("probe.emulate");
        LlamaCppArithmetic.Switches sw = emulate == null ? null : LlamaCppArithmetic.Switches.parse(
                emulate.equals("llama") ? LlamaCppArithmetic.Switches.LLAMA : emulate.equals("jemma") ? LlamaCppArithmetic.Switches.JEMMA : emulate);
        int[] modes = java.util.Arrays.stream(System.getProperty("probe.modes", sw == null ? "0,1,2" : "3").split(","))
                .mapToInt(Integer::parseInt).toArray();
        if (sw != null) System.out.println("emulating " + sw);
        int bad = 0, cases = 0;
        int[] badByMode = new int[MODES.length];
        double worstToLlama = 0;
        // the mean |d| averaged over the cases where llama.cpp's max |d| exceeds 0.1 (the quantized and BF16 files), per mode
        double[] meanSum = new double[MODES.length];
        int[] meanCount = new int[MODES.length];
        try (ThreadPool pool = new ThreadPool(2)) {
            for (String model : List.of("gemma3-tiny", "gemma3-small-k", "gemma3n-tiny")) {
                // gemma3n-tiny only when asked for by name (with -Djemma.gemma3n.int8Matrices to leave matrix kinds on plain int8):
                // "" stays the 24 Gemma 3 cases, and the emulation builds Gemma 3 models only
                if (model.startsWith("gemma3n") && (sw != null || !filter.contains("gemma3n"))) continue;
                JsonNode md = models.get(model);
                for (Iterator<Map.Entry<String, JsonNode>> it = md.get("variants").fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> v = it.next();
                    String label0 = model + "/" + v.getKey();
                    if (!label0.matches(".*(" + filter + ").*")) continue;
                    Path gguf = root.resolve(v.getValue().get("file").asText());
                    try (LanguageModel m = sw == null ? ModelLoader.load(gguf, new ModelLoader.Options(false, 2, 64), pool) : emulated(gguf, sw, pool)) {
                        int vocab = m.config().vocabSize();
                        for (String prompt : List.of("short", "long")) {
                            JsonNode p = v.getValue().get("prompts").get(prompt);
                            int[] ids = Fixtures.ints(md.get("prompts").get(prompt).get("ids"));
                            float[] ref = Fixtures.readF32(root.resolve(p.get("logits_file").asText()));
                            float[] llama = Fixtures.readF32(root.resolve(p.get("llamacpp").get("logits_file").asText()));
                            LogitStats theirs = LogitStats.compare(ref, llama, vocab);
                            StringBuilder sb = new StringBuilder(String.format("%-26s %-5s llama %.3f %.3f |", label0, prompt, theirs.maxAbs(), theirs.top1Agreement()));
                            boolean caseBad = false;
                            for (int mode : modes) {
                                float[] got = logits(m, ids, mode);
                                String dump = System.getProperty("probe.dump");
                                if (dump != null) {
                                    var bb = java.nio.ByteBuffer.allocate(got.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                                    bb.asFloatBuffer().put(got);
                                    try { java.nio.file.Files.createDirectories(Path.of(dump)); java.nio.file.Files.write(Path.of(dump, model + "-" + v.getKey() + "." + prompt + ".m" + mode + ".f32"), bb.array()); } catch (java.io.IOException e) { throw new RuntimeException(e); }
                                }
                                LogitStats s = LogitStats.compare(ref, got, vocab);
                                if (theirs.maxAbs() > 0.1) {
                                    meanSum[mode] += s.meanAbs();
                                    meanCount[mode]++;
                                }
                                boolean ok = s.maxAbs() <= theirs.maxAbs() && s.top1Agreement() >= theirs.top1Agreement();
                                if (!ok) {
                                    bad++;
                                    badByMode[mode]++;
                                    caseBad = true;
                                }
                                sb.append(String.format(" %s %.3f %.3f mean %.4f%s |", MODES[mode], s.maxAbs(), s.top1Agreement(), s.meanAbs(), ok ? "" : " FAIL"));
                                if (sw != null) {
                                    LogitStats toLlama = LogitStats.compare(llama, got, vocab);
                                    worstToLlama = Math.max(worstToLlama, toLlama.maxAbs());
                                    sb.append(String.format(" vs llama %.4f mean %.4f top-1 %.3f |", toLlama.maxAbs(), toLlama.meanAbs(), toLlama.top1Agreement()));
                                }
                            }
                            if (caseBad) cases++;
                            sb.append(String.format(" llmean %.4f", theirs.meanAbs()));
                            System.out.println(sb);
                        }
                    }
                }
            }
        }
        System.out.printf("failing: %d (one token per step %d, 7/16 %d, 64 %d, whole prompt %d); cases short: %d%s%n", bad,
                badByMode[0], badByMode[1], badByMode[2], badByMode[3], cases,
                sw == null ? "" : String.format("; worst max |d| to llama.cpp's logits %.4f", worstToLlama));
        for (int mode : modes) System.out.printf("mean |d| over the %d cases where llama.cpp's max |d| > 0.1, %s: %.4f%n", meanCount[mode], MODES[mode], meanSum[mode] / Math.max(1, meanCount[mode]));
    }

    /** A Gemma 3 model whose every matrix runs on {@link LlamaCppArithmetic} with these switches (no interleaved copy). */
    static LanguageModel emulated(Path gguf, LlamaCppArithmetic.Switches sw, ThreadPool pool) {
        dev.jemma.core.gguf.GgufFile file = dev.jemma.core.gguf.GgufFile.open(gguf);
        ModelConfig c = ModelLoader.readConfig(file);
        return new Gemma3Model(file, c, new LlamaCppArithmetic(sw), pool, 128, true, false);
    }
}
