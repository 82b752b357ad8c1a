package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The Gemma 3n hyper-parameters that {@link ModelConfig} does not cover: AltUp, LAuReL, per-layer embeddings (PLE),
 * activation sparsity and KV-cache sharing. Read from the {@code gemma3n.*} keys the converter writes; where a key
 * is missing the constant llama.cpp hard-codes is used (with a warning) and every value is checked against the
 * tensor shapes that depend on it.
 *
 * <p>Per-layer arrays are indexed by the model's layers, which after MatFormer slicing are a subset of the file's
 * blocks: {@code fileLayer[l]} is the {@code blk.N} a model layer reads its weights from.
 *
 * @param altupInputs    number of AltUp streams (A, 4 in released models)
 * @param altupActive    the stream the transformer block computes on (0)
 * @param pleDim         per-layer-input width P ({@code embedding_length_per_layer_input}, 256)
 * @param laurelRank     LAuReL low rank (64; from the {@code laurel_l} shape, there is no key)
 * @param sharedKvLayers how many trailing layers reuse an earlier layer's K/V
 * @param sparsityScale  per layer Φ⁻¹(target sparsity) for the Gaussian top-k on the gate; a non-finite value
 *                       (the converter writes Φ⁻¹(0) = -inf) means the layer is dense
 * @param kvSource       per layer the layer whose K/V it attends over (itself unless shared)
 * @param fileLayer      per layer its block index in the GGUF file
 * @param fileLayers     number of blocks in the file (PLE rows hold one P-slice per file block)
 * @param matformer      description of the MatFormer slice applied at load time, or null
 * @param warnings       one line per fallback used
 */
public record Gemma3nConfig(
        int altupInputs,
        int altupActive,
        int pleDim,
        int laurelRank,
        int sharedKvLayers,
        float[] sparsityScale,
        int[] kvSource,
        int[] fileLayer,
        int fileLayers,
        String matformer,
        List<String> warnings) {

    /** llama.cpp's hard-coded values (llama-hparams.h / llama-model.cpp), used when a key is missing. */
    static final int DEFAULT_ALTUP_INPUTS = 4, DEFAULT_ALTUP_ACTIVE = 0, DEFAULT_PLE_DIM = 256, DEFAULT_KV_FROM_START = 20,
            DEFAULT_SPARSE_LAYERS = 10;
    /** Φ⁻¹(0.95), llama.cpp's {@code f_sparsity_std_mul}. */
    static final float DEFAULT_SPARSITY_SCALE = 1.6448533535003662f;
    /** Gemma 3n's final logit soft-cap when the file does not say. */
    static final float DEFAULT_SOFTCAP = 30f;
    /** AltUp streams accepted: 4 in every released model; the coefficient tensors grow with the cube. */
    static final int MAX_ALTUP = 16;

    public boolean sparse(int layer) {
        return Float.isFinite(sparsityScale[layer]);
    }

    public boolean sharesKv(int layer) {
        return kvSource[layer] != layer;
    }

    /**
     * Reads the Gemma 3n parameters of {@code file}, whose common parameters are {@code base}, and applies a MatFormer
     * slice when {@code slice} is not null. Returns the (possibly sliced) common config beside the 3n one.
     */
    public static Loaded read(GgufFile file, ModelConfig base, MatFormer slice) {
        List<String> warn = new ArrayList<>();
        final int fileLayers = base.layers(), dim = base.dim();
        int a = intKey(file, "gemma3n.altup.num_inputs", DEFAULT_ALTUP_INPUTS, warn);
        if (a < 2 || a > MAX_ALTUP) throw file.error("gemma3n.altup.num_inputs: value " + a + " is out of range (2.." + MAX_ALTUP + ")");
        int active = intKey(file, "gemma3n.altup.active_idx", DEFAULT_ALTUP_ACTIVE, warn);
        if (active < 0 || active >= a) throw file.error("gemma3n.altup.active_idx: value " + active + " is not a stream index (0.." + (a - 1) + ")");
        int p = intKey(file, "gemma3n.embedding_length_per_layer_input", DEFAULT_PLE_DIM, warn);
        if (p <= 0 || p > ConfigReader.MAX_WIDTH) {
            throw file.error("gemma3n.embedding_length_per_layer_input: value " + p + " is out of range (1.." + ConfigReader.MAX_WIDTH + ")");
        }
        // cross-checks against the tensors whose shapes these values determine
        String altupKey = "gemma3n.altup.num_inputs: value " + a, pleKey = "gemma3n.embedding_length_per_layer_input: value " + p;
        expectDims(file, altupKey, "blk.0.altup_correct_coef.weight", a, a);
        expectDims(file, altupKey, "blk.0.altup_predict_coef.weight", a, a * a);
        expectDims(file, altupKey, "altup_proj.weight", dim, dim, a - 1);
        expectDims(file, altupKey, "altup_unembd_proj.weight", dim, dim, a - 1);
        expectDims(file, pleKey, "per_layer_proj_norm.weight", p);
        expectDims(file, pleKey, "per_layer_model_proj.weight", dim, (long) p * fileLayers);
        GgufTensorInfo pleTable = tensor(file, "per_layer_token_embd.weight");
        if (pleTable.dims().length != 2 || pleTable.dims()[0] != (long) p * fileLayers) {
            throw file.error(pleKey + " does not match tensor per_layer_token_embd.weight of shape " + Arrays.toString(pleTable.dims()) + " (expected ["
                    + (long) p * fileLayers + ", n_vocab] = " + fileLayers + " layers x " + p + ")");
        }
        if (p % pleTable.type().blockSize != 0) {
            throw file.error("gemma3n.embedding_length_per_layer_input: value " + p + " is not a multiple of the block size "
                    + pleTable.type().blockSize + " of per_layer_token_embd.weight (" + pleTable.type() + ")");
        }
        GgufTensorInfo laurel = tensor(file, "blk.0.laurel_l.weight");
        if (laurel.dims().length != 2 || laurel.dims()[0] != dim || laurel.dims()[1] > ConfigReader.MAX_WIDTH) {
            throw file.error("tensor blk.0.laurel_l.weight: shape " + Arrays.toString(laurel.dims()) + ", expected [" + dim + ", rank]");
        }
        int rank = Math.toIntExact(laurel.dims()[1]);

        int shared;
        if (file.has("gemma3n.attention.shared_kv_layers")) {
            shared = file.getInt("gemma3n.attention.shared_kv_layers", 0);
        } else {
            shared = Math.max(0, fileLayers - DEFAULT_KV_FROM_START);
            warn.add("key gemma3n.attention.shared_kv_layers missing; using " + shared + " (layers from " + DEFAULT_KV_FROM_START + " on share)");
        }
        if (shared < 0 || shared >= fileLayers) {
            throw file.error("gemma3n.attention.shared_kv_layers: value " + shared + " must be in 0.." + (fileLayers - 1));
        }
        float[] sparsity;
        if (file.has("gemma3n.activation_sparsity_scale")) {
            sparsity = file.getFloatArray("gemma3n.activation_sparsity_scale").clone();
            if (sparsity.length != fileLayers) {
                throw file.error("gemma3n.activation_sparsity_scale: " + sparsity.length + " entries for " + fileLayers + " layers");
            }
            for (int l = 0; l < fileLayers; l++) {
                if (Float.isNaN(sparsity[l]) || sparsity[l] == Float.POSITIVE_INFINITY) {
                    throw file.error("gemma3n.activation_sparsity_scale[" + l + "]: value " + sparsity[l]);
                }
            }
        } else {
            sparsity = new float[fileLayers];
            Arrays.fill(sparsity, Float.NEGATIVE_INFINITY);
            Arrays.fill(sparsity, 0, Math.min(DEFAULT_SPARSE_LAYERS, fileLayers), DEFAULT_SPARSITY_SCALE);
            warn.add("key gemma3n.activation_sparsity_scale missing; layers 0.." + (Math.min(DEFAULT_SPARSE_LAYERS, fileLayers) - 1)
                    + " use the 95% Gaussian cutoff");
        }
        float softcap = base.finalSoftcap();
        if (!file.has("gemma3n.final_logit_softcapping")) {
            softcap = DEFAULT_SOFTCAP;
            warn.add("key gemma3n.final_logit_softcapping missing; using " + DEFAULT_SOFTCAP);
        }

        // which file blocks the model runs, and how wide each FFN is
        int[] keep = new int[fileLayers];
        int[] ffn = base.ffnDim().clone();
        for (int l = 0; l < fileLayers; l++) keep[l] = l;
        String label = null;
        if (slice != null) {
            MatFormer.Resolved r = slice.resolve(file, base.ffnDim());
            keep = r.keptLayers();
            ffn = r.ffnDims();
            label = r.description();
            warn.add("MatFormer slice " + label);
        }
        final int n = keep.length;
        int firstShared = fileLayers - shared;
        int sharedKept = 0;
        for (int fl : keep) if (fl >= firstShared) sharedKept++;
        boolean[] sliding = pick(base.sliding(), keep);
        int[] source = kvSourceMap(sliding, sharedKept);
        float[] sparsityKept = new float[n];
        for (int l = 0; l < n; l++) sparsityKept[l] = sparsity[keep[l]];

        ModelConfig c = new ModelConfig(base.architecture(), base.name(), n, dim, ffn, base.heads(), base.kvHeads(), base.headDim(),
                base.valueDim(), base.rmsEps(), base.contextLength(), base.slidingWindow(), sliding,
                pick(base.ropeBase(), keep), pick(base.ropeScale(), keep), base.attentionScale(), softcap, base.vocabSize(),
                base.embedScale(), concat(base.warnings(), warn));
        Gemma3nConfig g = new Gemma3nConfig(a, active, p, rank, sharedKept, sparsityKept, source, keep, fileLayers, label, List.copyOf(warn));
        return new Loaded(c, g);
    }

    /** A common config and its Gemma 3n extension, describing the same (possibly sliced) layer stack. */
    public record Loaded(ModelConfig config, Gemma3nConfig gemma3n) {
    }

    /**
     * KV-sharing map: the last {@code shared} layers compute no K/V of their own and attend over the cache of the
     * last non-shared layer of the same attention type (sliding or full) — HF's "store_full_length_kv" producer,
     * llama.cpp's {@code n_layer_kv_from_start} reuse rule.
     */
    public static int[] kvSourceMap(boolean[] sliding, int shared) {
        int n = sliding.length, first = n - shared;
        if (shared < 0 || shared > n) throw new IllegalArgumentException("shared_kv_layers " + shared + " for " + n + " layers");
        int[] src = new int[n];
        for (int l = 0; l < n; l++) {
            if (l < first) {
                src[l] = l;
                continue;
            }
            src[l] = -1;
            for (int i = first - 1; i >= 0; i--) {
                if (sliding[i] == sliding[l]) {
                    src[l] = i;
                    break;
                }
            }
            if (src[l] < 0) {
                throw new dev.jemma.core.JemmaException("gemma3n: shared layer " + l + " (" + (sliding[l] ? "sliding" : "full")
                        + " attention) has no earlier non-shared layer of its type to take K/V from");
            }
        }
        return src;
    }

    private static int intKey(GgufFile file, String key, int def, List<String> warn) {
        if (file.has(key)) return file.getInt(key, def);
        warn.add("key " + key + " missing; using " + def);
        return def;
    }

    private static GgufTensorInfo tensor(GgufFile file, String name) {
        GgufTensorInfo t = file.tensor(name);
        if (t == null) throw file.error("missing tensor " + name);
        return t;
    }

    /** Tensor {@code name} has shape {@code dims}, which {@code key} ("key: value v") determines; else an error naming both. */
    private static void expectDims(GgufFile file, String key, String name, long... dims) {
        GgufTensorInfo t = tensor(file, name);
        long[] d = t.dims();
        // trailing 1s are insignificant in ggml shapes
        int len = d.length;
        while (len > dims.length && d[len - 1] == 1) len--;
        if (len != dims.length || !Arrays.equals(Arrays.copyOf(d, len), dims)) {
            throw file.error(key + " does not match tensor " + name + " of shape " + Arrays.toString(d) + " (expected " + Arrays.toString(dims) + ")");
        }
    }

    private static boolean[] pick(boolean[] a, int[] idx) {
        boolean[] r = new boolean[idx.length];
        for (int i = 0; i < idx.length; i++) r[i] = a[idx[i]];
        return r;
    }

    private static float[] pick(float[] a, int[] idx) {
        float[] r = new float[idx.length];
        for (int i = 0; i < idx.length; i++) r[i] = a[idx[i]];
        return r;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> r = new ArrayList<>(a);
        r.addAll(b);
        return List.copyOf(r);
    }
}
