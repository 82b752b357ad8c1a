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
 */
public class FidelityProbe {
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

    public static void main(String[] args) {
        String filter = args.length > 0 ? args[0] : "";
        JsonNode models = Fixtures.manifest().get("models");
        Path root = Fixtures.shared();
        int bad = 0;
        int[] badByMode = new int[3];
        try (ThreadPool pool = new ThreadPool(2)) {
            for (String model : List.of("gemma3-tiny", "gemma3-small-k")) {
                JsonNode md = models.get(model);
                for (Iterator<Map.Entry<String, JsonNode>> it = md.get("variants").fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> v = it.next();
                    String label0 = model + "/" + v.getKey();
                    if (!label0.matches(".*(" + filter + ").*")) continue;
                    Path gguf = root.resolve(v.getValue().get("file").asText());
                    try (LanguageModel m = ModelLoader.load(gguf, new ModelLoader.Options(false, 2, 64), pool)) {
                        int vocab = m.config().vocabSize();
                        for (String prompt : List.of("short", "long")) {
                            JsonNode p = v.getValue().get("prompts").get(prompt);
                            int[] ids = Fixtures.ints(md.get("prompts").get(prompt).get("ids"));
                            float[] ref = Fixtures.readF32(root.resolve(p.get("logits_file").asText()));
                            float[] llama = Fixtures.readF32(root.resolve(p.get("llamacpp").get("logits_file").asText()));
                            LogitStats theirs = LogitStats.compare(ref, llama, vocab);
                            StringBuilder sb = new StringBuilder(String.format("%-26s %-5s llama %.3f %.3f |", label0, prompt, theirs.maxAbs(), theirs.top1Agreement()));
                            for (int mode = 0; mode < 3; mode++) {
                                float[] got = logits(m, ids, mode);
                                String dump = System.getProperty("probe.dump");
                                if (dump != null) {
                                    var bb = java.nio.ByteBuffer.allocate(got.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                                    bb.asFloatBuffer().put(got);
                                    try { java.nio.file.Files.createDirectories(Path.of(dump)); java.nio.file.Files.write(Path.of(dump, model + "-" + v.getKey() + "." + prompt + ".m" + mode + ".f32"), bb.array()); } catch (java.io.IOException e) { throw new RuntimeException(e); }
                                }
                                LogitStats s = LogitStats.compare(ref, got, vocab);
                                boolean ok = s.maxAbs() <= theirs.maxAbs() && s.top1Agreement() >= theirs.top1Agreement();
                                if (!ok) {
                                    bad++;
                                    badByMode[mode]++;
                                }
                                sb.append(String.format(" %s %.3f %.3f mean %.4f%s |", new String[]{"1x1", "7/16", "64"}[mode], s.maxAbs(), s.top1Agreement(), s.meanAbs(), ok ? "" : " FAIL"));
                            }
                            sb.append(String.format(" llmean %.4f", theirs.meanAbs()));
                            System.out.println(sb);
                        }
                    }
                }
            }
        }
        System.out.printf("failing: %d (one token per step %d, 7/16 %d, 64 %d)%n", bad, badByMode[0], badByMode[1], badByMode[2]);
    }
}
