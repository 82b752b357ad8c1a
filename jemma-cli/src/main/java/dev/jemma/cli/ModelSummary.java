package dev.jemma.cli;

import dev.jemma.core.Printable;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.GenerationOptions;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.model.Architectures;
import dev.jemma.core.model.ConfigReader;
import dev.jemma.core.model.MatFormer;
import dev.jemma.core.memory.MemoryPlan;
import dev.jemma.core.memory.WeightCopy;
import dev.jemma.core.model.ModelConfig;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.sampling.SamplerChain;
import dev.jemma.core.sampling.SamplingParams;
import dev.jemma.core.tensor.GgmlType;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code jemma show} reports about a GGUF file, read without loading the model: architecture, sizes, tensor-type
 * mix, attention layout, rope, vocabulary and the memory plan. {@link #toMap()} is the JSON form (stable keys);
 * {@link #toText()} the human one. A file with a vocabulary but no tensors is summarised as "vocabulary only".
 * Any valid GGUF file can be summarised, like gguf-dump or {@code ollama show}: for an architecture this version
 * cannot run (an embedding model, a multimodal projector, another family) the summary is the generic part —
 * parameters, tensor-type mix, metadata, vocabulary — with {@code "supported": false} and a line saying that
 * inference is not supported (for an mmproj file: the projectors it holds and whether Jemma runs them); the layer
 * layout and memory plan need a {@link ModelConfig} and are left out.
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
        return of(f, contextLength, maxBatch, matformer, 1);
    }

    /**
     * @param parallel KV slots of a server's pool ({@code jemma serve --parallel}): the plan holds that many caches, and
     *                 {@code contextLength} (when set) is their total, split among them as the server splits {@code -c}
     */
    public static ModelSummary of(GgufFile f, int contextLength, int maxBatch, String matformer, int parallel) {
        return of(f, contextLength, maxBatch, matformer, parallel, false);
    }

    /**
     * @param exact plan for {@code --exact}: the matrices read from the GGUF; else the default mode's, from the
     *              interleaved weight copy (its size and place, and whether the first load must build it)
     */
    public static ModelSummary of(GgufFile f, int contextLength, int maxBatch, String matformer, int parallel, boolean exact) {
        ModelSummary s = new ModelSummary();
        s.parallel = Math.max(1, parallel);
        s.exact = exact;
        s.build(f, contextLength > 0 && parallel > 1 ? Math.max(1, contextLength / parallel) : contextLength, maxBatch, matformer);
        return s;
    }

    private int parallel = 1;
    private boolean exact;
    /** The memory plan shown, or null for a file that is no model (an mmproj). */
    private MemoryPlan plan;

    /** The memory plan shown (the text model's), or null for a file that is no model of its own (an mmproj). */
    public MemoryPlan plan() {
        return plan;
    }

    public Map<String, Object> toMap() {
        return m;
    }

    public String toText() {
        int w = 0;
        for (String[] l : lines) w = Math.max(w, l[0].length());
        StringBuilder sb = new StringBuilder();
        // every value is escaped where it is quoted; this also covers what is not (a path, a warning naming a key)
        for (String[] l : lines) sb.append(String.format(Locale.ROOT, "%-" + w + "s  %s%n", l[0], Printable.line(l[1])));
        return sb.toString();
    }

    /**
     * An mmproj file (llama.cpp's {@code clip} architecture) is no model of its own: it says which projectors it holds
     * (one per modality, llama.cpp's {@code clip.[vision.|audio.]projector_type}) and whether Jemma runs them.
     */
    private String projectors(GgufFile f) {
        Map<String, String> types = new LinkedHashMap<>();
        String vision = dev.jemma.core.vision.VisionConfig.projectorType(f);
        if (vision != null) types.put("vision", vision);
        String audio = f.getString("clip.audio.projector_type");
        if (audio != null) types.put("audio", audio);
        m.put("projectors", types);
        if (types.isEmpty()) {
            line("projector", "none named (no clip.projector_type)");
            return "a multimodal projector of unknown type; not used by this version of Jemma";
        }
        List<String> parts = new ArrayList<>();
        types.forEach((k, v) -> parts.add(k + " " + Printable.of(v) + describeProjector(v)));
        line("projector", String.join(", ", parts));
        if ("gemma3".equals(vision)) {
            return "the vision tower of a Gemma 3 model: used with that model (--mmproj FILE, or as mmproj-<model>.gguf beside it)";
        }
        if ("gemma3nv".equals(vision)) {
            return "the vision tower of a Gemma 3n model (MobileNet-V5): used with that model (--mmproj FILE, or as mmproj-<model>.gguf beside it)";
        }
        return "not run by this version of Jemma (images: Gemma 3's projector gemma3, Gemma 3n's gemma3nv)";
    }

    private static String describeProjector(String type) {
        return switch (type) {
            case "gemma3" -> " (Gemma 3: SigLIP + average pooling + projection)";
            case "gemma3nv" -> " (Gemma 3n vision: MobileNet-V5)";
            case "gemma3na" -> " (Gemma 3n audio: USM conformer)";
            default -> "";
        };
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
        line("architecture", Printable.of(arch));
        if (name != null) line("name", Printable.of(name));
        boolean supported = ModelLoader.supports(arch);
        m.put("supported", supported);
        if (!supported) {
            Object type = f.get("general.type");
            if (type instanceof String t) line("type", Printable.of(t));
            String inference = "clip".equals(arch) ? projectors(f)
                    : "not supported by this version of Jemma (supported: " + ModelLoader.supportedList() + ")";
            m.put("inference", inference);
            line("inference", inference);
        }

        String[] tokens = f.getStringArray("tokenizer.ggml.tokens");
        String template = f.getString("tokenizer.chat_template");
        if (f.tensors().isEmpty()) {
            m.put("vocabulary_only", true);
            line("contents", "vocabulary only (no tensors)");
            vocabulary(f, tokens, template, -1);
            return;
        }
        m.put("vocabulary_only", false);
        if (!supported) {
            if (matformer != null) {
                throw new dev.jemma.core.JemmaException(f.path() + ": --matformer applies to gemma3n models only, this one is " + arch);
            }
            tensors(f);
            metadata(f);
            vocabulary(f, tokens, template, -1);
            return;
        }
        ModelConfig c = ModelLoader.readConfig(f);
        if (matformer != null && !Architectures.of(f).supportsMatformer()) {
            throw new dev.jemma.core.JemmaException(f.path() + ": --matformer applies to gemma3n models only, this one is " + c.architecture());
        }

        boolean embedder = !Architectures.of(f).generatesText();
        MemoryPlan plan = embedder
                ? ModelLoader.planEmbedding(f, new ModelLoader.Options(exact, 1, maxBatch).withContextLength(contextLength))
                : ModelLoader.plan(f, new ModelLoader.Options(exact, dev.jemma.core.tensor.ThreadPool.capped(0), maxBatch, matformer)
                        .withContextLength(contextLength));
        if (!embedder && parallel > 1) plan = plan.withSequences(parallel);
        this.plan = plan;
        tensors(f);

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
        if (embedder) embedding(f, c);
        vocabulary(f, tokens, template, c.vocabSize());
        if (!embedder) sampling(f);

        Map<String, Object> p = new LinkedHashMap<>();
        p.put("context_length", plan.contextLength());
        if (matformer != null) p.put("matformer", matformer);
        p.put("exact", exact);
        p.put("weights_bytes", plan.weightBytes());
        p.put("weights_fast_bytes", plan.fastWeightBytes());
        p.put("weights_fast_gguf_bytes", plan.fastGgufBytes());
        p.put("weights_mapped_bytes", plan.mappedBytes());
        WeightCopy copy = plan.copy();
        if (copy != null) {
            Map<String, Object> wc = new LinkedHashMap<>();
            wc.put("file", copy.file().toString());
            wc.put("bytes", copy.bytes());
            wc.put("present", copy.present());
            wc.put("replaces_gguf_bytes", copy.sourceBytes());
            wc.put("disk_free_bytes", freeSpace(copy.file().getParent()));
            p.put("weight_copy", wc);
        }
        p.put("first_load_peak_bytes", plan.firstLoadPeakBytes());
        p.put("kv_cache_bytes", plan.kvBytes());
        p.put("kv_slots", plan.sequences());
        p.put("kv_bytes_per_slot", plan.kvBytesPerSequence());
        p.put("logits_rows_bytes", plan.sequenceBytes() - plan.kvBytes());
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
        String weights = copy != null
                ? "weights in fast memory " + MemoryPlan.gb(plan.fastWeightBytes()) + " (interleaved copy " + MemoryPlan.gb(copy.bytes())
                        + (plan.fastGgufBytes() > 0 ? " + " + MemoryPlan.gb(plan.fastGgufBytes()) + " of the GGUF" : "") + ")"
                : plan.mappedBytes() > 0
                ? "weights in fast memory " + MemoryPlan.gb(plan.fastWeightBytes())
                : "weights " + MemoryPlan.gb(plan.weightBytes()) + " (mapped)";
        line("memory plan", (matformer != null ? "MatFormer " + matformer + ", " : "") + "context " + plan.contextLength() + ": " + weights + " + KV cache "
                + MemoryPlan.gb(plan.kvBytes()) + " + logits rows " + MemoryPlan.gb(plan.sequenceBytes() - plan.kvBytes()) + " + scratch "
                + MemoryPlan.gb(plan.scratchBytes()) + " + headroom "
                + MemoryPlan.gb(plan.headroomBytes()) + " = " + MemoryPlan.gb(plan.totalBytes()));
        if (plan.sequences() > 1) {
            line("", "KV pool: " + plan.sequences() + " slots × " + plan.contextLength() + " tokens, " + MemoryPlan.gb(plan.kvBytesPerSequence())
                    + " each (jemma serve --parallel " + plan.sequences() + ")");
        }
        if (plan.mappedBytes() > 0) {
            line("", "+ " + MemoryPlan.gb(plan.mappedBytes()) + " mapped from disk, read one row per token (per-layer embedding table; not counted)");
        }
        if (copy != null) {
            line("weight copy", MemoryPlan.gb(copy.bytes()) + " in " + copy.file() + (copy.present() ? " (built)"
                    : " (not built yet: the first load writes it, with " + free(copy) + " free there, and holds up to "
                    + MemoryPlan.gb(plan.firstLoadPeakBytes()) + " meanwhile, reading the GGUF's " + MemoryPlan.gb(copy.sourceBytes()) + " of matrices once)"));
        } else if (exact) {
            line("weight copy", "none with --exact (the matrices are read from the GGUF)");
        }
        // planned for the trained context, the memory plan's line already says its KV cache
        if (!embedder && plan.contextLength() != c.contextLength()) {
            line("", "full context " + c.contextLength() + ": KV cache " + MemoryPlan.gb(plan.kvBytesAt(c.contextLength())));
        }
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

    private static String free(WeightCopy copy) {
        long free = freeSpace(copy.file().getParent());
        return free < 0 ? "an unknown amount" : MemoryPlan.gb(free);
    }

    /** Usable bytes on the disk of {@code dir} (or of its nearest existing parent: the cache folder may not exist yet); -1 unknown. */
    static long freeSpace(java.nio.file.Path dir) {
        for (java.nio.file.Path d = dir == null ? null : dir.toAbsolutePath(); d != null; d = d.getParent()) {
            if (java.nio.file.Files.isDirectory(d)) {
                try {
                    return java.nio.file.Files.getFileStore(d).getUsableSpace();
                } catch (java.io.IOException e) {
                    return -1;
                }
            }
        }
        return -1;
    }

    /** Parameter count, tensor-type mix (sorted by bytes), embedding type, tied output and file type. */
    private void tensors(GgufFile f) {
        long params = 0;
        Map<GgmlType, long[]> byType = new EnumMap<>(GgmlType.class);
        for (GgufTensorInfo t : f.tensors().values()) {
            params += t.elementCount();
            long[] e = byType.computeIfAbsent(t.type(), k -> new long[2]);
            e[0]++;
            e[1] += t.byteSize();
        }
        m.put("parameters", params);
        line("parameters", humanCount(params) + " (" + String.format(Locale.ROOT, "%,d", params) + ")");

        Map<String, Object> mix = new LinkedHashMap<>();
        StringBuilder mixText = new StringBuilder();
        byType.entrySet().stream()
                .sorted((a, b) -> Long.compare(b.getValue()[1], a.getValue()[1]))
                .forEach(e -> {
                    GgmlType t = e.getKey();
                    Map<String, Object> one = new LinkedHashMap<>(); // fixed key order (Map.of's varies between runs)
                    one.put("tensors", e.getValue()[0]);
                    one.put("bytes", e.getValue()[1]);
                    mix.put(t.name(), one);
                    if (!mixText.isEmpty()) mixText.append(", ");
                    mixText.append(t.name()).append(" ×").append(e.getValue()[0]).append(" (").append(MemoryPlan.gb(e.getValue()[1])).append(')');
                });
        m.put("tensor_count", f.tensors().size());
        m.put("tensor_types", mix);
        line("tensors", f.tensors().size() + ": " + mixText);
        GgufTensorInfo embd = f.tensor("token_embd.weight");
        if (embd != null) {
            m.put("embedding_type", embd.type().name());
            m.put("tied_output", f.tensor("output.weight") == null);
        }
        if (f.has("general.file_type")) m.put("file_type", f.getLong("general.file_type", -1));
    }

    /**
     * For a file this version cannot run: every metadata key except the vocabulary ({@code tokenizer.*}, summarised
     * by {@link #vocabulary}) and the architecture, name and type already shown, as gguf-dump lists them. Arrays longer than
     * {@link #ARRAY_SHOWN} elements are given by length (JSON: {@code "[N values]"}).
     */
    private void metadata(GgufFile f) {
        Map<String, Object> meta = new LinkedHashMap<>();
        boolean first = true;
        for (Map.Entry<String, Object> e : f.metadata().entrySet()) {
            String k = e.getKey();
            if (k.startsWith("tokenizer.") || k.equals("general.architecture") || k.equals("general.name")
                    || k.equals("general.type") && f.get(k) instanceof String) continue;
            Object v = e.getValue();
            meta.put(k, jsonValue(v));
            line(first ? "metadata" : "", Printable.of(k) + " = " + text(v));
            first = false;
        }
        m.put("metadata", meta);
    }

    static final int ARRAY_SHOWN = 16;

    private static Object jsonValue(Object v) {
        if (v instanceof Float x && !Float.isFinite(x) || v instanceof Double d && !Double.isFinite(d)) return v.toString();
        if (v == null || !v.getClass().isArray()) return v;
        int n = java.lang.reflect.Array.getLength(v);
        if (n > ARRAY_SHOWN) return "[" + n + " values]";
        List<Object> l = new ArrayList<>(n);
        for (int i = 0; i < n; i++) l.add(jsonValue(java.lang.reflect.Array.get(v, i)));
        return l;
    }

    private static String text(Object v) {
        if (v == null) return "null";
        if (v instanceof Float x) return Float.isFinite(x) ? num(x) : x.toString();
        if (v instanceof Double x) return Double.isFinite(x) ? new java.math.BigDecimal(x.toString()).stripTrailingZeros().toPlainString() : x.toString();
        if (v instanceof String s) {
            String one = s.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t");
            return "'" + Printable.of(one, 80) + "'";
        }
        if (!v.getClass().isArray()) return String.valueOf(v);
        int n = java.lang.reflect.Array.getLength(v);
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < Math.min(n, ARRAY_SHOWN); i++) {
            if (i > 0) sb.append(", ");
            sb.append(text(java.lang.reflect.Array.get(v, i)));
        }
        if (n > ARRAY_SHOWN) sb.append(", … ").append(n).append(" values");
        return sb.append(']').toString();
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
                ? " (" + Printable.of(f.getString("tokenizer.ggml.model")) + ")" : "")) + (ids.isEmpty() ? "" : ", " + ids)
                + (rows >= 0 && tokens != null && rows != n ? ", embedding rows " + rows : ""));
        line("chat template", template == null ? "none" : "yes (" + template.length() + " chars)");
    }

    /**
     * The sampling defaults a load starts from (Ollama's show lists a model's parameters): Gemma's, under what the file's
     * {@code general.sampling.*} sets, its sampler order included, and the names in that order Jemma lacks.
     */
    private void sampling(GgufFile f) {
        List<String> warnings = new ArrayList<>();
        GenerationOptions file;
        try {
            file = Engine.fileDefaults(f, warnings);
        } catch (RuntimeException e) {
            line("warning", e.getMessage());
            return;
        }
        SamplingParams sp = file.sampling();
        List<String> fromFile = new ArrayList<>();
        if (file.samplers() != null) fromFile.add("samplers");
        if (file.temperature() != null) fromFile.add("temperature");
        if (file.topK() != null) fromFile.add("top_k");
        if (file.topP() != null) fromFile.add("top_p");
        if (file.minP() != null) fromFile.add("min_p");
        if (file.repeatPenalty() != null) fromFile.add("repeat_penalty");
        if (file.repeatLastN() != null) fromFile.add("repeat_last_n");
        SamplerChain order = file.samplers() != null ? file.samplers() : SamplerChain.DEFAULT;
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("temperature", sp.temperature());
        s.put("top_k", sp.topK());
        s.put("top_p", sp.topP());
        s.put("min_p", sp.minP());
        s.put("repeat_penalty", sp.repeatPenalty());
        s.put("repeat_last_n", sp.repeatLastN());
        s.put("samplers", order.toString());
        s.put("from_file", fromFile);
        if (!warnings.isEmpty()) s.put("warnings", warnings);
        m.put("sampling", s);
        line("sampling", "temperature " + num(sp.temperature()) + ", top_k " + sp.topK() + ", top_p " + num(sp.topP()) + ", min_p "
                + num(sp.minP()) + ", repeat_penalty " + num(sp.repeatPenalty()) + ", repeat_last_n " + sp.repeatLastN()
                + (file.samplers() != null ? ", samplers " + Printable.of(order.toString()) : "")
                + (fromFile.isEmpty() ? " (Gemma's defaults; the file sets none)" : " (the file sets " + String.join(", ", fromFile) + ")"));
        for (String w : warnings) line("warning", w);
    }

    /** Shortest plain decimal of a float: 8, 0.5, 0.000001. */
    static String num(float v) {
        return new java.math.BigDecimal(Float.toString(v)).stripTrailingZeros().toPlainString();
    }

    /** An embedding model's pipeline: attention, pooling, dense projections, output width, task prompts. */
    private void embedding(GgufFile f, ModelConfig c) {
        String arch = c.architecture();
        int pooling = f.getInt(arch + ".pooling_type", 1);
        String poolName = switch (pooling) {
            case 1 -> "mean";
            case 2 -> "cls";
            case 3 -> "last";
            default -> "type " + pooling;
        };
        List<Integer> widths = new ArrayList<>(List.of(c.dim()));
        for (String d : List.of("dense_2.weight", "dense_3.weight")) {
            var t = f.tensor(d);
            if (t != null) widths.add((int) t.rows());
        }
        int out = widths.get(widths.size() - 1);
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("attention", "bidirectional (sliding layers see |i-j| <= " + c.slidingWindow() / 2 + ")");
        e.put("pooling", poolName);
        e.put("dense", widths);
        e.put("dimension", out);
        e.put("prompts", new ArrayList<>(dev.jemma.core.embed.TaskPrompts.all().keySet()));
        m.put("embedding", e);
        line("embedding", "bidirectional attention (sliding layers see ±" + c.slidingWindow() / 2 + " tokens), " + poolName
                + " pooling, dense " + widths.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining("→"))
                + ", L2-normalised " + out + " floats (Matryoshka: any leading part, re-normalised)");
        line("", "task prompts: query, document, … (" + dev.jemma.core.embed.TaskPrompts.all().size() + "; `jemma embed --prompt`)");
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
