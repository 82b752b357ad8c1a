package dev.jemma.core.model;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

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
    }

    private final GgufFile file;
    private final ModelConfig c;
    private final Gemma3nConfig g;
    private final Layer[] layers;
    private final WeightMatrix embed, output;
    private final float[] outputNorm;
    private final WeightMatrix[] altupProj, altupUnembd;
    private final PerLayerEmbedding ple;
    private final float[][] invFreq;
    private final MatMul matmul;
    private final ThreadPool pool;
    private final int maxBatch;
    private final boolean ownsFile;
    /** Keeps sliced copies of ffn_down (MatFormer) alive with the model. */
    private final Arena sliceArena;

    // scratch, sized for maxBatch tokens
    private final float[] correctCoefs, h0, pleIn, xn, laurel, q, k, v, att, proj, gate, up, mid, routerIn, r, coefs, pleGate;
    private final float[][] s, pred;
    /** Batch K/V of the layers other layers read (kept until the end of the forward, see {@link #forward}). */
    private final float[][] batchK, batchV;
    private final Attention.Scratch[] attnScratch;
    private float[] logits = new float[0];

    public Gemma3nModel(GgufFile file, ModelConfig base, MatFormer slice, MatMul matmul, ThreadPool pool, int maxBatch, boolean ownsFile) {
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
        embed = w.matrix("token_embd.weight", dim, c.vocabSize());
        output = w.has("output.weight") ? w.matrix("output.weight", dim, c.vocabSize()) : embed;
        outputNorm = w.vector("output_norm.weight", dim);
        altupProj = slabs(w.info("altup_proj.weight"), a - 1, dim);
        altupUnembd = slabs(w.info("altup_unembd_proj.weight"), a - 1, dim);
        GgufTensorInfo table = w.info("per_layer_token_embd.weight");
        ple = new PerLayerEmbedding(file.matrix(table),
                w.matrix("per_layer_model_proj.weight", dim, g.fileLayers() * p),
                w.vector("per_layer_proj_norm.weight", p), g.fileLayer(), p, dim, c.rmsEps());
        layers = new Layer[n];
        invFreq = new float[n][];
        int maxFfn = 0;
        for (int l = 0; l < n; l++) {
            String pre = "blk." + g.fileLayer()[l] + ".";
            int ffn = c.ffnDim()[l];
            maxFfn = Math.max(maxFfn, ffn);
            boolean owns = !g.sharesKv(l);
            layers[l] = new Layer(
                    w.vector(pre + "attn_norm.weight", dim),
                    w.matrix(pre + "attn_q.weight", dim, c.qDim()),
                    owns ? w.matrix(pre + "attn_k.weight", dim, c.kvDim()) : null,
                    owns ? w.matrix(pre + "attn_v.weight", dim, c.kvDim()) : null,
                    w.matrix(pre + "attn_output.weight", c.qDim(), dim),
                    w.vector(pre + "attn_q_norm.weight", c.headDim()),
                    owns ? w.vector(pre + "attn_k_norm.weight", c.headDim()) : null,
                    w.vector(pre + "post_attention_norm.weight", dim),
                    w.vector(pre + "ffn_norm.weight", dim),
                    ffnRows(w, pre + "ffn_gate.weight", ffn),
                    ffnRows(w, pre + "ffn_up.weight", ffn),
                    ffnDown(w, pre + "ffn_down.weight", ffn),
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
            invFreq[l] = Ops.ropeInvFreq(c.headDim(), c.ropeBase()[l], c.ropeScale()[l]);
        }
        int b = maxBatch;
        h0 = new float[b * dim];
        pleIn = new float[b * n * p];
        s = new float[a][b * dim];
        pred = new float[a][b * dim];
        xn = new float[b * dim];
        laurel = new float[b * dim];
        q = new float[b * c.qDim()];
        k = new float[b * c.kvDim()];
        v = new float[b * c.kvDim()];
        att = new float[b * c.qDim()];
        proj = new float[b * dim];
        gate = new float[b * Math.max(maxFfn, p)];
        up = new float[b * maxFfn];
        mid = new float[b * g.laurelRank()];
        routerIn = new float[b * dim];
        r = new float[b * a];
        coefs = new float[a * a];
        correctCoefs = new float[a];
        pleGate = new float[b * p];
        batchK = new float[n][];
        batchV = new float[n][];
        for (int l = 0; l < n; l++) {
            int src = g.kvSource()[l];
            if (src != l && batchK[src] == null) {
                batchK[src] = new float[b * c.kvDim()];
                batchV[src] = new float[b * c.kvDim()];
            }
        }
        attnScratch = Attention.scratch(pool.threads());
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

    /** Gate/up: the first {@code ffn} rows (a MatFormer slice keeps a prefix of the neurons; zero-copy). */
    private WeightMatrix ffnRows(Gemma3Model.WeightLoader w, String name, int ffn) {
        GgufTensorInfo t = w.info(name);
        if (t.dims().length != 2 || t.dims()[0] != c.dim() || t.rows() < ffn) {
            throw file.error("tensor " + name + ": shape " + Arrays.toString(t.dims()) + ", expected [" + c.dim() + ", " + ffn + "]");
        }
        WeightMatrix full = file.matrix(t);
        return ffn == full.rows() ? full : new WeightMatrix(name + "[:" + ffn + "]", full.data(), full.type(), ffn, c.dim());
    }

    /**
     * Down: the first {@code ffn} columns of every row. Rows of a column slice are not contiguous in the file, so a
     * sliced down projection is copied once at load (ffn/width of the tensor's bytes); unsliced stays mapped.
     */
    private WeightMatrix ffnDown(Gemma3Model.WeightLoader w, String name, int ffn) {
        GgufTensorInfo t = w.info(name);
        if (t.dims().length != 2 || t.dims()[0] < ffn || t.rows() != c.dim()) {
            throw file.error("tensor " + name + ": shape " + Arrays.toString(t.dims()) + ", expected [" + ffn + ", " + c.dim() + "]");
        }
        WeightMatrix full = file.matrix(t);
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

    @Override
    public float[] forward(int[] tokens, int offset, int count, KvCache cache, boolean allLogits) {
        if (count <= 0) throw new IllegalArgumentException("no tokens");
        if (count > maxBatch) throw new IllegalArgumentException("batch of " + count + " exceeds " + maxBatch);
        if (cache.length() + count > cache.contextLength()) {
            throw new JemmaException("context full: " + (cache.length() + count) + " tokens exceed the context length " + cache.contextLength());
        }
        final int dim = c.dim(), start = cache.length(), a = g.altupInputs();
        for (int t = 0; t < count; t++) {
            int tok = tokens[offset + t];
            if (tok < 0 || tok >= c.vocabSize()) throw new JemmaException("token id " + tok + " is outside the vocabulary (0.." + (c.vocabSize() - 1) + ")");
            embed.dequantizeRow(tok, h0, t * dim);
            VectorOps.scale(h0, t * dim, dim, c.embedScale());
        }
        ple.compute(tokens, offset, count, h0, pleIn, matmul, pool);

        // AltUp expand: stream 0 is the embedding, the others projections of it at the same magnitude
        System.arraycopy(h0, 0, s[0], 0, count * dim);
        for (int i = 1; i < a; i++) {
            matmul.matmul(altupProj[i - 1], h0, count, s[i], pool);
            for (int t = 0; t < count; t++) AltUp.matchMagnitude(s[i], t * dim, dim, AltUp.rms(h0, t * dim, dim));
        }

        for (int l = 0; l < c.layers(); l++) layer(l, count, start, cache);

        // Layers that others read store their K/V only now: a sliding source's ring must still hold the
        // positions before this batch while its readers (later layers) attend.
        for (int l = 0; l < c.layers(); l++) {
            if (batchK[l] == null) continue;
            for (int t = 0; t < count; t++) cache.put(l, start + t, batchK[l], t * c.kvDim(), batchV[l], t * c.kvDim());
        }
        cache.advance(count);

        // AltUp collapse (only the rows whose logits are wanted): project the streams back, match stream 0's
        // magnitude, average
        final int first = allLogits ? 0 : count - 1, rows = count - first;
        for (int i = 1; i < a; i++) {
            float[] in = s[i];
            if (first > 0) {
                System.arraycopy(s[i], first * dim, routerIn, 0, rows * dim);
                in = routerIn;
            }
            matmul.matmul(altupUnembd[i - 1], in, rows, pred[i], pool);
            for (int t = 0; t < rows; t++) AltUp.matchMagnitude(pred[i], t * dim, dim, AltUp.rms(s[0], (first + t) * dim, dim));
        }
        for (int t = 0; t < rows; t++) {
            int o = t * dim, src = (first + t) * dim;
            for (int e = 0; e < dim; e++) {
                float sum = s[0][src + e];
                for (int i = 1; i < a; i++) sum += pred[i][o + e];
                xn[o + e] = sum / a;
            }
        }
        Ops.rmsNormRows(xn, rows, dim, outputNorm, c.rmsEps());
        int vocab = c.vocabSize();
        if (logits.length < rows * vocab) logits = new float[rows * vocab];
        matmul.matmul(output, xn, rows, logits, pool);
        float[] result = Arrays.copyOf(logits, rows * vocab);
        Ops.softcap(result, 0, result.length, c.finalSoftcap());
        return result;
    }

    private void layer(int l, int count, int start, KvCache cache) {
        final Layer L = layers[l];
        final int dim = c.dim(), a = g.altupInputs(), act = g.altupActive(), n = count * dim;
        // AltUp predict
        router(L, s[act], count);
        for (int t = 0; t < count; t++) {
            AltUp.coefficients(L.predictCoef(), a * a, r, t * a, a, coefs);
            AltUp.predict(s, t * dim, dim, coefs, pred);
        }
        final float[] x = pred[act];
        System.arraycopy(x, 0, xn, 0, n);
        Ops.rmsNormRows(xn, count, dim, L.attnNorm(), c.rmsEps());

        L.laurel().apply(xn, count, c.rmsEps(), mid, laurel, matmul, pool);
        attention(l, count, start, cache);                       // proj = Wo · attention(xn)
        Ops.rmsNormRows(proj, count, dim, L.postAttnNorm(), c.rmsEps());
        // al = (x + attn + laurel) / √2, kept in laurel[]
        final float sqrt2 = (float) Math.sqrt(2.0);
        for (int i = 0; i < n; i++) laurel[i] = (x[i] + proj[i] + laurel[i]) / sqrt2;

        ffn(l, count);                                           // proj = post_ffw_norm(FFN(ffn_norm(al)))
        VectorOps.add(laurel, 0, proj, 0, n);                    // y = al + ffn, in laurel[]

        // AltUp correct: s = pred + c · (y − pred[a])
        router(L, laurel, count);
        final float[] cc = correctCoefs;
        for (int t = 0; t < count; t++) {
            AltUp.coefficients(L.correctCoef(), a, r, t * a, a, cc);
            for (int i = 0; i < a; i++) cc[i] += 1f;
            AltUp.correct(pred, laurel, t * dim, dim, act, cc, s);
        }

        // per-layer input: gate the scaled active stream with this layer's PLE and add it to the other streams
        final int p = g.pleDim(), stride = c.layers() * p;
        System.arraycopy(s[act], 0, xn, 0, n);
        for (int t = 0; t < count; t++) {
            for (int e = 0; e < dim; e++) xn[t * dim + e] *= L.correctScale()[e];
        }
        matmul.matmul(L.inpGate(), xn, count, pleGate, pool);
        for (int t = 0; t < count; t++) {
            for (int e = 0; e < p; e++) pleGate[t * p + e] = Ops.geluTanh(pleGate[t * p + e]) * pleIn[t * stride + l * p + e];
        }
        matmul.matmul(L.proj(), pleGate, count, proj, pool);
        Ops.rmsNormRows(proj, count, dim, L.postNorm(), c.rmsEps());
        // HF adds it to streams 1..A-1 (corrected_predictions[1:]), i.e. all but the active one when it is 0
        for (int i = 1; i < a; i++) VectorOps.add(s[i], 0, proj, 0, n);
    }

    /** r[t·A + i] = tanh(router · RMSNorm(x[t])/E). */
    private void router(Layer L, float[] x, int count) {
        final int dim = c.dim(), a = g.altupInputs();
        for (int t = 0; t < count; t++) AltUp.routerInput(x, t * dim, dim, L.routerNorm(), c.rmsEps(), routerIn, t * dim);
        matmul.matmul(L.router(), routerIn, count, r, pool);
        for (int i = 0; i < count * a; i++) r[i] = (float) Math.tanh(r[i]);
    }

    /** Attention of the batch over the cache; writes Wo · heads into {@code proj}. */
    private void attention(int l, int count, int start, KvCache cache) {
        final Layer L = layers[l];
        final int hd = c.headDim(), qDim = c.qDim(), kvDim = c.kvDim(), src = g.kvSource()[l];
        final float eps = c.rmsEps();
        final float[] freq = invFreq[l];
        matmul.matmul(L.wq(), xn, count, q, pool);
        for (int t = 0; t < count; t++) {
            for (int h = 0; h < c.heads(); h++) {
                int o = t * qDim + h * hd;
                VectorOps.rmsNorm(q, o, hd, L.qNorm(), eps);
                Ops.rope(q, o, hd, start + t, freq);
                if (c.attentionScale() != 1f) VectorOps.scale(q, o, hd, c.attentionScale());
            }
        }
        final float[] bk, bv;
        if (src == l) {
            // a layer others read keeps its batch K/V in its own buffers until the end of the forward
            bk = batchK[l] != null ? batchK[l] : k;
            bv = batchV[l] != null ? batchV[l] : v;
            matmul.matmul(L.wk(), xn, count, bk, pool);
            matmul.matmul(L.wv(), xn, count, bv, pool);
            for (int t = 0; t < count; t++) {
                for (int h = 0; h < c.kvHeads(); h++) {
                    int o = t * kvDim + h * hd;
                    VectorOps.rmsNorm(bk, o, hd, L.kNorm(), eps);
                    Ops.rope(bk, o, hd, start + t, freq);
                    VectorOps.rmsNorm(bv, o, hd, null, eps);     // v norm has no weight
                }
            }
        } else {
            // KV-shared layer: the source layer's K/V of this batch (not yet in the cache) and its cache
            bk = batchK[src];
            bv = batchV[src];
        }
        final int window = c.sliding()[l] ? c.slidingWindow() : 0;
        Attention.attendBatch(pool, attnScratch, q, att, count, start, c.heads(), c.kvHeads(), hd, window, cache, l, bk, bv);
        if (src == l && batchK[l] == null) {
            for (int t = 0; t < count; t++) cache.put(l, start + t, bk, t * kvDim, bv, t * kvDim);
        }
        matmul.matmul(L.wo(), att, count, proj, pool);
    }

    /** proj = post_ffw_norm(down(gelu(sparsify(gate·n)) ⊙ up·n)), n = ffn_norm(laurel[]). */
    private void ffn(int l, int count) {
        final Layer L = layers[l];
        final int dim = c.dim(), ffn = c.ffnDim()[l];
        System.arraycopy(laurel, 0, xn, 0, count * dim);
        Ops.rmsNormRows(xn, count, dim, L.ffnNorm(), c.rmsEps());
        matmul.matmul(L.gate(), xn, count, gate, pool);
        if (g.sparse(l)) {
            for (int t = 0; t < count; t++) gaussianTopK(gate, t * ffn, ffn, g.sparsityScale()[l]);
        }
        matmul.matmul(L.up(), xn, count, up, pool);
        Ops.geluGate(gate, up, 0, count * ffn);
        matmul.matmul(L.down(), gate, count, proj, pool);
        Ops.rmsNormRows(proj, count, dim, L.postFfwNorm(), c.rmsEps());
    }

    /**
     * Gaussian top-k activation sparsity (HF {@code _gaussian_topk}): treating the n gate values as normally
     * distributed, keep only the part above {@code mean + std·k} — {@code x = relu(x − (mean + std·k))} — where
     * k = Φ⁻¹(target sparsity) and std is the population std (divide by n, HF {@code unbiased=False}; llama.cpp
     * divides by n−1, which is why it misses the reference). Statistics accumulate in double.
     */
    static void gaussianTopK(float[] x, int off, int n, float k) {
        double sum = 0;
        for (int i = off; i < off + n; i++) sum += x[i];
        float mean = (float) (sum / n);
        double sq = 0;
        for (int i = off; i < off + n; i++) {
            double d = x[i] - (double) mean;
            sq += d * d;
        }
        float std = (float) Math.sqrt(sq / n);
        float cutoff = mean + std * k;
        for (int i = off; i < off + n; i++) x[i] = Math.max(0f, x[i] - cutoff);
    }

    @Override
    public void close() {
        if (sliceArena != null) sliceArena.close();
        if (ownsFile) file.close();
    }
}
