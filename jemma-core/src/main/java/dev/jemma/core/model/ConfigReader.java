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

    private String k(String suffix) {
        return arch + "." + suffix;
    }

    private int required(String suffix) {
        int v = file.requireInt(k(suffix));
        if (v <= 0) throw file.error(k(suffix) + ": value " + v + " must be positive");
        return v;
    }

    private int optional(String suffix, int def, String why) {
        if (!file.has(k(suffix))) {
            warnings.add("key " + k(suffix) + " missing; using " + def + why);
            return def;
        }
        int v = file.getInt(k(suffix), def);
        if (v < 0) throw file.error(k(suffix) + ": value " + v + " must not be negative");
        return v;
    }

    private float optionalFloat(String suffix, float def) {
        if (!file.has(k(suffix))) {
            warnings.add("key " + k(suffix) + " missing; using " + def);
            return def;
        }
        double v = file.getDouble(k(suffix), def);
        if (!(v > 0) || Double.isInfinite(v)) throw file.error(k(suffix) + ": value " + v + " must be a positive number");
        return (float) v;
    }

    private ModelConfig read(int defaultPeriod) {
        int layers = required("block_count");
        int dim = required("embedding_length");
        int[] ffn = ffnDims(layers);
        int heads = required("attention.head_count");
        if (layers > 4096) throw file.error(k("block_count") + ": value " + layers + " is absurd");
        int kvHeads = optional("attention.head_count_kv", heads, " (= head_count)");
        if (kvHeads <= 0 || heads % kvHeads != 0) {
            throw file.error(k("attention.head_count_kv") + ": value " + kvHeads + " does not divide head_count " + heads);
        }
        int headDim = optional("attention.key_length", dim / heads, " (= embedding_length / head_count)");
        int valueDim = optional("attention.value_length", headDim, " (= key_length)");
        if (headDim <= 0 || headDim % 2 != 0) throw file.error(k("attention.key_length") + ": value " + headDim + " must be even and positive");
        if (valueDim != headDim) throw file.error(k("attention.value_length") + ": " + valueDim + " differs from key_length " + headDim + " (unsupported)");
        float eps = file.has(k("attention.layer_norm_rms_epsilon"))
                ? (float) file.getDouble(k("attention.layer_norm_rms_epsilon"), 1e-6)
                : warnDefault("attention.layer_norm_rms_epsilon", 1e-6f);
        int ctx = optional("context_length", 8192, " (window-free default)");
        if (ctx == 0) throw file.error(k("context_length") + ": value 0");
        float base = optionalFloat("rope.freq_base", 1_000_000f);
        float baseSwa = file.has(k("rope.freq_base_swa")) ? (float) file.getDouble(k("rope.freq_base_swa"), 10_000) : 10_000f;
        int window = file.has(k("attention.sliding_window")) ? file.getInt(k("attention.sliding_window"), 0) : 0;
        if (window < 0) throw file.error(k("attention.sliding_window") + ": value " + window);
        if (!file.has(k("attention.sliding_window"))) warnings.add("key " + k("attention.sliding_window") + " missing; all layers use full attention");
        boolean[] sliding = slidingPattern(layers, defaultPeriod, window > 0);
        float factor = 1f;
        String scalingType = file.getString(k("rope.scaling.type"));
        if (file.has(k("rope.scaling.factor")) && (scalingType == null || scalingType.equals("linear"))) {
            factor = (float) file.getDouble(k("rope.scaling.factor"), 1.0);
            if (!(factor > 0)) throw file.error(k("rope.scaling.factor") + ": value " + factor + " must be positive");
        } else if (scalingType != null && !scalingType.equals("none") && !scalingType.equals("linear")) {
            throw file.error(k("rope.scaling.type") + ": '" + scalingType + "' is not supported (linear or none)");
        }
        float[] ropeBase = new float[layers], ropeScale = new float[layers];
        for (int l = 0; l < layers; l++) {
            ropeBase[l] = sliding[l] ? baseSwa : base;
            ropeScale[l] = sliding[l] ? 1f : 1f / factor;
        }
        float attnScale = (float) (1.0 / Math.sqrt(headDim));
        if (file.has(k("attention.scale"))) attnScale = (float) file.getDouble(k("attention.scale"), attnScale);
        float softcap = (float) file.getDouble(k("final_logit_softcapping"), 0);
        GgufTensorInfo embd = file.tensor("token_embd.weight");
        if (embd == null) throw file.error("missing tensor token_embd.weight");
        if (embd.dims().length != 2 || embd.dims()[0] != dim) {
            throw file.error("tensor token_embd.weight: shape " + java.util.Arrays.toString(embd.dims()) + " does not match embedding_length " + dim);
        }
        int vocab = Math.toIntExact(embd.dims()[1]);
        String name = file.getString("general.name");
        return new ModelConfig(arch, name == null ? "" : name, layers, dim, ffn, heads, kvHeads, headDim, valueDim, eps, ctx,
                window, sliding, ropeBase, ropeScale, attnScale, softcap, vocab, 1f, List.copyOf(warnings));
    }

    private float warnDefault(String suffix, float def) {
        warnings.add("key " + k(suffix) + " missing; using " + def);
        return def;
    }

    private int[] ffnDims(int layers) {
        Object v = file.get(k("feed_forward_length"));
        if (v == null) throw file.error("missing required key " + k("feed_forward_length"));
        int[] out = new int[layers];
        if (v instanceof int[] || v instanceof long[]) {
            int[] a = file.getIntArray(k("feed_forward_length"));
            if (a.length != layers) throw file.error(k("feed_forward_length") + ": " + a.length + " entries for " + layers + " layers");
            System.arraycopy(a, 0, out, 0, layers);
        } else {
            java.util.Arrays.fill(out, file.getInt(k("feed_forward_length"), 0));
        }
        for (int f : out) if (f <= 0) throw file.error(k("feed_forward_length") + ": value " + f + " must be positive");
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
        if (period < 0) throw file.error(k("attention.sliding_window_pattern") + ": value " + period);
        // as llama.cpp: period 0 means every layer slides; otherwise the last layer of each period is global
        for (int l = 0; l < layers; l++) sliding[l] = period == 0 || l % period < period - 1;
        return sliding;
    }
}
