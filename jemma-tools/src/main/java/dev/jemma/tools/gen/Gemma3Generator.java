package dev.jemma.tools.gen;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufValueType;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.tensor.GgmlType;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Generates real-shaped Gemma 3 GGUF files with random weights, for benchmarks and load tests without downloading
 * anything: the metadata keys, values and order, tensor names, shapes and per-tensor types are those llama.cpp's
 * converter and llama-quantize produce for the real model; the tokenizer keys (real 262 144-piece vocabulary, chat
 * template) are copied from a vocabulary GGUF. Linear weights are random quant blocks scaled to ≈ N(0, 0.02), norm
 * weights F32 near 1 (the converter's folded 1 + w), so a forward pass gives finite, unremarkable logits.
 */
public final class Gemma3Generator {
    /** Standard deviation of generated linear and embedding weights (typical of trained transformers). */
    public static final float WEIGHT_STD = 0.02f;

    /** What to generate. {@code embeddingType} null: llama-quantize's choice for {@code type}. */
    public record Spec(Gemma3Shape shape, String type, GgmlType embeddingType, long seed) {
        public Spec(Gemma3Size size, String type, GgmlType embeddingType, long seed) {
            this(size.shape(), type, embeddingType, seed);
        }
    }

    /** How a tensor's values are drawn. */
    public enum Init {
        /** ≈ N(0, 0.02) (linear weights, embeddings, small F32 coefficient tables) */
        RANDOM,
        /** 1 + N(0, 0.05): norm weights and scales as stored (Gemma 3 folds 1 + w in; Gemma 3n stores w ≈ 1) */
        NORM
    }

    /** One tensor to write. */
    public record TensorPlan(String name, long[] dims, GgmlType type, Init init) {
        public TensorPlan(String name, long[] dims, GgmlType type) {
            this(name, dims, type, name.endsWith("norm.weight") ? Init.NORM : Init.RANDOM);
        }

        public long bytes() {
            long n = 1;
            for (long d : dims) n *= d;
            return type.bytesFor(n);
        }
    }

    private Gemma3Generator() {
    }

    /** The tensors of a model of this spec, in file order, with the type each gets. */
    public static List<TensorPlan> plan(Spec spec, int vocab) {
        Gemma3Shape z = spec.shape();
        TypeRule rule = TypeRule.of(spec.type());
        List<TensorPlan> out = new ArrayList<>();
        long q = (long) z.heads() * z.headDim(), kv = (long) z.kvHeads() * z.headDim();
        out.add(new TensorPlan("output_norm.weight", new long[]{z.dim()}, GgmlType.F32));
        GgmlType embType = spec.embeddingType() != null ? spec.embeddingType() : rule.embedding(z.dim());
        if (!RandomBlocks.isWritable(embType)) throw new JemmaException("--embedding-type " + embType + ": cannot generate this type");
        if (z.dim() % embType.blockSize != 0) {
            throw new JemmaException("--embedding-type " + embType + ": row length " + z.dim() + " is not a multiple of its block size " + embType.blockSize);
        }
        out.add(new TensorPlan("token_embd.weight", new long[]{z.dim(), vocab}, embType));
        for (int l = 0; l < z.layers(); l++) {
            String p = "blk." + l + ".";
            out.add(new TensorPlan(p + "attn_k.weight", new long[]{z.dim(), kv}, rule.linear("attn_k", l, z.layers(), z.dim())));
            out.add(new TensorPlan(p + "attn_k_norm.weight", new long[]{z.headDim()}, GgmlType.F32));
            out.add(new TensorPlan(p + "attn_norm.weight", new long[]{z.dim()}, GgmlType.F32));
            out.add(new TensorPlan(p + "attn_output.weight", new long[]{q, z.dim()}, rule.linear("attn_output", l, z.layers(), q)));
            out.add(new TensorPlan(p + "attn_q.weight", new long[]{z.dim(), q}, rule.linear("attn_q", l, z.layers(), z.dim())));
            out.add(new TensorPlan(p + "attn_q_norm.weight", new long[]{z.headDim()}, GgmlType.F32));
            out.add(new TensorPlan(p + "attn_v.weight", new long[]{z.dim(), kv}, rule.linear("attn_v", l, z.layers(), z.dim())));
            out.add(new TensorPlan(p + "ffn_down.weight", new long[]{z.ffn(), z.dim()}, rule.linear("ffn_down", l, z.layers(), z.ffn())));
            out.add(new TensorPlan(p + "ffn_gate.weight", new long[]{z.dim(), z.ffn()}, rule.linear("ffn_gate", l, z.layers(), z.dim())));
            out.add(new TensorPlan(p + "ffn_norm.weight", new long[]{z.dim()}, GgmlType.F32));
            out.add(new TensorPlan(p + "ffn_up.weight", new long[]{z.dim(), z.ffn()}, rule.linear("ffn_up", l, z.layers(), z.dim())));
            out.add(new TensorPlan(p + "post_attention_norm.weight", new long[]{z.dim()}, GgmlType.F32));
            out.add(new TensorPlan(p + "post_ffw_norm.weight", new long[]{z.dim()}, GgmlType.F32));
        }
        return out;
    }

    /**
     * Writes the model to {@code out} (atomically: a temp file renamed into place). Tokenizer metadata comes from
     * {@code vocab} (any Gemma 3 GGUF, e.g. the vocabulary-only fixture).
     *
     * @return the tensors written
     */
    public static List<TensorPlan> generate(Spec spec, GgufFile vocab, Path out) {
        return write(spec, vocab, out, false);
    }

    /**
     * EmbeddingGemma's shape ({@code google/embeddinggemma-300m}): the Gemma 3 stack of 24 layers at width 768 with
     * bidirectional attention (window 512 read as ±256), then dense 768 → 3072 → 768.
     */
    public static final Gemma3Shape EMBEDDING_GEMMA_300M = new Gemma3Shape("embeddinggemma-300m", 24, 768, 3, 1, 256, 1152, 512, 0f, 2048);

    /**
     * Writes a real-shaped random EmbeddingGemma GGUF (architecture {@code gemma-embedding}, as llama.cpp's converter
     * writes it with {@code --sentence-transformers-dense-modules}: the dense_2/dense_3 tensors and their
     * {@code dense_*_feat_*} keys, mean pooling, {@code add_eos_token}).
     */
    public static List<TensorPlan> generateEmbedding(Spec spec, GgufFile vocab, Path out) {
        return write(spec, vocab, out, true);
    }

    private static List<TensorPlan> write(Spec spec, GgufFile vocab, Path out, boolean embedding) {
        String[] tokens = vocab.getStringArray("tokenizer.ggml.tokens");
        if (tokens == null) throw vocab.error("missing tokenizer.ggml.tokens (need a GGUF with a vocabulary)");
        List<TensorPlan> tensors = new ArrayList<>(plan(spec, tokens.length));
        Gemma3Shape z = spec.shape();
        if (embedding) {
            // sentence-transformers' 2_Dense and 3_Dense (no bias), in the file's precision for linear weights
            GgmlType dt = TypeRule.of(spec.type()).linear("dense", 0, 1, z.dim());
            tensors.add(0, new TensorPlan("dense_3.weight", new long[]{4L * z.dim(), z.dim()}, dt));
            tensors.add(0, new TensorPlan("dense_2.weight", new long[]{z.dim(), 4L * z.dim()}, dt));
        }
        long params = 0;
        for (TensorPlan t : tensors) params += t.bytes() / t.type().typeSize * t.type().blockSize;
        String a = embedding ? "gemma-embedding" : "gemma3";

        GgufWriter w = new GgufWriter();
        // key order as llama.cpp's convert_hf_to_gguf.py writes it (then llama-quantize appends the file type)
        w.putString("general.architecture", a);
        w.putString("general.type", "model");
        w.putString("general.name", (embedding ? "EmbeddingGemma " : "Gemma 3 ") + z.label().toUpperCase(Locale.ROOT)
                + " (random weights, seed " + spec.seed() + ")");
        w.putString("general.basename", embedding ? "embeddinggemma" : "gemma-3");
        w.putString("general.size_label", sizeLabel(params));
        w.putU32(a + ".block_count", z.layers());
        w.putU32(a + ".context_length", z.contextLength());
        w.putU32(a + ".embedding_length", z.dim());
        w.putU32(a + ".feed_forward_length", z.ffn());
        w.putU32(a + ".attention.head_count", z.heads());
        w.putU32(a + ".attention.head_count_kv", z.kvHeads());
        if (z.ropeScaling() > 0) {
            w.putString(a + ".rope.scaling.type", "linear");
            w.putF32(a + ".rope.scaling.factor", z.ropeScaling());
        }
        w.putF32(a + ".rope.freq_base", 1_000_000f);
        w.putF32(a + ".rope.freq_base_swa", 10_000f);
        w.putF32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
        w.putU32(a + ".attention.key_length", z.headDim());
        w.putU32(a + ".attention.value_length", z.headDim());
        w.putU32(a + ".attention.sliding_window", z.window());
        if (embedding) {
            w.putU32(a + ".dense_2_feat_in", z.dim());
            w.putU32(a + ".dense_2_feat_out", 4 * z.dim());
            w.putU32(a + ".dense_3_feat_in", 4 * z.dim());
            w.putU32(a + ".dense_3_feat_out", z.dim());
            w.putU32(a + ".pooling_type", 1);
        }
        for (Map.Entry<String, Object> e : vocab.metadata().entrySet()) {
            if (!e.getKey().startsWith("tokenizer.")) continue;
            if (embedding && (e.getKey().equals("tokenizer.chat_template") || e.getKey().equals("tokenizer.ggml.add_eos_token")
                    || e.getKey().equals("tokenizer.ggml.eos_token_id"))) continue;
            GgufValueType[] t = vocab.valueType(e.getKey());
            w.put(e.getKey(), t[0], t.length > 1 ? t[1] : null, e.getValue());
        }
        if (embedding) {
            // EmbeddingGemma ends every text with <eos> (an instruction-tuned vocabulary's eos is <end_of_turn>)
            int eos = java.util.Arrays.asList(tokens).indexOf("<eos>");
            if (eos < 0) throw vocab.error("the vocabulary has no <eos> token for an embedding model");
            w.putU32("tokenizer.ggml.eos_token_id", eos);
            w.putBool("tokenizer.ggml.add_eos_token", true);
        }
        w.putU32("general.quantization_version", 2);
        w.putU32("general.file_type", TypeRule.of(spec.type()).fileType);

        addTensors(w, tensors, spec.seed());
        w.write(out);
        return tensors;
    }

    static void addTensors(GgufWriter w, List<TensorPlan> tensors, long seed) {
        int i = 0;
        for (TensorPlan t : tensors) {
            long s = mix(seed * 1_000_003L + i++);
            w.addTensor(t.name(), t.dims(), t.type(), t.init() == Init.NORM ? normSource(t, s) : randomSource(t, s));
        }
    }

    // ---- Gemma 3n ----------------------------------------------------------------------------------------------

    /** What to generate for Gemma 3n; {@code embeddingType} null: as {@code type} would give token_embd. */
    public record Spec3n(Gemma3nSize size, String type, GgmlType embeddingType, long seed) {
    }

    /**
     * Gemma 3n tensors in the converter's order (GEMMA-ARCHITECTURE.md 2.3): AltUp projections, the token and
     * per-layer embedding tables (262 400 rows), per layer the Gemma 3 block plus AltUp, Laurel and PLE tensors, then
     * the per-layer model projection. Coefficient tables too narrow to quantize stay F32.
     */
    public static List<TensorPlan> plan3n(Spec3n spec) {
        Gemma3nSize z = spec.size();
        TypeRule rule = TypeRule.of(spec.type());
        long E = z.dim, P = z.perLayerDim, L = z.layers, A = z.altupInputs, F = z.ffn, R = z.laurelRank;
        long q = (long) z.heads * z.headDim, kv = (long) z.kvHeads * z.headDim;
        GgmlType embType = spec.embeddingType() != null ? spec.embeddingType() : rule.embedding(z.dim);
        List<TensorPlan> out = new ArrayList<>();
        out.add(new TensorPlan("altup_proj.weight", new long[]{E, E, A - 1}, rule.linear("altup_proj", 0, z.layers, E)));
        out.add(new TensorPlan("altup_unembd_proj.weight", new long[]{E, E, A - 1}, rule.linear("altup_unembd_proj", 0, z.layers, E)));
        out.add(new TensorPlan("token_embd.weight", new long[]{E, z.vocab}, embType));
        out.add(new TensorPlan("per_layer_token_embd.weight", new long[]{P * L, z.vocab}, rule.linear("per_layer_token_embd", 0, z.layers, P * L)));
        for (int l = 0; l < z.layers; l++) {
            String p = "blk." + l + ".";
            out.add(new TensorPlan(p + "altup_correct_scale.weight", new long[]{E}, GgmlType.F32, Init.NORM));
            out.add(new TensorPlan(p + "altup_correct_coef.weight", new long[]{A, A}, GgmlType.F32, Init.RANDOM));
            out.add(new TensorPlan(p + "altup_router.weight", new long[]{E, A}, rule.linear("altup_router", l, z.layers, E)));
            out.add(new TensorPlan(p + "altup_predict_coef.weight", new long[]{A, A * A}, GgmlType.F32, Init.RANDOM));
            out.add(new TensorPlan(p + "altup_router_norm.weight", new long[]{E}, GgmlType.F32));
            out.add(new TensorPlan(p + "attn_norm.weight", new long[]{E}, GgmlType.F32));
            out.add(new TensorPlan(p + "laurel_l.weight", new long[]{E, R}, rule.linear("laurel_l", l, z.layers, E)));
            out.add(new TensorPlan(p + "laurel_r.weight", new long[]{R, E}, rule.linear("laurel_r", l, z.layers, R)));
            out.add(new TensorPlan(p + "laurel_post_norm.weight", new long[]{E}, GgmlType.F32));
            out.add(new TensorPlan(p + "ffn_down.weight", new long[]{F, E}, rule.linear("ffn_down", l, z.layers, F)));
            out.add(new TensorPlan(p + "ffn_gate.weight", new long[]{E, F}, rule.linear("ffn_gate", l, z.layers, E)));
            out.add(new TensorPlan(p + "ffn_up.weight", new long[]{E, F}, rule.linear("ffn_up", l, z.layers, E)));
            out.add(new TensorPlan(p + "inp_gate.weight", new long[]{E, P}, rule.linear("inp_gate", l, z.layers, E)));
            out.add(new TensorPlan(p + "proj.weight", new long[]{P, E}, rule.linear("proj", l, z.layers, P)));
            out.add(new TensorPlan(p + "post_attention_norm.weight", new long[]{E}, GgmlType.F32));
            out.add(new TensorPlan(p + "post_ffw_norm.weight", new long[]{E}, GgmlType.F32));
            out.add(new TensorPlan(p + "post_norm.weight", new long[]{E}, GgmlType.F32));
            out.add(new TensorPlan(p + "ffn_norm.weight", new long[]{E}, GgmlType.F32));
            out.add(new TensorPlan(p + "attn_k_norm.weight", new long[]{z.headDim}, GgmlType.F32));
            out.add(new TensorPlan(p + "attn_k.weight", new long[]{E, kv}, rule.linear("attn_k", l, z.layers, E)));
            out.add(new TensorPlan(p + "attn_output.weight", new long[]{q, E}, rule.linear("attn_output", l, z.layers, q)));
            out.add(new TensorPlan(p + "attn_q_norm.weight", new long[]{z.headDim}, GgmlType.F32));
            out.add(new TensorPlan(p + "attn_q.weight", new long[]{E, q}, rule.linear("attn_q", l, z.layers, E)));
            out.add(new TensorPlan(p + "attn_v.weight", new long[]{E, kv}, rule.linear("attn_v", l, z.layers, E)));
        }
        out.add(new TensorPlan("output_norm.weight", new long[]{E}, GgmlType.F32));
        out.add(new TensorPlan("per_layer_model_proj.weight", new long[]{E, P * L}, rule.linear("per_layer_model_proj", 0, z.layers, E)));
        out.add(new TensorPlan("per_layer_proj_norm.weight", new long[]{P}, GgmlType.F32));
        return out;
    }

    /**
     * Writes a real-shaped Gemma 3n file. The vocabulary (262 144 pieces) is padded to the model's 262 400 rows with
     * "[PADn]" pieces (score −1000, type unused), as the converter does.
     */
    public static List<TensorPlan> generate3n(Spec3n spec, GgufFile vocab, Path out) {
        String[] tokens = vocab.getStringArray("tokenizer.ggml.tokens");
        if (tokens == null) throw vocab.error("missing tokenizer.ggml.tokens (need a GGUF with a vocabulary)");
        Gemma3nSize z = spec.size();
        if (tokens.length > z.vocab) throw vocab.error("vocabulary of " + tokens.length + " tokens exceeds Gemma 3n's " + z.vocab + " rows");
        List<TensorPlan> tensors = plan3n(spec);
        long params = 0;
        for (TensorPlan t : tensors) params += t.bytes() / t.type().typeSize * t.type().blockSize;

        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "gemma3n");
        w.putString("general.type", "model");
        w.putString("general.name", "Gemma 3n " + z.label.toUpperCase(Locale.ROOT) + " (random weights, seed " + spec.seed() + ")");
        w.putString("general.basename", "gemma-3n");
        w.putString("general.size_label", sizeLabel(params));
        w.putU32("gemma3n.block_count", z.layers);
        w.putU32("gemma3n.context_length", z.contextLength);
        w.putU32("gemma3n.embedding_length", z.dim);
        int[] ffn = new int[z.layers];
        java.util.Arrays.fill(ffn, z.ffn);
        w.putInts("gemma3n.feed_forward_length", ffn);
        w.putU32("gemma3n.attention.head_count", z.heads);
        w.putU32("gemma3n.attention.head_count_kv", z.kvHeads);
        w.putF32("gemma3n.rope.freq_base", 1_000_000f);
        w.putF32("gemma3n.rope.freq_base_swa", 10_000f);
        w.putF32("gemma3n.attention.layer_norm_rms_epsilon", 1e-6f);
        w.putU32("gemma3n.attention.key_length", z.headDim);
        w.putU32("gemma3n.attention.value_length", z.headDim);
        w.putF32("gemma3n.final_logit_softcapping", 30f);
        w.putU32("gemma3n.attention.sliding_window", z.window);
        w.putU32("gemma3n.altup.active_idx", 0);
        w.putU32("gemma3n.altup.num_inputs", z.altupInputs);
        w.putU32("gemma3n.embedding_length_per_layer_input", z.perLayerDim);
        w.putU32("gemma3n.attention.shared_kv_layers", z.sharedKvLayers);
        float[] sparsity = new float[z.layers];
        boolean[] sliding = new boolean[z.layers];
        for (int l = 0; l < z.layers; l++) {
            // Normal.icdf(0.95) on the first layers; icdf(0) = −inf (dense) on the rest, as the converter writes it
            sparsity[l] = l < z.sparseLayers ? 1.6448536f : Float.NEGATIVE_INFINITY;
            sliding[l] = (l + 1) % 5 != 0;
        }
        w.putFloats("gemma3n.activation_sparsity_scale", sparsity);
        w.putBools("gemma3n.attention.sliding_window_pattern", sliding);
        for (Map.Entry<String, Object> e : vocab.metadata().entrySet()) {
            if (!e.getKey().startsWith("tokenizer.")) continue;
            GgufValueType[] t = vocab.valueType(e.getKey());
            w.put(e.getKey(), t[0], t.length > 1 ? t[1] : null, e.getValue());
        }
        int pad = z.vocab - tokens.length;
        if (pad > 0) {
            String[] tk = java.util.Arrays.copyOf(tokens, z.vocab);
            float[] sc = java.util.Arrays.copyOf(orEmpty(vocab.getFloatArray("tokenizer.ggml.scores"), tokens.length), z.vocab);
            int[] ty = java.util.Arrays.copyOf(orEmptyInt(vocab.getIntArray("tokenizer.ggml.token_type"), tokens.length), z.vocab);
            for (int i = tokens.length; i < z.vocab; i++) {
                tk[i] = "[PAD" + i + "]";
                sc[i] = -1000f;
                ty[i] = 5; // unused
            }
            w.putStrings("tokenizer.ggml.tokens", tk);
            w.putFloats("tokenizer.ggml.scores", sc);
            w.putInts("tokenizer.ggml.token_type", ty);
        }
        w.putU32("general.quantization_version", 2);
        w.putU32("general.file_type", TypeRule.of(spec.type()).fileType);
        addTensors(w, tensors, spec.seed());
        w.write(out);
        return tensors;
    }

    private static float[] orEmpty(float[] a, int n) {
        return a != null ? a : new float[n];
    }

    private static int[] orEmptyInt(int[] a, int n) {
        if (a != null) return a;
        int[] t = new int[n];
        java.util.Arrays.fill(t, 1);
        return t;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return z ^ (z >>> 33);
    }

    /** Norm weights as the converter stores them (1 + w folded in): 1 + N(0, 0.05)², finite and positive. */
    private static GgufWriter.TensorSource normSource(TensorPlan t, long seed) {
        return out -> {
            java.util.Random r = new java.util.Random(seed);
            int n = Math.toIntExact(t.dims()[0]);
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * n).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < n; k++) b.putFloat((float) (1.0 + 0.05 * r.nextGaussian()));
            out.write(b.array());
        };
    }

    private static GgufWriter.TensorSource randomSource(TensorPlan t, long seed) {
        return out -> streamRandom(out, t, seed);
    }

    private static void streamRandom(OutputStream out, TensorPlan t, long seed) throws IOException {
        RandomBlocks rb = new RandomBlocks(t.type(), WEIGHT_STD, seed);
        long n = 1;
        for (long d : t.dims()) n *= d;
        long blocks = n / t.type().blockSize;
        int chunkBlocks = Math.max(1, (1 << 20) / t.type().typeSize);
        byte[] buf = new byte[chunkBlocks * t.type().typeSize];
        for (long done = 0; done < blocks; ) {
            int k = (int) Math.min(chunkBlocks, blocks - done);
            rb.fill(buf, 0, k);
            out.write(buf, 0, k * t.type().typeSize);
            done += k;
        }
    }

    /** gguf-py's size label: parameter count rounded to two significant digits at least ("1000M", "3.9B", "268M"). */
    static String sizeLabel(long params) {
        double scale;
        String suffix;
        if (params > 1e12) { scale = 1e12; suffix = "T"; }
        else if (params > 1e9) { scale = 1e9; suffix = "B"; }
        else if (params > 1e6) { scale = 1e6; suffix = "M"; }
        else { scale = 1e3; suffix = "K"; }
        double v = params / scale;
        String digits = String.valueOf(Math.round(v)).replaceFirst("^0+", "");
        int precision = Math.max(2 - digits.length(), 0);
        return String.format(Locale.ROOT, "%." + precision + "f%s", v, suffix);
    }

    /**
     * Per-tensor types for a {@code --type} name, following llama-quantize: the tied output/embedding gets Q6_K (Q8_0
     * where rows are not a multiple of 256, or for Q8_0 files); K-quant presets (_M) give attn_v and ffn_down Q6_K
     * on the "more bits" layers; a K-type on a row length that is not a multiple of 256 falls back as llama.cpp does.
     */
    static final class TypeRule {
        final GgmlType base;
        final boolean mediumMix;
        final int fileType;

        private TypeRule(GgmlType base, boolean mediumMix, int fileType) {
            this.base = base;
            this.mediumMix = mediumMix;
            this.fileType = fileType;
        }

        static final Map<String, TypeRule> RULES = new LinkedHashMap<>();

        static {
            RULES.put("F32", new TypeRule(GgmlType.F32, false, 0));
            RULES.put("F16", new TypeRule(GgmlType.F16, false, 1));
            RULES.put("BF16", new TypeRule(GgmlType.BF16, false, 32));
            RULES.put("Q8_0", new TypeRule(GgmlType.Q8_0, false, 7));
            RULES.put("Q4_0", new TypeRule(GgmlType.Q4_0, false, 2));
            RULES.put("Q4_1", new TypeRule(GgmlType.Q4_1, false, 3));
            RULES.put("Q5_0", new TypeRule(GgmlType.Q5_0, false, 8));
            RULES.put("Q5_1", new TypeRule(GgmlType.Q5_1, false, 9));
            RULES.put("Q2_K", new TypeRule(GgmlType.Q2_K, false, 10));
            RULES.put("Q3_K", new TypeRule(GgmlType.Q3_K, false, 11));
            RULES.put("Q4_K", new TypeRule(GgmlType.Q4_K, false, 14));
            RULES.put("Q5_K", new TypeRule(GgmlType.Q5_K, false, 16));
            RULES.put("Q6_K", new TypeRule(GgmlType.Q6_K, false, 18));
            RULES.put("Q4_K_M", new TypeRule(GgmlType.Q4_K, true, 15));
            RULES.put("Q5_K_M", new TypeRule(GgmlType.Q5_K, true, 17));
        }

        static TypeRule of(String name) {
            TypeRule r = RULES.get(name.toUpperCase(Locale.ROOT));
            if (r == null) throw new JemmaException("--type " + name + ": not a known type (known: " + String.join(" ", RULES.keySet()) + ")");
            return r;
        }

        GgmlType embedding(int rowLength) {
            if (!base.isQuantized()) return base;
            if (base == GgmlType.Q8_0) return GgmlType.Q8_0;
            return fallback(GgmlType.Q6_K, rowLength);
        }

        GgmlType linear(String kind, int layer, int layers, long rowLength) {
            GgmlType t = base;
            if (mediumMix && (kind.equals("attn_v") || kind.equals("ffn_down")) && moreBits(layer, layers)) t = GgmlType.Q6_K;
            return fallback(t, rowLength);
        }

        /** llama-quantize's use_more_bits: first and last eighth of the layers, and every third in between. */
        static boolean moreBits(int i, int n) {
            return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
        }

        /**
         * K-quants need rows in multiples of 256; llama-quantize then picks Q5_0 (for Q4_K), Q5_1 (Q5_K), Q8_0 (Q6_K)
         * and IQ4_NL (Q2_K, Q3_K — Jemma writes Q4_0 there instead, IQ4_NL not being supported).
         */
        static GgmlType fallback(GgmlType t, long rowLength) {
            if (rowLength % t.blockSize == 0) return t;
            return switch (t) {
                case Q4_K -> GgmlType.Q5_0;
                case Q5_K -> GgmlType.Q5_1;
                case Q6_K -> GgmlType.Q8_0;
                case Q2_K, Q3_K -> GgmlType.Q4_0;
                default -> throw new IllegalStateException(t + " on rows of " + rowLength);
            };
        }
    }
}
