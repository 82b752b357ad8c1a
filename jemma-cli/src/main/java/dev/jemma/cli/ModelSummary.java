package dev.jemma.cli;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.model.Architectures;
import dev.jemma.core.model.ConfigReader;
import dev.jemma.core.model.MatFormer;
import dev.jemma.core.memory.MemoryPlan;
import dev.jemma.core.model.ModelConfig;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.GgmlType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code jemma show} reports about a GGUF file, read without loading the model: architecture, sizes, tensor-type
 * mix, attention layout, rope, vocabulary and the memory plan. {@link #toMap()} is the JSON form (stable keys);
 * {@link #toText()} the human one. A file with a vocabulary but no tensors is summarised as "vocabulary only".
 */
public final class ModelSummary {
    private final Map<String, Object> m = new LinkedHashMap<>();
    private final List<String[]> lines = new ArrayList<>();

    private ModelSummary() {
    }

    /**
     * @param contextLength context the memory plan is computed for (0: {@link MemoryPlan#defaultContext})
     */
    public static ModelSummary of(GgufFile f, int contextLength, int maxBatch) {
        return of(f, contextLength, maxBatch, null);
    }

    /** @param matformer Gemma 3n MatFormer slice the memory plan is computed for ({@link MatFormer#parse}), or null */
    public static ModelSummary of(GgufFile f, int contextLength, int maxBatch, String matformer) {
        ModelSummary s = new ModelSummary();
        s.build(f, contextLength, maxBatch, matformer);
        return s;
    }

    public Map<String, Object> toMap() {
        return m;
    }

    public String toText() {
        int w = 0;
        for (String[] l : lines) w = Math.max(w, l[0].length());
        StringBuilder sb = new StringBuilder();
        for (String[] l : lines) sb.append(String.format(Locale.ROOT, "%-" + w + "s  %s%n", l[0], l[1]));
        return sb.toString();
    }

    private void line(String k, String v) {
        lines.add(new String[]{k, v});
    }

    private void build(GgufFile f, int contextLength, int maxBatch, String matformer) {
        String arch = ConfigReader.architecture(f);
        m.put("file", f.path().toString());
        m.put("file_bytes", f.fileSize());
        m.put("gguf_version", f.version());
        m.put("architecture", arch);
        String name = f.getString("general.name");
        m.put("name", name == null ? "" : name);
        line("file", f.path() + " (" + MemoryPlan.gb(f.fileSize()) + ", GGUF v" + f.version() + ")");
        line("architecture", arch);
        if (name != null) line("name", name);

        String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
        String template = f.getString("tokenizer.chat_template");
        if (f.tensors().isEmpty()) {
            m.put("vocabulary_only", true);
            line("contents", "vocabulary only (no tensors)");
            vocabulary(f, tokens, template, -1);
            return;
        }
        m.put("vocabulary_only", false);
        ModelConfig c = ModelLoader.readConfig(f);
        if (matformer != null && !Architectures.of(f).supportsMatformer()) {
            throw new dev.jemma.core.JemmaException(f.path() + ": --matformer applies to gemma3n models only, this one is " + c.architecture());
        }

        long params = 0;
        for (GgufTensorInfo t : f.tensors().values()) params += t.elementCount();
        m.put("parameters", params);
        line("parameters", humanCount(params) + " (" + String.format(Locale.ROOT, "%,d", params) + ")");

        MemoryPlan plan = ModelLoader.plan(f, c, contextLength, maxBatch, matformer);
        Map<String, Object> mix = new LinkedHashMap<>();
        StringBuilder mixText = new StringBuilder();
        plan.bytesByType().entrySet().stream()
                .sorted((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1]))
                .forEach(e -> {
                    GgmlType t = e.getKey();
                    mix.put(t.name(), Map.of("tensors", e.getValue()[0], "bytes", e.getValue()[1]));
                    if (!mixText.isEmpty()) mixText.append(", ");
                    mixText.append(t.name()).append(" ×").append(e.getValue()[0]).append(" (").append(MemoryPlan.gb(e.getValue()[1])).append(')');
                });
        m.put("tensor_count", f.tensors().size());
        m.put("tensor_types", mix);
        line("tensors", f.tensors().size() + ": " + mixText);
        GgufTensorInfo embd = f.tensor("token_embd.weight");
        m.put("embedding_type", embd.type().name());
        m.put("tied_output", f.tensor("output.weight") == null);
        if (f.has("general.file_type")) m.put("file_type", f.getLong("general.file_type", -1));

        m.put("context_length", c.contextLength());
        m.put("block_count", c.layers());
        m.put("embedding_length", c.dim());
        m.put("feed_forward_length", c.ffnDim()[0]);
        m.put("head_count", c.heads());
        m.put("head_count_kv", c.kvHeads());
        m.put("head_dim", c.headDim());
        m.put("sliding_window", c.slidingWindow());
        m.put("layer_pattern", c.layerPattern());
        List<Integer> global = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) if (!c.sliding()[l]) global.add(l);
        m.put("global_layers", global);
        m.put("attention_scale", c.attentionScale());
        m.put("rms_eps", c.rmsEps());
        line("context", c.contextLength() + " tokens (trained)");
        line("layers", c.layers() + ": " + c.layerPattern());
        line("dimensions", "embedding " + c.dim() + ", ffn " + ffnText(c.ffnDim()) + ", vocab " + c.vocabSize());
        line("attention", c.heads() + " heads, " + c.kvHeads() + " KV heads, head dim " + c.headDim()
                + ", scale " + num(c.attentionScale()));

        float globalBase = 0, localBase = 0, globalScale = 1;
        for (int l = 0; l < c.layers(); l++) {
            if (c.sliding()[l]) localBase = c.ropeBase()[l];
            else {
                globalBase = c.ropeBase()[l];
                globalScale = c.ropeScale()[l];
            }
        }
        Map<String, Object> rope = new LinkedHashMap<>();
        StringBuilder ropeText = new StringBuilder();
        if (global.size() > 0) {
            rope.put("global_base", globalBase);
            rope.put("global_linear_factor", 1 / globalScale);
            ropeText.append(String.format(Locale.ROOT, "global base %.0f", globalBase));
            ropeText.append(globalScale != 1f ? " (linear scaling ×" + num(1 / globalScale) + ")" : " (no scaling)");
        }
        if (global.size() < c.layers()) {
            rope.put("local_base", localBase);
            if (!ropeText.isEmpty()) ropeText.append(", ");
            ropeText.append(String.format(Locale.ROOT, "local base %.0f", localBase));
        }
        m.put("rope", rope);
        line("rope", ropeText.toString());
        line("norm", "RMS eps " + num(c.rmsEps())
                + (c.finalSoftcap() > 0 ? ", final logit softcap " + num(c.finalSoftcap()) : ""));
        vocabulary(f, tokens, template, c.vocabSize());

        Map<String, Object> p = new LinkedHashMap<>();
        p.put("context_length", plan.contextLength());
        if (matformer != null) p.put("matformer", matformer);
        p.put("weights_bytes", plan.weightBytes());
        p.put("weights_fast_bytes", plan.fastWeightBytes());
        p.put("weights_mapped_bytes", plan.mappedBytes());
        p.put("kv_cache_bytes", plan.kvBytes());
        p.put("scratch_bytes", plan.scratchBytes());
        p.put("headroom_bytes", plan.headroomBytes());
        p.put("total_bytes", plan.totalBytes());
        p.put("heap_needed_bytes", plan.heapNeeded());
        p.put("heap_limit_bytes", plan.heapLimit());
        p.put("memory_available_bytes", plan.memAvailable());
        String problem = plan.problem();
        p.put("fits", problem == null);
        if (problem != null) p.put("problem", problem);
        m.put("memory_plan", p);
        String weights = plan.mappedBytes() > 0
                ? "weights in fast memory " + MemoryPlan.gb(plan.fastWeightBytes())
                : "weights " + MemoryPlan.gb(plan.weightBytes()) + " (mapped)";
        line("memory plan", (matformer != null ? "MatFormer " + matformer + ", " : "") + "context " + plan.contextLength() + ": " + weights + " + KV cache "
                + MemoryPlan.gb(plan.kvBytes()) + " + scratch " + MemoryPlan.gb(plan.scratchBytes()) + " + headroom "
                + MemoryPlan.gb(plan.headroomBytes()) + " = " + MemoryPlan.gb(plan.totalBytes()));
        if (plan.mappedBytes() > 0) {
            line("", "+ " + MemoryPlan.gb(plan.mappedBytes()) + " mapped from disk, read one row per token (per-layer embedding table; not counted)");
        }
        line("", "full context " + c.contextLength() + ": KV cache " + MemoryPlan.gb(plan.kvBytesAt(c.contextLength())));
        line("available", "Java heap " + MemoryPlan.gb(plan.heapLimit()) + ", memory "
                + (plan.memAvailable() < 0 ? "unknown" : MemoryPlan.gb(plan.memAvailable())) + (problem == null ? " → fits" : " → does NOT fit"));
        if (problem != null) line("", problem);
        if (plan.contextLength() > c.contextLength()) {
            line("note", "context " + plan.contextLength() + " exceeds the trained " + c.contextLength() + " tokens; quality past it is not expected");
        }
        if (!c.warnings().isEmpty()) {
            m.put("warnings", c.warnings());
            for (String w : c.warnings()) line("warning", w);
        }
    }

    private void vocabulary(GgufFile f, String[] tokens, String template, int rows) {
        int n = tokens == null ? 0 : tokens.length;
        m.put("vocab_size", rows >= 0 ? rows : n);
        m.put("tokenizer_tokens", n);
        m.put("tokenizer_model", f.getString("tokenizer.ggml.model"));
        long bos = f.getLong("tokenizer.ggml.bos_token_id", -1), eos = f.getLong("tokenizer.ggml.eos_token_id", -1);
        m.put("bos_token_id", bos);
        m.put("eos_token_id", eos);
        m.put("chat_template", template != null);
        String ids = (bos >= 0 ? "bos " + bos : "") + (eos >= 0 ? (bos >= 0 ? ", " : "") + "eos " + eos : "");
        line("vocabulary", (tokens == null ? "none" : n + " tokens" + (f.getString("tokenizer.ggml.model") != null
                ? " (" + f.getString("tokenizer.ggml.model") + ")" : "")) + (ids.isEmpty() ? "" : ", " + ids)
                + (rows >= 0 && tokens != null && rows != n ? ", embedding rows " + rows : ""));
        line("chat template", template == null ? "none" : "yes (" + template.length() + " chars)");
    }

    /** Shortest plain decimal of a float: 8, 0.5, 0.000001. */
    static String num(float v) {
        return new java.math.BigDecimal(Float.toString(v)).stripTrailingZeros().toPlainString();
    }

    private static String ffnText(int[] ffn) {
        int min = Integer.MAX_VALUE, max = 0;
        for (int x : ffn) {
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        return min == max ? String.valueOf(max) : min + "…" + max;
    }

    /** "1.00 B", "268 M", "460 K". */
    static String humanCount(long n) {
        if (n >= 1_000_000_000L) return String.format(Locale.ROOT, "%.2f B", n / 1e9);
        if (n >= 1_000_000L) return String.format(Locale.ROOT, "%.1f M", n / 1e6);
        return String.format(Locale.ROOT, "%.1f K", n / 1e3);
    }
}
