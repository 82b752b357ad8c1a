package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.media3n.Gemma3nMultimodalEmbedder;
import dev.jemma.core.repack.RepackCache;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.attention.Attention;
import dev.jemma.core.tensor.attention.KvView;
import dev.jemma.core.tensor.attention.Visibility;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Gemma 3n text decoder (arch {@code gemma3n}, E2B / E4B), following HF modeling_gemma3n.py (E = n_embd,
 * P = per-layer width, A = AltUp streams, a = active stream):
 * <pre>
 *   h0 = embed[tok] · √E;   ple = PerLayerEmbedding(tok, h0)                      [L × P]
 *   s[0] = h0;  s[i] = match_rms(altup_proj[i-1] · h0, h0)                       AltUp expand, i = 1..A-1
 *   per layer l:
 *     pred = AltUp.predict(s)                          x = pred[a];  xn = attn_norm(x)
 *     al   = (x + post_attn_norm(Attn(xn)) + laurel(xn)) / √2
 *     y    = al + post_ffw_norm(down(gelu(sparsify_l(gate(n))) ⊙ up(n))),  n = ffn_norm(al)
 *     s    = AltUp.correct(pred, y)
 *     s[i] += post_norm(proj(gelu(inp_gate(s[a] ⊙ altup_correct_scale)) ⊙ ple[l]))   for i = 1..A-1
 *   h  = mean(s[0], match_rms(altup_unembd_proj[i-1] · s[i], s[0]) …);  logits = 30·tanh(W_out·output_norm(h) / 30)
 * </pre>
 * Attention: q/k RMSNorm (weighted) and v RMSNorm (unweighted) per head, NeoX rope, scale 1.0, 4 sliding : 1 global.
 * The last {@code shared_kv_layers} layers compute only Q and attend over the K/V of the last non-shared layer of
 * the same type (the cache's source map). Activation sparsity: on the first layers the gate keeps only what exceeds
 * mean + Φ⁻¹(0.95)·std (population std, as HF). Norm weights are used as stored (3n's converter adds no +1).
 */
public final class Gemma3nModel implements LanguageModel {
    /** One block's weights; {@code wk}/{@code wv}/{@code kNorm} are null on KV-shared layers (they read another layer's cache). */
    record Layer(float[] attnNorm, WeightMatrix wq, WeightMatrix wk, WeightMatrix wv, WeightMatrix wo, float[] qNorm,
                 float[] kNorm, float[] postAttnNorm, float[] ffnNorm, WeightMatrix gate, WeightMatrix up, WeightMatrix down,
                 float[] postFfwNorm, Laurel laurel, WeightMatrix router, float[] routerNorm, float[] predictCoef,
                 float[] correctCoef, float[] correctScale, WeightMatrix inpGate, WeightMatrix proj, float[] postNorm) {
        /** The layer's matrices (those it has). */
        List<WeightMatrix> matrices() {
            List<WeightMatrix> all = new ArrayList<>();
            for (WeightMatrix m : new WeightMatrix[]{wq, wk, wv, wo, gate, up, down, laurel.left(), laurel.right(), router, inpGate, proj}) {
                if (m != null) all.add(m);
            }
            return all;
        }

        /** This layer with {@code f} applied to each of its matrices (the interleaved copy attached, residual rows asked for). */
        Layer map(java.util.function.UnaryOperator<WeightMatrix> f) {
            return new Layer(attnNorm, at(f, wq), at(f, wk), at(f, wv), at(f, wo), qNorm, kNorm, postAttnNorm, ffnNorm,
                    at(f, gate), at(f, up), at(f, down), postFfwNorm,
                    new Laurel(at(f, laurel.left()), at(f, laurel.right()), laurel.postNorm()), at(f, router), routerNorm,
                    predictCoef, correctCoef, correctScale, at(f, inpGate), at(f, proj), postNorm);
        }

        private static WeightMatrix at(java.util.function.UnaryOperator<WeightMatrix> f, WeightMatrix m) {
            return m == null ? null : f.apply(m);
        }
    }

    /**
     * m on the int8 kernels with residual rows, unless the scheme puts its kind on plain int8 ({@link
     * Gemma3nScheme#residualRows}: the output projection), or its kind is among {@code plain} (the fidelity probe's
     * plain-int8 kinds), or it has no interleaved copy (its type has none: the f32 kernels, where residual rows mean
     * nothing).
     */
    private static WeightMatrix int8Activations(WeightMatrix m, Gemma3nScheme scheme, List<String> plain) {
        String kind = kind(m.name());
        return m.interleaved() == null || !scheme.residualRows(kind) || plain.contains(kind) ? m : m.withResidualRows();
    }

    /**
     * The cache part of a scheme's copy: the text weights are the file's main part (a vision tower inside the file has a
     * part of its own); a MatFormer slice has fewer or narrower matrices, and the output-only scheme fewer, so parts of
     * their own too, lest loading the file whole and sliced, or at two vector widths, in turn rebuild one cache file
     * each time.
     */
    static String cachePart(Gemma3nScheme scheme, MatFormer slice) {
        String mf = slice == null ? "" : "mf" + Integer.toHexString(slice.text().toLowerCase(java.util.Locale.ROOT).hashCode());
        String part = mf + (scheme.layersInt8() ? "" : "out");
        return part.isEmpty() ? null : part;
    }

    /** "blk.3.attn_q.weight" → "attn_q", "output.weight" → "output". */
    private static String kind(String tensor) {
        String[] parts = tensor.split("\\.");
        return parts.length == 4 ? parts[2] : parts[0];
    }

    private final GgufFile file;
    private final ModelConfig c;
    private final Gemma3nConfig g;
    private final Layer[] layers;
    /** Per layer, the matrices reading the attention input (q, k, v — only q on KV-shared layers — and laurel_l). */
    private final WeightMatrix[][] attnIn;
    private final WeightMatrix[][] gateUp;
    private final DecoderBlocks.QkNormRope[] qkNormRope;
    /** Per layer, its rope among the distinct ones ({@link Gemma3Model#ropeKinds}); per distinct rope, its first layer. */
    private final int[] ropeKind, ropeLayer;
    /** Per layer: causal, or sliding on local layers. */
    private final Visibility[] visibility;
    /**
     * token_embd as rows are looked up (the output's copy when the two are tied), and the output projection: with its
     * {@link RepackCache interleaved copy} in the default mode, so that single-token steps take int8 activations there.
     */
    private final WeightMatrix embed, output;
    /** The interleaved copy of the matrices the scheme puts on int8 (null: none, the {@link Gemma3nScheme#F32} scheme). */
    private final RepackCache repacked;
    private final float[] outputNorm;
    /** Which matrices run on int8 activations, and which of those on 15-bit ones (residual rows). */
    private final Gemma3nScheme scheme;
    private final WeightMatrix[] altupProj, altupUnembd;
    private final PerLayerEmbedding ple;
    private final MatMul matmul;
    private final ThreadPool pool;
    private final int maxBatch, maxFfn;
    private final boolean ownsFile;
    /** Keeps sliced copies of ffn_down (MatFormer) alive with the model. */
    private final Arena sliceArena;
    /** The multimodal embedders (null until {@link #attachMultimodal}): they embed every id from their first offset on. */
    private volatile Gemma3nMultimodalEmbedder[] media;
    /** HF vocab_size_per_layer_input once {@link #attachMultimodal} told it; ids from here on get the PLE of token 0. */
    private volatile int perLayerVocab = Integer.MAX_VALUE;
    /** The first layer of each kind ({@link #firstLayerOfEachKind}), in order: what {@link #warmUpForward} runs. */
    private final int[] warmUpLayers;
    /** Scratch of finished forwards, for the next ones (a forward takes one, or makes one when none is free). */
    private final ConcurrentLinkedQueue<Scratch> scratch = new ConcurrentLinkedQueue<>();

    /** One forward's buffers, sized for maxBatch rows. */
    private final class Scratch {
        final float[] correctCoefs, h0, pleIn, pleProj, xn, laurel, q, k, v, att, proj, mid, routerIn, r, coefs, pleGate;
        final float[][] s, pred, gateUpOut;
        /** s[1..A-1]: the outputs of the AltUp expand's shared-input matmul. */
        final float[][] expanded;
        /** Per distinct rope ({@link #ropeKind}), the angles of every row of the forward (row t's at t·headDim/2). */
        final float[][] cos, sin;
        /** Per layer, the outputs of its attention-input matmul ({@link #attnIn}). */
        final float[][][] attnOut;
        /** Batch K/V of the layers other layers read (kept until the end of the forward, see {@link #forwardRows}). */
        final float[][] batchK, batchV;
        final Attention.Scratch[] attn = Attention.scratch(pool.threads());

        Scratch() {
            final int b = maxBatch, dim = c.dim(), a = g.altupInputs(), p = g.pleDim(), n = c.layers();
            h0 = new float[b * dim];
            pleIn = new float[b * n * p];
            pleProj = new float[b * n * p];
            s = new float[a][b * dim];
            pred = new float[a][b * dim];
            xn = new float[b * dim];
            laurel = new float[b * dim];
            q = new float[b * c.qDim()];
            k = new float[b * c.kvDim()];
            v = new float[b * c.kvDim()];
            att = new float[b * c.qDim()];
            proj = new float[b * dim];
            gateUpOut = new float[][]{new float[b * maxFfn], new float[b * maxFfn]};
            mid = new float[b * g.laurelRank()];
            routerIn = new float[b * dim];
            r = new float[b * a];
            // per row, so that rows prepared on different threads never share them
            coefs = new float[b * a * a];
            correctCoefs = new float[b * a];
            pleGate = new float[b * p];
            expanded = Arrays.copyOfRange(s, 1, a);
            cos = new float[ropeLayer.length][b * (c.headDim() / 2)];
            sin = new float[ropeLayer.length][b * (c.headDim() / 2)];
            batchK = new float[n][];
            batchV = new float[n][];
            for (int l = 0; l < n; l++) {
                int src = g.kvSource()[l];
                if (src != l && batchK[src] == null) {
                    batchK[src] = new float[b * c.kvDim()];
                    batchV[src] = new float[b * c.kvDim()];
                }
            }
            attnOut = new float[n][][];
            for (int l = 0; l < n; l++) {
                // a layer others read keeps its batch K/V in its own buffers until the end of the forward
                attnOut[l] = g.kvSource()[l] != l ? new float[][]{q, mid}
                        : new float[][]{q, batchK[l] != null ? batchK[l] : k, batchV[l] != null ? batchV[l] : v, mid};
            }
        }

        /** The layer the row tasks below work on, and the one before it whose per-layer input is still to add (−1: none). */
        int layer, prev;
        // the per-row steps as tasks made once (a capturing lambda per layer and step would allocate on every token)
        final ThreadPool.RangeTask expandRows = (t0, t1, w) -> expandRows(this, t0, t1),
                perLayerInputRows = (t0, t1, w) -> perLayerInputRows(this, t0, t1),
                predictRouterRows = (t0, t1, w) -> predictRouterRows(this, t0, t1),
                predictRows = (t0, t1, w) -> predictRows(this, t0, t1),
                laurelRows = (t0, t1, w) -> laurelRows(this, t0, t1),
                ffnInRows = (t0, t1, w) -> ffnInRows(this, t0, t1),
                correctRouterRows = (t0, t1, w) -> correctRouterRows(this, t0, t1),
                correctRows = (t0, t1, w) -> correctRows(this, t0, t1),
                pleGateRows = (t0, t1, w) -> pleGateRows(this, t0, t1);

        /** A forward in parts: the final hidden states of its rows that want logits (grown to the most seen; tiny). */
        final float[][] partHidden = new float[1][];

        long bytes() {
            return new ScratchBytes().add(correctCoefs, h0, pleIn, pleProj, xn, laurel, q, k, v, att, proj, mid, routerIn, r,
                    coefs, pleGate, cos, sin, s, pred, gateUpOut, attnOut, batchK, batchV, attn).bytes()
                    + (partHidden[0] == null ? 0 : 4L * partHidden[0].length);
        }
    }

    public Gemma3nModel(GgufFile file, ModelConfig base, MatFormer slice, MatMul matmul, ThreadPool pool, int maxBatch, boolean ownsFile) {
        this(file, base, slice, matmul, pool, maxBatch, ownsFile, Gemma3nScheme.F32);
    }

    /**
     * @param scheme which matrices get an {@link RepackCache interleaved copy}, run by the default-mode matmul on int8
     *             kernels with residual rows ({@link WeightMatrix#withResidualRows}: a second int8 row per token for its
     *             rounding error, ~15-bit activations): single tokens, few-token steps, and batches where the int8 GEMM
     *             takes the type (Q4_0 / Q5_0 / Q4_K). Residual rows, not llama.cpp's plain int8: Gemma 3n's layers
     *             amplify activation rounding ~1000× on the fixtures, where plain int8 in any layer kind moves logits by
     *             2-9 and the 15-bit rows by ≤ 0.12 (docs/PERFORMANCE.md, "Gemma 3n text against llama.cpp"). The
     *             others run on the f32-activation kernels over the GGUF's layout.
     */
    public Gemma3nModel(GgufFile file, ModelConfig base, MatFormer slice, MatMul matmul, ThreadPool pool, int maxBatch, boolean ownsFile,
                        Gemma3nScheme scheme) {
        Gemma3nConfig.Loaded loaded = Gemma3nConfig.read(file, base, slice);
        this.file = file;
        this.c = loaded.config();
        this.g = loaded.gemma3n();
        this.matmul = matmul;
        this.pool = pool;
        this.maxBatch = maxBatch;
        this.ownsFile = ownsFile;
        this.sliceArena = slice != null ? Arena.ofShared() : null;
        final int dim = c.dim(), a = g.altupInputs(), p = g.pleDim(), n = c.layers();
        Gemma3Model.WeightLoader w = new Gemma3Model.WeightLoader(file);
        WeightMatrix table = w.matrix("token_embd.weight", dim, c.vocabSize());
        WeightMatrix out = w.has("output.weight") ? w.matrix("output.weight", dim, c.vocabSize()) : table;
        outputNorm = w.vector("output_norm.weight", dim);
        altupProj = slabs(w.info("altup_proj.weight"), a - 1, dim);
        altupUnembd = slabs(w.info("altup_unembd_proj.weight"), a - 1, dim);
        GgufTensorInfo pleTable = w.info("per_layer_token_embd.weight");
        ple = new PerLayerEmbedding(file.matrix(pleTable),
                w.matrix("per_layer_model_proj.weight", dim, g.fileLayers() * p),
                w.vector("per_layer_proj_norm.weight", p), g.fileLayer(), p, dim, c.rmsEps());
        layers = new Layer[n];
        attnIn = new WeightMatrix[n][];
        gateUp = new WeightMatrix[n][];
        qkNormRope = new DecoderBlocks.QkNormRope[n];
        visibility = new Visibility[n];
        int ffnMax = 0;
        for (int l = 0; l < n; l++) {
            ffnMax = Math.max(ffnMax, c.ffnDim()[l]);
            layers[l] = readLayer(w, c, g, l, sliceArena);
        }
        this.scheme = scheme;
        List<WeightMatrix> copied = new ArrayList<>(List.of(out));
        if (scheme.layersInt8()) for (Layer L : layers) copied.addAll(L.matrices());
        repacked = scheme.outputInt8() ? RepackCache.open(file, cachePart(scheme, slice), copied, pool) : null;
        // a fidelity probe, not a mode: -Djemma.gemma3n.int8Matrices=attn_q,ffn_gate,output,… leaves those matrix kinds on
        // plain int8 (no residual rows), to measure what each kind's rounding does to the logits (docs/PERFORMANCE.md,
        // "Gemma 3n text against llama.cpp")
        List<String> plain = repacked != null ? List.of(System.getProperty("jemma.gemma3n.int8Matrices", "").split(",")) : List.of();
        output = repacked != null ? int8Activations(repacked.attach(out), scheme, plain) : out;
        // a tied embedding reads its rows from the output's copy (same values, already resident)
        embed = out == table ? output : table;
        for (int l = 0; l < n; l++) {
            if (scheme.layersInt8()) layers[l] = layers[l].map(m -> int8Activations(repacked.attach(m), scheme, plain));
            boolean owns = !g.sharesKv(l);
            Layer L = layers[l];
            attnIn[l] = owns ? new WeightMatrix[]{L.wq(), L.wk(), L.wv(), L.laurel().left()}
                    : new WeightMatrix[]{L.wq(), L.laurel().left()};
            gateUp[l] = new WeightMatrix[]{L.gate(), L.up()};
            qkNormRope[l] = new DecoderBlocks.QkNormRope(L.qNorm(), L.kNorm(), true,
                    Ops.ropeInvFreq(c.headDim(), c.ropeBase()[l], c.ropeScale()[l]), c.attentionScale(),
                    c.heads(), c.kvHeads(), c.headDim(), c.rmsEps());
            visibility[l] = Visibility.causal(c.sliding()[l] ? c.slidingWindow() : 0);
        }
        maxFfn = ffnMax;
        ropeKind = Gemma3Model.ropeKinds(c);
        ropeLayer = new int[Arrays.stream(ropeKind).max().orElse(-1) + 1];
        for (int l = n - 1; l >= 0; l--) ropeLayer[ropeKind[l]] = l;
        warmUpLayers = firstLayerOfEachKind();
        scratch.add(new Scratch());
        // the copy's build (or its fingerprint) faulted in the GGUF's pages of every copied matrix, which the model never
        // reads again: without this an E2B Q4_0 process kept 1.44 GB of them resident after its first load (3.2 GB
        // instead of 1.85). What the model still reads from the file (the per-layer table's rows, the projections left
        // uncopied) is faulted back in from the page cache on use: clean file pages
        if (repacked != null) file.releaseResidentPages();
    }

    /**
     * The first layer of each kind ({@link WarmUpLayers}): the same attention visibility, KV role (its own K/V, read by
     * later layers too, or another layer's), activation sparsity and FFN width, and every matrix of the same type, size
     * and weight copy. A warm-up forward through these alone leaves a KV-shared layer reading a source layer's K/V of
     * an earlier call when its source is not among them: values that mean nothing, as the warm-up's logits do.
     */
    private int[] firstLayerOfEachKind() {
        final int n = c.layers();
        final boolean[] source = new boolean[n];
        for (int l = 0; l < n; l++) if (g.kvSource()[l] != l) source[g.kvSource()[l]] = true;
        return WarmUpLayers.firstOfEachKind(n, l -> {
            Layer L = layers[l];
            // Visibility has no equals: its description names its kind and window
            List<Object> kind = new ArrayList<>(List.of(visibility[l].toString(), g.kvSource()[l] == l, source[l], g.sparse(l),
                    c.ffnDim()[l]));
            kind.addAll(WarmUpLayers.matrices(attnIn[l]));
            kind.addAll(WarmUpLayers.matrices(L.wo(), L.gate(), L.up(), L.down(), L.router(), L.inpGate(), L.proj(),
                    L.laurel().right()));
            return kind;
        });
    }

    /** The layers {@link #warmUpForward} runs. */
    int[] warmUpLayers() {
        return warmUpLayers.clone();
    }

    /** Splits a {dim, dim, count} tensor into its {@code count} dim×dim matrices (zero-copy views). */
    private WeightMatrix[] slabs(GgufTensorInfo t, int count, int dim) {
        WeightMatrix all = file.matrix(t);
        long bytes = all.rowBytes() * dim;
        WeightMatrix[] out = new WeightMatrix[count];
        for (int i = 0; i < count; i++) {
            out[i] = new WeightMatrix(t.name() + "[" + i + "]", all.data().asSlice(i * bytes, bytes), all.type(), dim, dim);
        }
        return out;
    }

    /**
     * Layer {@code l}'s weights (all null when {@code w} only checks shapes). {@code sliceArena} holds the copied
     * columns of a narrowed ffn_down; null when the model is loaded as stored, where every FFN must be as wide as its
     * tensors.
     */
    private static Layer readLayer(Gemma3Model.WeightLoader w, ModelConfig c, Gemma3nConfig g, int l, Arena sliceArena) {
        final int dim = c.dim(), a = g.altupInputs(), p = g.pleDim();
        String pre = "blk." + g.fileLayer()[l] + ".";
        int ffn = c.ffnDim()[l];
        boolean owns = !g.sharesKv(l);
        return new Layer(
                w.vector(pre + "attn_norm.weight", dim),
                w.matrix(pre + "attn_q.weight", dim, c.qDim()),
                owns ? w.matrix(pre + "attn_k.weight", dim, c.kvDim()) : null,
                owns ? w.matrix(pre + "attn_v.weight", dim, c.kvDim()) : null,
                w.matrix(pre + "attn_output.weight", c.qDim(), dim),
                w.vector(pre + "attn_q_norm.weight", c.headDim()),
                owns ? w.vector(pre + "attn_k_norm.weight", c.headDim()) : null,
                w.vector(pre + "post_attention_norm.weight", dim),
                w.vector(pre + "ffn_norm.weight", dim),
                ffnRows(w, c, g, l, "ffn_gate.weight", ffn, sliceArena != null),
                ffnRows(w, c, g, l, "ffn_up.weight", ffn, sliceArena != null),
                ffnDown(w, c, g, l, ffn, sliceArena),
                w.vector(pre + "post_ffw_norm.weight", dim),
                new Laurel(w.matrix(pre + "laurel_l.weight", dim, g.laurelRank()),
                        w.matrix(pre + "laurel_r.weight", g.laurelRank(), dim),
                        w.vector(pre + "laurel_post_norm.weight", dim)),
                w.matrix(pre + "altup_router.weight", dim, a),
                w.vector(pre + "altup_router_norm.weight", dim),
                w.vector(pre + "altup_predict_coef.weight", a * a * a),
                w.vector(pre + "altup_correct_coef.weight", a * a),
                w.vector(pre + "altup_correct_scale.weight", dim),
                w.matrix(pre + "inp_gate.weight", dim, p),
                w.matrix(pre + "proj.weight", p, dim),
                w.vector(pre + "post_norm.weight", dim));
    }

    /**
     * Checks, before anything is allocated, that every tensor the model as stored reads exists with the shape the
     * config implies; a per-layer FFN width that disagrees with its tensors is refused naming the key.
     */
    static void checkWeights(GgufFile file, ModelConfig base) {
        Gemma3nConfig.Loaded loaded = Gemma3nConfig.read(file, base, null);
        ModelConfig c = loaded.config();
        Gemma3nConfig g = loaded.gemma3n();
        Gemma3Model.WeightLoader w = Gemma3Model.WeightLoader.checking(file);
        w.matrix("token_embd.weight", c.dim(), c.vocabSize());
        if (w.has("output.weight")) w.matrix("output.weight", c.dim(), c.vocabSize());
        w.vector("output_norm.weight", c.dim());
        w.matrix("per_layer_model_proj.weight", c.dim(), g.fileLayers() * g.pleDim());
        w.vector("per_layer_proj_norm.weight", g.pleDim());
        for (int l = 0; l < c.layers(); l++) readLayer(w, c, g, l, null);
    }

    /** "gemma3n.feed_forward_length[3]: value 2048 does not match tensor blk.3.ffn_up.weight, shape [64, 4096]". */
    private static dev.jemma.core.JemmaException ffnMismatch(Gemma3Model.WeightLoader w, ModelConfig c, Gemma3nConfig g, int l,
                                                             int ffn, GgufTensorInfo t, String expected) {
        return w.file().error(c.architecture() + ".feed_forward_length[" + g.fileLayer()[l] + "]: value " + ffn + " does not match tensor "
                + t.name() + " of shape " + Arrays.toString(t.dims()) + " (expected " + expected + ")");
    }

    /**
     * Gate/up: the first {@code ffn} rows (a MatFormer slice keeps a prefix of the neurons; zero-copy). Unless
     * {@code sliced}, the tensor must have exactly {@code ffn} rows.
     */
    private static WeightMatrix ffnRows(Gemma3Model.WeightLoader w, ModelConfig c, Gemma3nConfig g, int l, String suffix, int ffn,
                                        boolean sliced) {
        String name = "blk." + g.fileLayer()[l] + "." + suffix;
        GgufTensorInfo t = w.info(name);
        if (t.dims().length != 2 || t.dims()[0] != c.dim()) {
            throw w.file().error("tensor " + name + ": shape " + Arrays.toString(t.dims()) + ", expected [" + c.dim() + ", " + ffn + "]");
        }
        if (sliced ? t.rows() < ffn : t.rows() != ffn) throw ffnMismatch(w, c, g, l, ffn, t, "[" + c.dim() + ", " + ffn + "]");
        if (w.checkOnly()) return null;
        WeightMatrix full = w.file().matrix(t);
        return ffn == full.rows() ? full : new WeightMatrix(name + "[:" + ffn + "]", full.data(), full.type(), ffn, c.dim());
    }

    /**
     * Down: the first {@code ffn} columns of every row. Rows of a column slice are not contiguous in the file, so a
     * sliced down projection is copied once at load into {@code sliceArena} (ffn/width of the tensor's bytes);
     * unsliced ({@code sliceArena} null: the width must be the tensor's) it stays mapped.
     */
    private static WeightMatrix ffnDown(Gemma3Model.WeightLoader w, ModelConfig c, Gemma3nConfig g, int l, int ffn, Arena sliceArena) {
        String name = "blk." + g.fileLayer()[l] + ".ffn_down.weight";
        GgufTensorInfo t = w.info(name);
        if (t.dims().length != 2 || t.rows() != c.dim()) {
            throw w.file().error("tensor " + name + ": shape " + Arrays.toString(t.dims()) + ", expected [" + ffn + ", " + c.dim() + "]");
        }
        if (sliceArena != null ? t.dims()[0] < ffn : t.dims()[0] != ffn) throw ffnMismatch(w, c, g, l, ffn, t, "[" + ffn + ", " + c.dim() + "]");
        if (w.checkOnly()) return null;
        WeightMatrix full = w.file().matrix(t);
        if (ffn == full.cols()) return full;
        long rowBytes = full.type().bytesFor(ffn);
        MemorySegment copy = sliceArena.allocate(rowBytes * full.rows(), 64);
        for (int row = 0; row < full.rows(); row++) {
            MemorySegment.copy(full.data(), full.rowOffset(row), copy, row * rowBytes, rowBytes);
        }
        // reading the kept half of every (few-KB) row faulted in nearly every page of the mapped tensor, which the
        // model never reads again: hand those pages back so a sliced E4B stays near an E2B's resident size
        if (full.data().isMapped()) full.data().unload();
        return new WeightMatrix(name + "[:, :" + ffn + "]", copy, full.type(), full.rows(), ffn);
    }

    @Override
    public ModelConfig config() {
        return c;
    }

    /**
     * Gives the model HF's multimodal embedders (from the Gemma 3n mmproj), as HF's Gemma3nModel has them: from then on a
     * token id at or above {@code perLayerVocab} (HF vocab_size_per_layer_input; {@code <end_of_image>},
     * {@code <end_of_audio>}, the soft-token ids) is embedded by the embedder that owns it (hard path, unscaled) instead
     * of token_embd, and gets the per-layer input of token 0, as do embedding rows (soft tokens). Without them the model
     * reads token_embd and the per-layer table for such ids, as llama.cpp does. Call once, before the first forward.
     *
     * @param perLayerVocab the first id that is not a text token; an id from there on that no embedder owns (the audio
     *                      ids when the mmproj has only the vision tower) keeps its token_embd row, as llama.cpp reads it
     */
    public void attachMultimodal(int perLayerVocab, Gemma3nMultimodalEmbedder... embedders) {
        if (perLayerVocab <= 0 || perLayerVocab > c.vocabSize()) {
            throw new IllegalArgumentException("the multimodal ids start at " + perLayerVocab + ", outside the vocabulary of " + c.vocabSize());
        }
        for (Gemma3nMultimodalEmbedder e : embedders) {
            if (e.textDim() != c.dim()) throw new IllegalArgumentException(e.name() + " embedder outputs width " + e.textDim() + ", the model's is " + c.dim());
        }
        this.media = embedders.clone();
        this.perLayerVocab = perLayerVocab;
    }

    /** HF's hard path for multimodal ids: rows whose token is a media id are replaced by their embedder's output. */
    private void embedMediaTokens(Batch b, int from, int count, float[] h0) {
        final Gemma3nMultimodalEmbedder[] m = media;
        if (m == null) return;
        for (int t = 0; t < count; t++) {
            int tok = b.token(from + t);
            if (b.embedding(from + t) != null || tok < perLayerVocab) continue;
            for (Gemma3nMultimodalEmbedder e : m) if (e.owns(tok)) e.embedHard(tok, h0, t * c.dim());
        }
    }

    /** Token ids for the per-layer table: media ids read token 0's row (HF per_layer_inputs_tokens). */
    private int[] pleTokens(Batch b, int from, int count) {
        int[] all = b.tokens();
        if (media == null) return all;
        int[] out = new int[from + count];
        for (int t = from; t < from + count; t++) out[t] = all[t] < perLayerVocab ? all[t] : 0;
        return out;
    }

    /** The Gemma 3n-specific parameters (AltUp, PLE, sparsity, KV sharing, MatFormer slice). */
    public Gemma3nConfig gemma3nConfig() {
        return g;
    }

    @Override
    public int maxBatch() {
        return maxBatch;
    }

    /** Bytes of the PLE token table, which stays mapped (read one row per token), not in fast memory. */
    public long mappedTableBytes() {
        return ple.tableBytes();
    }

    @Override
    public java.util.List<MemorySegment> sparselyReadRegions() {
        return java.util.List.of(ple.table());
    }

    @Override
    public KvCache newCache(int contextLength) {
        return c.kvLayout(g.kvSource()).newCache(contextLength);
    }

    /**
     * Bytes of one forward's buffers ({@link Scratch}, array for array) for batches of {@code maxBatch} rows, plus the
     * logits it returns: what the memory plan counts.
     */
    static long scratchBytes(ModelConfig c, Gemma3nConfig g, int maxBatch) {
        int dim = c.dim(), a = g.altupInputs(), p = g.pleDim(), n = c.layers();
        long maxFfn = Arrays.stream(c.ffnDim()).max().orElse(0);
        long sources = java.util.stream.IntStream.range(0, n).filter(l -> g.kvSource()[l] != l).map(l -> g.kvSource()[l]).distinct().count();
        long ropes = Arrays.stream(Gemma3Model.ropeKinds(c)).max().orElse(-1) + 1;
        long perRow = (5L + 2L * a) * dim   // h0, xn, laurel, proj, routerIn; AltUp streams and predictions
                + 2L * n * p                // per-layer inputs and their projection
                + 2L * c.qDim() + 2L * c.kvDim() + 2L * maxFfn + g.laurelRank() + a + p
                + (long) a * a + a          // AltUp predict / correct coefficients
                + ropes * c.headDim()       // rope angles (cos and sin) per distinct rope
                + 2L * c.kvDim() * sources  // batch K/V of the layers others read
                + c.vocabSize();            // the logits a forward returns
        return 4L * perRow * maxBatch;
    }

    @Override
    public long scratchBytesHeld() {
        long sum = 0;
        for (Scratch s : scratch) sum += s.bytes();
        return sum;
    }

    @Override
    public float[] forward(Batch batch) {
        return forward(batch, null);
    }

    @Override
    public float[] forward(Batch batch, float[] into) {
        return run(batch, into, null);
    }

    /** Through one layer of each kind only ({@link #firstLayerOfEachKind}). */
    @Override
    public float[] warmUpForward(Batch batch, float[] into) {
        return run(batch, into, warmUpLayers);
    }

    @Override
    public boolean warmsUpFewerLayers() {
        return warmUpLayers.length < layers.length;
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
                        int rows = hiddenRows(batch, from, count, sc, only);
                        System.arraycopy(sc.xn, 0, dst, at, rows * c.dim());
                        return rows;
                    },
                    sc.partHidden, this::head);
        } finally {
            scratch.offer(s);
        }
        }

    /** Rows [from, from + count) of a batch (at most maxBatch): logits of those of them that want logits. */
    private float[] forwardRows(Batch b, int from, int count, Scratch sc, float[] into, int[] only) {
        return head(sc.xn, hiddenRows(b, from, count, sc, only), into);
    }

    /** Final norm and logits of {@code rows} final hidden states (normed in place). */
    private float[] head(float[] h, int rows, float[] into) {
        return DecoderBlocks.logits(matmul, pool, h, rows, c.dim(), outputNorm, c.rmsEps(), output, c.finalSoftcap(), into);
    }

    /**
     * Runs rows [from, from + count) of a batch (at most maxBatch) through every layer (or those of {@code only}, in
     * order) and leaves the final hidden states (AltUp collapsed, before the output norm) of those that want logits in
     * {@code sc.xn}; returns how many.
     */
    private int hiddenRows(Batch b, int from, int count, Scratch sc, int[] only) {
        final int dim = c.dim(), a = g.altupInputs();
        final float[][] s = sc.s;
        DecoderBlocks.embed(pool, embed, c.vocabSize(), c.embedScale(), b, from, count, sc.h0, dim);
        embedMediaTokens(b, from, count, sc.h0);
        ple.compute(pleTokens(b, from, count), from, count, sc.h0, sc.pleIn, sc.pleProj, matmul, pool);
        for (int k = 0; k < ropeLayer.length; k++) {
            qkNormRope[ropeLayer[k]].angles(pool, b.positions(), from, count, sc.cos[k], sc.sin[k]);
        }

        // AltUp expand: stream 0 is the embedding, the others projections of it (one shared-input matmul) at the same
        // magnitude
        System.arraycopy(sc.h0, 0, s[0], 0, count * dim);
        if (a > 1) matmul.matmul(altupProj, sc.h0, count, sc.expanded, pool);
        DecoderBlocks.rows(pool, count, sc.expandRows);

        sc.prev = -1;
        for (int i = 0, n = only == null ? c.layers() : only.length; i < n; i++) {
            int l = only == null ? i : only[i];
            layer(l, b, from, count, sc);
            sc.prev = l;
        }
        // the last layer's per-layer input (each earlier one's is added inside the next layer's first matmul)
        DecoderBlocks.rows(pool, count, sc.perLayerInputRows);

        // Layers that others read store their K/V only now: a sliding source's ring must still hold the
        // positions before this batch while its readers (later layers) attend.
        for (int l = 0; l < c.layers(); l++) {
            if (sc.batchK[l] == null) continue;
            for (int t = 0; t < count; t++) {
                b.cache(b.slot(from + t)).put(l, b.position(from + t), sc.batchK[l], t * c.kvDim(), sc.batchV[l], t * c.kvDim());
            }
        }
        DecoderBlocks.advance(b, from, count);

        // AltUp collapse (only the rows whose logits are wanted): project the streams back, match stream 0's
        // magnitude, average
        int rows = 0;
        for (int i = 0; i < a; i++) rows = DecoderBlocks.gatherLogitRows(b, from, count, s[i], sc.pred[i], dim);
        if (rows == 0) return 0;
        final float[] s0 = sc.pred[0], h = sc.xn;
        System.arraycopy(s0, 0, h, 0, rows * dim);
        for (int i = 1; i < a; i++) {
            matmul.matmul(altupUnembd[i - 1], sc.pred[i], rows, sc.routerIn, pool);
            for (int t = 0; t < rows; t++) AltUp.matchMagnitude(sc.routerIn, t * dim, dim, AltUp.rms(s0, t * dim, dim));
            VectorOps.add(h, 0, sc.routerIn, 0, rows * dim);
        }
        for (int i = 0; i < rows * dim; i++) h[i] /= a;
        return rows;
    }

    /**
     * Layer {@code sc.layer = l}, after layer {@code sc.prev} (−1: none) whose per-layer input is still to add. The
     * per-row steps between the matrices — the AltUp router inputs, predict and correct, the norms and residual adds, the
     * per-layer gate — run on the rows a thread then quantizes, inside each matmul's quantization loop ({@link Scratch}'s
     * row tasks, {@link MatMul#matmul(WeightMatrix, float[], int, float[], ThreadPool, ThreadPool.RangeTask)}): every
     * row is computed alone, in the order and with the operations of the whole-batch loops they replace, so the result is
     * the same for any split of the rows.
     */
    private void layer(int l, Batch b, int from, int count, Scratch sc) {
        final Layer L = layers[l];
        sc.layer = l;
        // the previous layer's per-layer input, then the AltUp predict router's input rows
        matmul.matmul(L.router(), sc.routerIn, count, sc.r, pool, sc.predictRouterRows);
        // AltUp predict (x = pred[a]) and the attention pre-norm xn, inside q/k/v's loop; proj = Wo · attention(xn),
        // laurel = laurel(xn)
        attention(l, b, from, count, sc);
        // al = (x + post_attn_norm(proj) + laurel) / √2 in laurel[]; y = al + post_ffw_norm(FFN(ffn_norm(al)))
        DecoderBlocks.gatedFfn(matmul, pool, sc.ffnInRows, gateUp[l], L.down(), sc.xn, count, sc.gateUpOut, sc.proj,
                g.sparse(l) ? g.sparsityScale()[l] : Float.NaN);
        // y's residual add and the correct router's input rows
        matmul.matmul(L.router(), sc.routerIn, count, sc.r, pool, sc.correctRouterRows);
        // AltUp correct: s = pred + c · (y − pred[a]); the gate's input s[a] ⊙ altup_correct_scale into xn
        matmul.matmul(L.inpGate(), sc.xn, count, sc.pleGate, pool, sc.correctRows);
        // the per-layer input: proj = proj(gelu(gate) ⊙ ple[l]), normed and added to the streams by the next layer
        matmul.matmul(L.proj(), sc.pleGate, count, sc.proj, pool, sc.pleGateRows);
    }

    /** The AltUp expand's rows: each projected stream rescaled to the RMS of stream 0. */
    private void expandRows(Scratch sc, int t0, int t1) {
        final int dim = c.dim();
        for (int t = t0; t < t1; t++) {
            float target = AltUp.rms(sc.h0, t * dim, dim);
            for (int i = 1; i < sc.s.length; i++) AltUp.matchMagnitude(sc.s[i], t * dim, dim, target);
        }
    }

    /**
     * The per-layer input of layer {@code sc.prev} (none when −1), left in {@code proj}: normed and added to streams
     * 1..A-1 (HF adds it to corrected_predictions[1:], all but the active one when it is 0).
     */
    private void perLayerInputRows(Scratch sc, int t0, int t1) {
        if (sc.prev < 0) return;
        final int dim = c.dim(), n = (t1 - t0) * dim;
        final float[] proj = sc.proj;
        for (int t = t0; t < t1; t++) VectorOps.rmsNorm(proj, t * dim, dim, layers[sc.prev].postNorm(), c.rmsEps());
        for (int i = 1; i < sc.s.length; i++) VectorOps.add(sc.s[i], t0 * dim, proj, t0 * dim, n);
    }

    /** The previous layer's per-layer input, then the predict router's input rows from the active stream. */
    private void predictRouterRows(Scratch sc, int t0, int t1) {
        perLayerInputRows(sc, t0, t1);
        routerInputRows(sc, sc.s[g.altupActive()], t0, t1);
    }

    /** routerIn = RMSNorm(x, router_norm) / E, rows [t0, t1). */
    private void routerInputRows(Scratch sc, float[] x, int t0, int t1) {
        final int dim = c.dim();
        final float[] norm = layers[sc.layer].routerNorm();
        for (int t = t0; t < t1; t++) AltUp.routerInput(x, t * dim, dim, norm, c.rmsEps(), sc.routerIn, t * dim);
    }

    /** r = tanh(router output), rows [t0, t1) ({@code Math.tanh}, in every mode). */
    private void routerTanhRows(Scratch sc, int t0, int t1) {
        final int a = g.altupInputs();
        for (int i = t0 * a; i < t1 * a; i++) sc.r[i] = (float) Math.tanh(sc.r[i]);
    }

    /** AltUp predict of rows [t0, t1) into pred, and the attention pre-norm of the active prediction into xn. */
    private void predictRows(Scratch sc, int t0, int t1) {
        final Layer L = layers[sc.layer];
        final int dim = c.dim(), a = g.altupInputs();
        routerTanhRows(sc, t0, t1);
        for (int t = t0; t < t1; t++) {
            AltUp.coefficients(L.predictCoef(), a * a, sc.r, t * a, a, sc.coefs, t * a * a);
            AltUp.predict(sc.s, t * dim, dim, sc.coefs, t * a * a, sc.pred);
        }
        DecoderBlocks.normIntoRows(sc.pred[g.altupActive()], sc.xn, t0, t1, dim, L.attnNorm(), c.rmsEps());
    }

    /** LAuReL's rows: laurel = xn + RMSNorm(laurel_r · laurel_l · xn), the right matmul's output already in laurel. */
    private void laurelRows(Scratch sc, int t0, int t1) {
        layers[sc.layer].laurel().finishRows(sc.xn, sc.laurel, t0, t1, c.rmsEps());
    }

    /**
     * The attention's residual rows: al = (x + post_attn_norm(proj) + laurel) / √2 into laurel (x = pred[a]), and the
     * FFN's pre-norm of al into xn.
     */
    private void ffnInRows(Scratch sc, int t0, int t1) {
        final Layer L = layers[sc.layer];
        final int dim = c.dim();
        for (int t = t0; t < t1; t++) VectorOps.rmsNorm(sc.proj, t * dim, dim, L.postAttnNorm(), c.rmsEps());
        AltUp.averageResiduals(sc.pred[g.altupActive()], sc.proj, sc.laurel, t0 * dim, (t1 - t0) * dim);
        DecoderBlocks.normIntoRows(sc.laurel, sc.xn, t0, t1, dim, L.ffnNorm(), c.rmsEps());
    }

    /** The FFN's residual add (y = al + post_ffw_norm(ffn), in laurel) and the correct router's input rows from y. */
    private void correctRouterRows(Scratch sc, int t0, int t1) {
        DecoderBlocks.addNormedRows(sc.laurel, sc.proj, t0, t1, c.dim(), layers[sc.layer].postFfwNorm(), c.rmsEps());
        routerInputRows(sc, sc.laurel, t0, t1);
    }

    /** AltUp correct of rows [t0, t1) into the streams, and the per-layer gate's input s[a] ⊙ altup_correct_scale into xn. */
    private void correctRows(Scratch sc, int t0, int t1) {
        final Layer L = layers[sc.layer];
        final int dim = c.dim(), a = g.altupInputs(), act = g.altupActive();
        routerTanhRows(sc, t0, t1);
        final float[] cc = sc.correctCoefs;
        for (int t = t0; t < t1; t++) {
            AltUp.coefficients(L.correctCoef(), a, sc.r, t * a, a, cc, t * a);
            for (int i = 0; i < a; i++) cc[t * a + i] += 1f;
            AltUp.correct(sc.pred, sc.laurel, t * dim, dim, act, cc, t * a, sc.s);
        }
        for (int t = t0; t < t1; t++) VectorOps.mul(sc.s[act], t * dim, L.correctScale(), 0, sc.xn, t * dim, dim);
    }

    /** The per-layer gate's rows: gate = gelu(gate) ⊙ ple[l] (the JDK-exact vector GELU in every mode). */
    private void pleGateRows(Scratch sc, int t0, int t1) {
        final int p = g.pleDim(), stride = c.layers() * p;
        for (int t = t0; t < t1; t++) Ops.geluGateVector(sc.pleGate, t * p, sc.pleIn, t * stride + sc.layer * p, p);
    }

    /**
     * Attention of the rows over their sequences' caches, writing Wo · heads into {@code proj}; and LAuReL of the same
     * input into {@code laurel} (its first matrix shares the input quantization with q/k/v). The AltUp prediction and
     * the pre-norm run inside the q/k/v matmul's quantization loop.
     */
    private void attention(int l, Batch b, int from, int count, Scratch sc) {
        final Layer L = layers[l];
        final int kvDim = c.kvDim(), src = g.kvSource()[l];
        matmul.matmul(attnIn[l], sc.xn, count, sc.attnOut[l], pool, sc.predictRows);
        // a KV-shared layer reads the source layer's K/V of this batch (not yet in the cache) and its cache
        final float[] bk = src == l ? sc.attnOut[l][1] : sc.batchK[src], bv = src == l ? sc.attnOut[l][2] : sc.batchV[src];
        matmul.matmul(L.laurel().right(), sc.mid, count, sc.laurel, pool);
        qkNormRope[l].apply(pool, sc.q, src == l ? bk : null, src == l ? bv : null, count, sc.cos[ropeKind[l]], sc.sin[ropeKind[l]]);
        final Visibility vis = visibility[l];
        for (int r = 0; r < count; ) {
            int run = DecoderBlocks.runLength(b, from + r, from + count);
            KvCache cache = b.cache(b.slot(from + r));
            KvView kv = src == l ? KvView.ring(cache, l) : KvView.shared(cache, l);
            Attention.attend(pool, sc.attn, b.visibility(b.slot(from + r), vis), kv, sc.q, sc.att, r, run,
                    b.position(from + r), c.heads(), c.kvHeads(), c.headDim(), bk, bv);
            if (src == l && sc.batchK[l] == null) {
                for (int t = r; t < r + run; t++) cache.put(l, b.position(from + t), bk, t * kvDim, bv, t * kvDim);
            }
            r += run;
        }
        matmul.matmul(L.wo(), sc.att, count, sc.proj, pool, sc.laurelRows);
    }

    /** Gaussian top-k activation sparsity; see {@link DecoderBlocks#gaussianTopK}. */
    static void gaussianTopK(float[] x, int off, int n, float k) {
        DecoderBlocks.gaussianTopK(x, off, n, k);
    }

    /** Which matrices run on int8 activations, and which of those on 15-bit ones (residual rows). */
    public Gemma3nScheme scheme() {
        return scheme;
    }

    /** The output projection as the matmul reads it (with its interleaved copy in the default mode): for tests. */
    WeightMatrix output() {
        return output;
    }

    /** The output projection and every layer matrix, as the matmul reads them: for tests. */
    List<WeightMatrix> matrices() {
        List<WeightMatrix> all = new ArrayList<>(List.of(output));
        for (Layer L : layers) all.addAll(L.matrices());
        return all;
    }

    @Override
    public void close() {
        if (sliceArena != null) sliceArena.close();
        if (repacked != null) repacked.close();
        if (ownsFile) file.close();
    }
}
