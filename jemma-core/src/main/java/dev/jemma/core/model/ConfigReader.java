package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads {@link ModelConfig} from GGUF metadata: refuses files missing a required key, applies documented defaults
 * (with one warning line each) for the optional ones. Architecture-neutral: the {@code {arch}.*} keys every
 * llama.cpp-converted decoder has. What an architecture assumes where the file is silent (its sliding-window
 * period, attention and embedding scales) is the caller's: see {@link Gemma3Architecture#readConfig}.
 */
public final class ConfigReader {
    private final GgufFile file;
    private final String arch;
    private final List<String> warnings = new ArrayList<>();

    private ConfigReader(GgufFile file, String arch) {
        this.file = file;
        this.arch = arch;
    }

    public static String architecture(GgufFile file) {
        String arch = file.getString("general.architecture");
        if (arch == null) throw file.error("missing required key general.architecture");
        return arch;
    }

    /**
     * The config of {@code file}. {@code defaultPeriod}: every n-th layer is global when there is no
     * {@code attention.sliding_window_pattern} key. The attention scale is the file's {@code attention.scale} or
     * 1/sqrt(head_dim); the embedding scale is 1 (architectures that scale embeddings set it with
     * {@link ModelConfig#withScales}).
     */
    public static ModelConfig read(GgufFile file, int defaultPeriod) {
        return new ConfigReader(file, architecture(file)).read(defaultPeriod);
    }

    /** Whether the file states its attention scale ({@code {arch}.attention.scale}), so that no default applies. */
    public static boolean hasAttentionScale(GgufFile file) {
        return file.has(architecture(file) + ".attention.scale");
    }

    /*
     * Sane ranges, checked before anything is sized from a value: far beyond any real model (Gemma 3 27B: 62 layers,
     * 5376 wide, FFN 21504, 32 heads of 128, 128K context, 262K vocabulary) and small enough that no product of them
     * overflows an int or sizes an allocation before the memory plan has seen it.
     */
    static final int MAX_LAYERS = 4096, MAX_WIDTH = 1 << 20, MAX_HEADS = 1024, MAX_HEAD_DIM = 4096, MAX_CONTEXT = 1 << 24,
            MAX_VOCAB = 1 << 24;

    private String k(String suffix) {
        return arch + "." + suffix;
    }

    private RuntimeException bad(String suffix, Object value, String problem) {
        return file.error(k(suffix) + ": value " + value + " " + problem);
    }

    private int required(String suffix, int max) {
        int v = file.requireInt(k(suffix));
        if (v <= 0 || v > max) throw bad(suffix, v, "is out of range (1.." + max + ")");
        return v;
    }

    private int optional(String suffix, int def, String why, int max) {
        if (!file.has(k(suffix))) {
            warnings.add("key " + k(suffix) + " missing; using " + def + why);
            return def;
        }
        int v = file.getInt(k(suffix), def);
        if (v < 0 || v > max) throw bad(suffix, v, "is out of range (0.." + max + ")");
        return v;
    }

    /** A finite number in [min, max] (min itself excluded when {@code minExclusive}); {@code def} when the key is absent. */
    private float number(String suffix, float def, boolean warn, double min, boolean minExclusive, double max) {
        if (!file.has(k(suffix))) {
            if (warn) warnings.add("key " + k(suffix) + " missing; using " + def);
            return def;
        }
        double v = file.getDouble(k(suffix), def);
        float f = (float) v;
        if (!Double.isFinite(v) || !Float.isFinite(f) || v < min || (minExclusive && v == min) || v > max) {
            throw bad(suffix, v, "is out of range (" + (minExclusive ? "above " : "") + min + " to " + max + ")");
        }
        return f;
    }

    private ModelConfig read(int defaultPeriod) {
        int layers = required("block_count", MAX_LAYERS);
        int blocks = blocksInFile();
        if (blocks >= 0 && blocks != layers) {
            throw bad("block_count", layers, "does not match the file's tensors, which are for " + blocks + " blocks (blk.0 … blk." + (blocks - 1) + ")");
        }
        int dim = required("embedding_length", MAX_WIDTH);
        int[] ffn = ffnDims(layers);
        int heads = required("attention.head_count", MAX_HEADS);
        int kvHeads = optional("attention.head_count_kv", heads, " (= head_count)", MAX_HEADS);
        if (kvHeads <= 0 || heads % kvHeads != 0) throw bad("attention.head_count_kv", kvHeads, "does not divide head_count " + heads);
        int headDim = optional("attention.key_length", dim / heads, " (= embedding_length / head_count)", MAX_HEAD_DIM);
        int valueDim = optional("attention.value_length", headDim, " (= key_length)", MAX_HEAD_DIM);
        if (headDim <= 0 || headDim % 2 != 0) throw bad("attention.key_length", headDim, "must be even and positive");
        if (valueDim != headDim) throw bad("attention.value_length", valueDim, "differs from key_length " + headDim + " (unsupported)");
        // eps 0 is plain RMS; anything from 1 up drowns the activations it normalises
        float eps = number("attention.layer_norm_rms_epsilon", 1e-6f, true, 0, false, 0.1);
        int ctx = optional("context_length", 8192, " (window-free default)", MAX_CONTEXT);
        if (ctx == 0) throw bad("context_length", 0, "is out of range (1.." + MAX_CONTEXT + ")");
        float base = number("rope.freq_base", 1_000_000f, true, 0, true, 1e12);
        float baseSwa = number("rope.freq_base_swa", 10_000f, false, 0, true, 1e12);
        int window = file.has(k("attention.sliding_window")) ? file.getInt(k("attention.sliding_window"), 0) : 0;
        if (window < 0 || window > MAX_CONTEXT) throw bad("attention.sliding_window", window, "is out of range (0.." + MAX_CONTEXT + ")");
        if (!file.has(k("attention.sliding_window"))) warnings.add("key " + k("attention.sliding_window") + " missing; all layers use full attention");
        boolean[] sliding = slidingPattern(layers, defaultPeriod, window > 0);
        float factor = 1f;
        String scalingType = file.getString(k("rope.scaling.type"));
        if (file.has(k("rope.scaling.factor")) && (scalingType == null || scalingType.equals("linear"))) {
            factor = number("rope.scaling.factor", 1f, false, 0, true, 1e6);
        } else if (scalingType != null && !scalingType.equals("none") && !scalingType.equals("linear")) {
            throw file.error(k("rope.scaling.type") + ": '" + dev.jemma.core.Printable.of(scalingType) + "' is not supported (linear or none)");
        }
        float[] ropeBase = new float[layers], ropeScale = new float[layers];
        for (int l = 0; l < layers; l++) {
            ropeBase[l] = sliding[l] ? baseSwa : base;
            ropeScale[l] = sliding[l] ? 1f : 1f / factor;
        }
        float attnScale = number("attention.scale", (float) (1.0 / Math.sqrt(headDim)), false, 0, true, 1e6);
        // 0: no soft-cap
        float softcap = number("final_logit_softcapping", 0f, false, 0, false, 1e6);
        GgufTensorInfo embd = file.tensor("token_embd.weight");
        if (embd == null) throw file.error("missing tensor token_embd.weight");
        if (embd.dims().length != 2 || embd.dims()[0] != dim) {
            throw file.error(k("embedding_length") + ": value " + dim + " does not match tensor token_embd.weight of shape "
                    + java.util.Arrays.toString(embd.dims()));
        }
        if (embd.dims()[1] > MAX_VOCAB) {
            throw file.error("tensor token_embd.weight: " + embd.dims()[1] + " rows (the vocabulary) is out of range (1.." + MAX_VOCAB + ")");
        }
        int vocab = (int) embd.dims()[1];
        String name = file.getString("general.name");
        return new ModelConfig(arch, name == null ? "" : name, layers, dim, ffn, heads, kvHeads, headDim, valueDim, eps, ctx,
                window, sliding, ropeBase, ropeScale, attnScale, softcap, vocab, 1f, List.copyOf(warnings));
    }

    /** How many {@code blk.N.*} blocks the file's tensors are for (highest N + 1), or -1 when it names none. */
    private int blocksInFile() {
        int max = -1;
        for (String t : file.tensors().keySet()) {
            if (!t.startsWith("blk.")) continue;
            int dot = t.indexOf('.', 4);
            if (dot < 0) continue;
            int n = 0;
            boolean digits = dot > 4 && dot - 4 <= 6;
            for (int i = 4; i < dot && digits; i++) {
                char ch = t.charAt(i);
                if (ch < '0' || ch > '9') digits = false;
                else n = n * 10 + (ch - '0');
            }
            if (digits) max = Math.max(max, n);
        }
        return max < 0 ? -1 : max + 1;
    }

    private int[] ffnDims(int layers) {
        Object v = file.get(k("feed_forward_length"));
        if (v == null) throw file.error("missing required key " + k("feed_forward_length"));
        int[] out = new int[layers];
        if (v instanceof int[] || v instanceof long[]) {
            if (java.lang.reflect.Array.getLength(v) != layers) {
                throw file.error(k("feed_forward_length") + ": " + java.lang.reflect.Array.getLength(v) + " entries for " + layers + " layers");
            }
            for (int l = 0; l < layers; l++) {
                long f = v instanceof int[] a ? a[l] : ((long[]) v)[l];
                if (f <= 0 || f > MAX_WIDTH) throw file.error(k("feed_forward_length") + "[" + l + "]: value " + f + " is out of range (1.." + MAX_WIDTH + ")");
                out[l] = (int) f;
            }
        } else {
            long f = file.getLong(k("feed_forward_length"), 0);
            if (f <= 0 || f > MAX_WIDTH) throw bad("feed_forward_length", f, "is out of range (1.." + MAX_WIDTH + ")");
            java.util.Arrays.fill(out, (int) f);
        }
        return out;
    }

    private boolean[] slidingPattern(int layers, int defaultPeriod, boolean hasWindow) {
        boolean[] sliding = new boolean[layers];
        if (!hasWindow) return sliding;
        Object p = file.get(k("attention.sliding_window_pattern"));
        if (p instanceof boolean[] || p instanceof int[] || p instanceof long[]) {
            boolean[] b = file.getBoolArray(k("attention.sliding_window_pattern"));
            if (b.length != layers) throw file.error(k("attention.sliding_window_pattern") + ": " + b.length + " entries for " + layers + " layers");
            return b.clone();
        }
        int period = p == null ? defaultPeriod : file.getInt(k("attention.sliding_window_pattern"), defaultPeriod);
        if (period < 0 || period > MAX_LAYERS) throw bad("attention.sliding_window_pattern", period, "is out of range (0.." + MAX_LAYERS + ")");
        // as llama.cpp: period 0 means every layer slides; otherwise the last layer of each period is global
        for (int l = 0; l < layers; l++) sliding[l] = period == 0 || l % period < period - 1;
        return sliding;
    }
}
