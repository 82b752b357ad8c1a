package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.repack.RepackCache;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.attention.Attention;
import dev.jemma.core.tensor.attention.KvView;
import dev.jemma.core.tensor.attention.Visibility;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Gemma 3 text decoder (arch {@code gemma3}, 270M … 27B), following HF modeling_gemma3.py:
 * <pre>
 *   x = embed[tok] · √dim
 *   per layer: h = x + post_attn_norm(Attn(attn_norm(x)));  x = h + post_ffw_norm(down(gelu(gate(n)) ⊙ up(n))), n = ffn_norm(h)
 *   logits = output_norm(x) · embedᵀ
 * </pre>
 * Attention: per-head q/k RMSNorm before NeoX rope, GQA, 5 sliding : 1 global layers with their own rope bases.
 * Norm weights are used as stored (the GGUF converter folded Gemma's 1 + w in).
 */
public final class Gemma3Model implements LanguageModel {
    /** One transformer block's weights. */
    record Layer(float[] attnNorm, WeightMatrix wq, WeightMatrix wk, WeightMatrix wv, WeightMatrix wo,
                 float[] qNorm, float[] kNorm, float[] postAttnNorm, float[] ffnNorm,
                 WeightMatrix gate, WeightMatrix up, WeightMatrix down, float[] postFfwNorm) {
        /** The matrices that read the attention input (outputs q, k, v). */
        WeightMatrix[] qkv() {
            return new WeightMatrix[]{wq, wk, wv};
        }

        WeightMatrix[] gateUp() {
            return new WeightMatrix[]{gate, up};
        }

        List<WeightMatrix> matrices() {
            return List.of(wq, wk, wv, wo, gate, up, down);
        }

        Layer attach(RepackCache r) {
            return new Layer(attnNorm, r.attach(wq), r.attach(wk), r.attach(wv), r.attach(wo), qNorm, kNorm, postAttnNorm,
                    ffnNorm, r.attach(gate), r.attach(up), r.attach(down), postFfwNorm);
        }
    }

    private final GgufFile file;
    private final ModelConfig c;
    private final Layer[] layers;
    /** Per layer, the matrices sharing an input (one matmul call each, so the input is quantized once). */
    private final WeightMatrix[][] qkv, gateUp;
    private final DecoderBlocks.QkNormRope[] qkNormRope;
    /** Per layer, which of the model's distinct ropes (base and scale) it uses: a forward computes each one's angles once. */
    private final int[] ropeKind;
    /** Per rope kind, a layer that uses it (whose {@link DecoderBlocks.QkNormRope#angles} fill that kind's table). */
    private final int[] ropeLayer;
    /** Per layer: causal, or sliding on local layers. */
    private final Visibility[] visibility;
    private final WeightMatrix embed;
    /** Where embedding rows are read: the interleaved copy when the embedding is the (tied) output, else the file. */
    private final WeightMatrix embedLookup;
    private final WeightMatrix output;
    private final RepackCache repacked;
    private final float[] outputNorm;
    private final MatMul matmul;
    private final ThreadPool pool;
    private final int maxBatch, maxFfn;
    private final boolean ownsFile;
    /** The first layer of each kind ({@link #warmUpLayers}), in order: what {@link #warmUpForward} runs. */
    private final int[] warmUpLayers;
    /** Scratch of finished forwards, for the next ones (a forward takes one, or makes one when none is free). */
    private final ConcurrentLinkedQueue<Scratch> scratch = new ConcurrentLinkedQueue<>();

    /** One forward's buffers, sized for maxBatch rows. */
    private final class Scratch {
        final float[] x, xn, q, k, v, att, proj;
        /** Per rope kind, the rope angles of the chunk's rows: [maxBatch × headDim/2] each. */
        final float[][] cos, sin;
        /** Outputs of the shared-input matmuls: {q, k, v} and {gate, up}. */
        final float[][] qkvOut, gateUpOut;
        final Attention.Scratch[] attn = Attention.scratch(pool.threads());
        /** The chunk's sequences, for attention in one loop (reused). */
        final Attention.Runs runs = new Attention.Runs();
        /** A forward in parts: the final hidden states of its rows that want logits (grown to the most seen; tiny). */
        final float[][] partHidden = new float[1][];

        Scratch() {
            int b = maxBatch;
            x = new float[b * c.dim()];
            xn = new float[b * c.dim()];
            q = new float[b * c.qDim()];
            k = new float[b * c.kvDim()];
            v = new float[b * c.kvDim()];
            att = new float[b * c.qDim()];
            proj = new float[b * c.dim()];
            qkvOut = new float[][]{q, k, v};
            gateUpOut = new float[][]{new float[b * maxFfn], new float[b * maxFfn]};
            cos = new float[ropeLayer.length][b * (c.headDim() / 2)];
            sin = new float[ropeLayer.length][b * (c.headDim() / 2)];
        }

        long bytes() {
            return new ScratchBytes().add(x, xn, q, k, v, att, proj, cos, sin, qkvOut, gateUpOut, attn).bytes() + runs.bytes()
                    + (partHidden[0] == null ? 0 : 4L * partHidden[0].length);
        }
    }

    /**
     * @param int8 give Q4_0/Q8_0/F16 matrices an {@link RepackCache interleaved copy}, which the default-mode matmul
     *             runs single tokens of with int8 activations (Q4_0/Q8_0, llama.cpp's numerics) and everything else
     *             with f32 activations; false keeps every matmul on the f32-activation row kernels
     */
    public Gemma3Model(GgufFile file, ModelConfig config, MatMul matmul, ThreadPool pool, int maxBatch, boolean ownsFile, boolean int8) {
        this(file, config, matmul, pool, maxBatch, ownsFile, int8, null, true);
    }

    /**
     * @param visibility per layer, which keys a query sees (null: the decoder's causal / sliding masks); an encoder
     *                   (EmbeddingGemma) gives bidirectional ones and runs {@link Batch#encoder} batches through
     *                   {@link #hidden}
     * @param logits     false: only {@link #hidden} is used, so the output matrix gets no interleaved copy
     */
    Gemma3Model(GgufFile file, ModelConfig config, MatMul matmul, ThreadPool pool, int maxBatch, boolean ownsFile, boolean int8,
                Visibility[] visibility, boolean logits) {
        this.file = file;
        this.c = config;
        this.matmul = matmul;
        this.pool = pool;
        this.maxBatch = maxBatch;
        this.ownsFile = ownsFile;
        WeightLoader w = new WeightLoader(file);
        embed = w.matrix("token_embd.weight", c.dim(), c.vocabSize());
        WeightMatrix out = w.has("output.weight") ? w.matrix("output.weight", c.dim(), c.vocabSize()) : embed;
        outputNorm = w.vector("output_norm.weight", c.dim());
        layers = new Layer[c.layers()];
        qkNormRope = new DecoderBlocks.QkNormRope[c.layers()];
        this.visibility = new Visibility[c.layers()];
        int ffnMax = 0;
        for (int l = 0; l < c.layers(); l++) {
            ffnMax = Math.max(ffnMax, c.ffnDim()[l]);
            layers[l] = readLayer(w, c, l);
            qkNormRope[l] = new DecoderBlocks.QkNormRope(layers[l].qNorm(), layers[l].kNorm(), false,
                    Ops.ropeInvFreq(c.headDim(), c.ropeBase()[l], c.ropeScale()[l]), c.attentionScale(),
                    c.heads(), c.kvHeads(), c.headDim(), c.rmsEps());
        }
        ropeKind = ropeKinds(c);
        ropeLayer = new int[Arrays.stream(ropeKind).max().orElse(-1) + 1];
        for (int l = c.layers() - 1; l >= 0; l--) ropeLayer[ropeKind[l]] = l;
        for (int l = 0; l < c.layers(); l++) {
            this.visibility[l] = visibility != null ? visibility[l] : Visibility.causal(c.sliding()[l] ? c.slidingWindow() : 0);
        }
        maxFfn = ffnMax;
        if (int8) {
            List<WeightMatrix> all = new ArrayList<>();
            if (logits) all.add(out);
            for (Layer L : layers) all.addAll(L.matrices());
            repacked = RepackCache.open(file, all, pool);
            // after the weight copy's fingerprint has read them: no page of the file is needed any more when the copy
            // covers every matrix (norms are in arrays), else at least the header's
            if (repacked.covers(all)) {
                file.adviseRandomAccess();
                file.releaseResidentPages();
            } else {
                file.releaseHeaderPages();
            }
            for (int l = 0; l < layers.length; l++) layers[l] = layers[l].attach(repacked);
            output = logits ? repacked.attach(out) : out;
        } else {
            repacked = null;
            output = out;
        }
        // a tied embedding reads its rows from the output's copy (same values, already resident)
        embedLookup = out == embed ? output : embed;
        qkv = new WeightMatrix[layers.length][];
        gateUp = new WeightMatrix[layers.length][];
        for (int l = 0; l < layers.length; l++) {
            qkv[l] = layers[l].qkv();
            gateUp[l] = layers[l].gateUp();
        }
        warmUpLayers = warmUpLayers(layers, this.visibility, ropeKind, c.ffnDim());
        scratch.add(new Scratch());
    }

    /**
     * The first layer of each kind ({@link WarmUpLayers}): the same attention visibility, rope and FFN width, and every
     * matrix of the same type, size and weight copy (a Q4_K_M file gives some layers Q6_K matrices: a kind of their own).
     */
    static int[] warmUpLayers(Layer[] layers, Visibility[] visibility, int[] ropeKind, int[] ffnDim) {
        return WarmUpLayers.firstOfEachKind(layers.length, l -> {
            // Visibility has no equals: its description names its kind and window
            List<Object> kind = new ArrayList<>(List.of(visibility[l].toString(), ropeKind[l], ffnDim[l]));
            kind.addAll(WarmUpLayers.matrices(layers[l].matrices().toArray(WeightMatrix[]::new)));
            return kind;
        });
    }

    /** The layers {@link #warmUpForward} runs. */
    int[] warmUpLayers() {
        return warmUpLayers.clone();
    }

    /** Each layer's matrices, in {@link Layer#matrices()}'s order (what the weight copy holds per layer). */
    static final List<String> LAYER_MATRICES = List.of("attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
            "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight");

    /** Layer {@code l}'s weights (all null when {@code w} only checks shapes). */
    private static Layer readLayer(WeightLoader w, ModelConfig c, int l) {
        String p = "blk." + l + ".";
        int ffn = c.ffnDim()[l];
        return new Layer(
                w.vector(p + "attn_norm.weight", c.dim()),
                w.matrix(p + "attn_q.weight", c.dim(), c.qDim()),
                w.matrix(p + "attn_k.weight", c.dim(), c.kvDim()),
                w.matrix(p + "attn_v.weight", c.dim(), c.kvDim()),
                w.matrix(p + "attn_output.weight", c.qDim(), c.dim()),
                w.vector(p + "attn_q_norm.weight", c.headDim()),
                w.vector(p + "attn_k_norm.weight", c.headDim()),
                w.vector(p + "post_attention_norm.weight", c.dim()),
                w.vector(p + "ffn_norm.weight", c.dim()),
                w.matrix(p + "ffn_gate.weight", c.dim(), ffn),
                w.matrix(p + "ffn_up.weight", c.dim(), ffn),
                w.matrix(p + "ffn_down.weight", ffn, c.dim()),
                w.vector(p + "post_ffw_norm.weight", c.dim()));
    }

    /**
     * Checks, before anything is allocated, that every tensor the model reads exists with the shape {@code c} implies,
     * so that a hyper-parameter that disagrees with the weights is refused with a line naming both.
     */
    static void checkWeights(GgufFile file, ModelConfig c) {
        WeightLoader w = WeightLoader.checking(file);
        w.matrix("token_embd.weight", c.dim(), c.vocabSize());
        if (w.has("output.weight")) w.matrix("output.weight", c.dim(), c.vocabSize());
        w.vector("output_norm.weight", c.dim());
        for (int l = 0; l < c.layers(); l++) readLayer(w, c, l);
    }

    /** Bytes of scratch this model allocates for a batch of {@code maxBatch} tokens (for the memory plan). */
    public static long scratchBytes(ModelConfig c, int maxBatch) {
        int maxFfn = Arrays.stream(c.ffnDim()).max().orElse(0);
        long perToken = 4L * (3L * c.dim() + 2L * c.qDim() + 2L * c.kvDim() + 2L * maxFfn + c.vocabSize() + ropeFloats(c));
        return perToken * maxBatch + Attention.Runs.bytes(maxBatch, c.kvDim());
    }

    /** Bytes of scratch an encoder ({@link #hidden}) over batches of {@code maxBatch} tokens allocates: no logits. */
    static long encoderScratchBytes(ModelConfig c, int maxBatch) {
        int maxFfn = Arrays.stream(c.ffnDim()).max().orElse(0);
        long perToken = 4L * (4L * c.dim() + 2L * c.qDim() + 2L * c.kvDim() + 2L * maxFfn + ropeFloats(c));
        return perToken * maxBatch + Attention.Runs.bytes(maxBatch, c.kvDim());
    }

    /** Rope-angle floats per row of a forward: cos and sin (headDim/2 each) per distinct rope. */
    private static long ropeFloats(ModelConfig c) {
        return (long) (Arrays.stream(ropeKinds(c)).max().orElse(-1) + 1) * c.headDim();
    }

    /**
     * Per layer, the index of its rope among the distinct (base, scale) pairs in layer order: Gemma 3 has two, its local
     * and global layers'.
     */
    static int[] ropeKinds(ModelConfig c) {
        int[] kind = new int[c.layers()];
        List<Integer> firsts = new ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            int k = -1;
            for (int i = 0; i < firsts.size() && k < 0; i++) {
                int f = firsts.get(i);
                if (c.ropeBase()[f] == c.ropeBase()[l] && c.ropeScale()[f] == c.ropeScale()[l]) k = i;
            }
            if (k < 0) {
                k = firsts.size();
                firsts.add(l);
            }
            kind[l] = k;
        }
        return kind;
    }

    /** The output projection and every layer matrix, as the matmul reads them: for tests. */
    List<WeightMatrix> matrices() {
        List<WeightMatrix> all = new ArrayList<>();
        if (output != null) all.add(output);
        for (Layer L : layers) all.addAll(L.matrices());
        return all;
    }

    @Override
    public ModelConfig config() {
        return c;
    }

    @Override
    public int maxBatch() {
        return maxBatch;
    }

    @Override
    public KvCache newCache(int contextLength) {
        return c.kvLayout().newCache(contextLength);
    }

    @Override
    public long scratchBytesHeld() {
        long sum = 0;
        for (Scratch s : scratch) sum += s.bytes();
        return sum;
    }

    /** Capacities a cache of this context length would have (memory plan). */
    public static long cacheBytes(ModelConfig c, int contextLength) {
        return c.kvLayout().bytes(contextLength);
    }

    @Override
    public float[] forward(Batch batch) {
        return run(batch, null);
    }

    @Override
    public float[] forward(Batch batch, float[] into) {
        return run(batch, into);
    }

    /** Through one layer of each kind only ({@link #warmUpLayers}). */
    @Override
    public float[] warmUpForward(Batch batch, float[] into) {
        return run(batch, into, warmUpLayers);
    }

    @Override
    public boolean warmsUpFewerLayers() {
        return warmUpLayers.length < layers.length;
    }

    /**
     * The last hidden states (after the final norm, HF {@code last_hidden_state}) of the rows that want logits,
     * row-major [rows × dim]: what an embedding model pools.
     */
    float[] hidden(Batch batch) {
        Scratch s = scratch.poll();
        if (s == null) s = new Scratch();
        try {
            batch.validate();
            // each chunk's rows go straight into the result: no per-chunk copy, nor a second array of the whole batch
            float[] out = new float[Math.multiplyExact(batch.logitRows(), c.dim())];
            for (int i = 0, at = 0; i < batch.size(); ) {
                int end = batch.size() <= maxBatch ? batch.size() : batch.chunkEnd(i, maxBatch);
                at = hiddenRows(batch, i, end - i, s, out, at);
                i = end;
            }
            return out;
        } finally {
            scratch.offer(s);
        }
    }

    private float[] run(Batch batch, float[] into) {
        return run(batch, into, null);
    }

    /** @param only the layers to run, in order (null: all) */
    private float[] run(Batch batch, float[] into, int[] only) {
        Scratch s = scratch.poll();
        if (s == null) s = new Scratch();
        try {
            final Scratch sc = s;
            return DecoderBlocks.inChunks(batch, maxBatch, c.vocabSize(), c.dim(), into,
                    (from, count, out) -> forwardRows(batch, from, count, sc, out, only),
                    (from, count, dst, at) -> {
                        layers(batch, from, count, sc, only);
                        return DecoderBlocks.gatherLogitRows(batch, from, count, sc.x, dst, at, c.dim());
                    },
                    sc.partHidden, this::head);
        } finally {
            scratch.offer(s);
        }
    }

    /** Rows [from, from + count) of a batch (at most maxBatch): logits of those that want them. */
    private float[] forwardRows(Batch b, int from, int count, Scratch s, float[] into, int[] only) {
        layers(b, from, count, s, only);
        return head(s.xn, DecoderBlocks.gatherLogitRows(b, from, count, s.x, s.xn, c.dim()), into);
    }

    /** Final norm and logits of {@code rows} final hidden states (normed in place). */
    private float[] head(float[] h, int rows, float[] into) {
        return DecoderBlocks.logits(matmul, pool, h, rows, c.dim(), outputNorm, c.rmsEps(), output, c.finalSoftcap(), into);
    }

    /**
     * Rows [from, from + count) of a batch (at most maxBatch): the final-normed hidden states of those that want them,
     * into {@code out} from float {@code at} on; returns where the next chunk's go.
     */
    private int hiddenRows(Batch b, int from, int count, Scratch s, float[] out, int at) {
        final int dim = c.dim();
        layers(b, from, count, s, null);
        int rows = 0;
        for (int t = 0; t < count; t++) {
            if (b.wantsLogits(from + t)) System.arraycopy(s.x, t * dim, out, at + rows++ * dim, dim);
        }
        DecoderBlocks.rows(pool, rows, (r0, r1, worker) -> {
            for (int r = r0; r < r1; r++) VectorOps.rmsNorm(out, at + r * dim, dim, outputNorm, c.rmsEps());
        });
        return at + rows * dim;
    }

    /**
     * Embeds rows [from, from + count) and runs them through every layer (or those of {@code only}, in order), leaving
     * the last states in {@code s.x}.
     */
    private void layers(Batch b, int from, int count, Scratch s, int[] only) {
        final int dim = c.dim();
        DecoderBlocks.embed(pool, embedLookup, c.vocabSize(), c.embedScale(), b, from, count, s.x, dim);
        for (int k = 0; k < ropeLayer.length; k++) {
            qkNormRope[ropeLayer[k]].angles(pool, b.positions(), from, count, s.cos[k], s.sin[k]);
        }
        int prev = -1;
        for (int i = 0, n = only == null ? c.layers() : only.length; i < n; i++) {
            int l = only == null ? i : only[i];
            attentionBlock(l, prev, b, from, count, s);
            ffnBlock(l, count, s);
            prev = l;
        }
        // the last layer's residual add (each earlier one's runs inside the next layer's first matmul, see attentionBlock)
        DecoderBlocks.addNormed(pool, s.x, s.proj, count, dim, layers[prev].postFfwNorm(), c.rmsEps());
        DecoderBlocks.advance(b, from, count);
    }

    /** Layer {@code l}, after layer {@code prev} (−1: none) whose FFN residual add it finishes. */
    private void attentionBlock(int l, int prev, Batch b, int from, int count, Scratch s) {
        Layer L = layers[l];
        final int dim = c.dim(), kvDim = c.kvDim();
        // the previous layer's FFN residual add (x += post_ffw_norm(down), left in s.proj) and this layer's attention
        // pre-norm, row by row inside the q/k/v matmul's quantization loop: one loop where there were three
        final float[] x = s.x, xn = s.xn, proj = s.proj, attnNorm = L.attnNorm();
        final float[] postFfw = prev >= 0 ? layers[prev].postFfwNorm() : null;
        final float eps = c.rmsEps();
        matmul.matmul(qkv[l], xn, count, s.qkvOut, pool, (r0, r1, worker) -> {
            if (postFfw != null) DecoderBlocks.addNormedRows(x, proj, r0, r1, dim, postFfw, eps);
            DecoderBlocks.normIntoRows(x, xn, r0, r1, dim, attnNorm, eps);
        });
        qkNormRope[l].apply(pool, s.q, s.k, s.v, count, s.cos[ropeKind[l]], s.sin[ropeKind[l]]);
        // each sequence's rows attend over its own cache (all sequences in one loop over the pool: a sequence's rows
        // are consecutive and its cache is its own, so none reads what another stores), then store their keys and values
        Attention.Runs runs = s.runs;
        runs.clear();
        for (int r = 0; r < count; ) {
            int run = DecoderBlocks.runLength(b, from + r, from + count), start = b.position(from + r);
            KvCache cache = b.cache(b.slot(from + r));
            Visibility vis = b.visibility(b.slot(from + r), visibility[l]);
            // no cache (an encoder batch): the sequence is all in this call and nothing is kept
            runs.add(vis, cache == null ? KvView.none() : KvView.ring(cache, l), r, run, start);
            r += run;
        }
        Attention.attend(pool, s.attn, runs, s.q, s.att, c.heads(), c.kvHeads(), c.headDim(), s.k, s.v);
        for (int r = 0; r < count; ) {
            int run = DecoderBlocks.runLength(b, from + r, from + count);
            KvCache cache = b.cache(b.slot(from + r));
            if (cache != null) {
                for (int t = r; t < r + run; t++) cache.put(l, b.position(from + t), s.k, t * kvDim, s.v, t * kvDim);
            }
            r += run;
        }
        matmul.matmul(L.wo(), s.att, count, s.proj, pool);
    }

    /**
     * The attention's residual add (x += post_attention_norm(o), o in s.proj) and the FFN's pre-norm run inside the
     * gate/up matmul's quantization loop; the FFN's own residual add is left to the next layer's first matmul (or, after
     * the last layer, to {@link #layers}), its output in s.proj.
     */
    private void ffnBlock(int l, int count, Scratch s) {
        Layer L = layers[l];
        final int dim = c.dim();
        final float[] x = s.x, xn = s.xn, proj = s.proj, postAttn = L.postAttnNorm(), ffnNorm = L.ffnNorm();
        final float eps = c.rmsEps();
        DecoderBlocks.gatedFfn(matmul, pool, (r0, r1, worker) -> {
            DecoderBlocks.addNormedRows(x, proj, r0, r1, dim, postAttn, eps);
            DecoderBlocks.normIntoRows(x, xn, r0, r1, dim, ffnNorm, eps);
        }, gateUp[l], L.down(), xn, count, s.gateUpOut, s.proj, Float.NaN);
    }

    @Override
    public String weightPages() {
        return repacked == null ? null : repacked.pages();
    }

    @Override
    public void close() {
        if (repacked != null) repacked.close();
        if (ownsFile) file.close();
    }

    /** Looks tensors up by name and checks their shapes, with errors naming the file and tensor. */
    static final class WeightLoader {
        private final GgufFile file;
        /** Check names, types and shapes only: {@link #matrix} and {@link #vector} return null and read nothing. */
        private final boolean checkOnly;

        WeightLoader(GgufFile file) {
            this(file, false);
        }

        private WeightLoader(GgufFile file, boolean checkOnly) {
            this.file = file;
            this.checkOnly = checkOnly;
        }

        /** A loader that only checks (see {@link Gemma3Model#checkWeights}). */
        static WeightLoader checking(GgufFile file) {
            return new WeightLoader(file, true);
        }

        boolean checkOnly() {
            return checkOnly;
        }

        GgufFile file() {
            return file;
        }

        boolean has(String name) {
            return file.tensor(name) != null;
        }

        GgufTensorInfo info(String name) {
            GgufTensorInfo t = file.tensor(name);
            if (t == null) throw file.error("missing tensor " + name);
            if (!dev.jemma.core.tensor.Formats.isSupported(t.type())) {
                throw file.error("tensor " + name + ": type " + t.type() + " is not supported");
            }
            return t;
        }

        /** A weight with ggml dims {cols, rows}. */
        WeightMatrix matrix(String name, int cols, int rows) {
            GgufTensorInfo t = info(name);
            long[] d = t.dims();
            if (d.length < 2 || d[0] != cols || t.rows() != rows) {
                throw file.error("tensor " + name + ": shape " + Arrays.toString(d) + ", expected [" + cols + ", " + rows + "]");
            }
            return checkOnly ? null : file.matrix(t);
        }

        float[] vector(String name, int n) {
            GgufTensorInfo t = info(name);
            if (t.elementCount() != n) throw file.error("tensor " + name + ": " + t.elementCount() + " elements, expected " + n);
            if (checkOnly) return null;
            float[] out = new float[n];
            dev.jemma.core.tensor.Formats.of(t.type()).dequantize(file.tensorData(t), 0, out, 0, n);
            return out;
        }
    }
}
