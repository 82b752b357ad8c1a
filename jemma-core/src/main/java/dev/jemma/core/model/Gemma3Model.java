package dev.jemma.core.model;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.repack.RepackCache;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

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
    private final WeightMatrix embed;
    /** Where embedding rows are read: the interleaved copy when the embedding is the (tied) output, else the file. */
    private final WeightMatrix embedLookup;
    private final WeightMatrix output;
    private final RepackCache repacked;
    private final float[] outputNorm;
    private final float[][] invFreq;
    private final MatMul matmul;
    private final ThreadPool pool;
    private final int maxBatch;
    private final boolean ownsFile;

    // scratch, sized for maxBatch tokens
    private final float[] x, xn, q, k, v, att, proj, gate, up;
    private final float[][] qkvOut, gateUpOut;
    private final Attention.Scratch[] attnScratch;
    private final float[] ropeCos, ropeSin;
    private float[] logits = new float[0];

    /**
     * @param int8 give Q4_0/Q8_0/F16 matrices an {@link RepackCache interleaved copy}, which the default-mode matmul
     *             runs single tokens of with int8 activations (Q4_0/Q8_0, llama.cpp's numerics) and everything else
     *             with f32 activations; false keeps every matmul on the f32-activation row kernels
     */
    public Gemma3Model(GgufFile file, ModelConfig config, MatMul matmul, ThreadPool pool, int maxBatch, boolean ownsFile, boolean int8) {
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
        invFreq = new float[c.layers()][];
        int maxFfn = 0;
        for (int l = 0; l < c.layers(); l++) {
            String p = "blk." + l + ".";
            int ffn = c.ffnDim()[l];
            maxFfn = Math.max(maxFfn, ffn);
            layers[l] = new Layer(
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
            invFreq[l] = Ops.ropeInvFreq(c.headDim(), c.ropeBase()[l], c.ropeScale()[l]);
        }
        if (int8) {
            List<WeightMatrix> all = new ArrayList<>();
            all.add(out);
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
            output = repacked.attach(out);
        } else {
            repacked = null;
            output = out;
        }
        // a tied embedding reads its rows from the output's copy (same values, already resident)
        embedLookup = out == embed ? output : embed;
        int b = maxBatch;
        x = new float[b * c.dim()];
        xn = new float[b * c.dim()];
        q = new float[b * c.qDim()];
        k = new float[b * c.kvDim()];
        v = new float[b * c.kvDim()];
        att = new float[b * c.qDim()];
        proj = new float[b * c.dim()];
        gate = new float[b * maxFfn];
        up = new float[b * maxFfn];
        qkvOut = new float[][]{q, k, v};
        gateUpOut = new float[][]{gate, up};
        qkv = new WeightMatrix[layers.length][];
        gateUp = new WeightMatrix[layers.length][];
        for (int l = 0; l < layers.length; l++) {
            qkv[l] = layers[l].qkv();
            gateUp[l] = layers[l].gateUp();
        }
        attnScratch = Attention.scratch(pool.threads());
        ropeCos = new float[c.headDim() / 2];
        ropeSin = new float[c.headDim() / 2];
    }

    /** Bytes of scratch this model allocates for a batch of {@code maxBatch} tokens (for the memory plan). */
    public static long scratchBytes(ModelConfig c, int maxBatch) {
        int maxFfn = Arrays.stream(c.ffnDim()).max().orElse(0);
        long perToken = 4L * (3L * c.dim() + 2L * c.qDim() + 2L * c.kvDim() + 2L * maxFfn + c.vocabSize());
        return perToken * maxBatch;
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

    /** Capacities a cache of this context length would have (memory plan). */
    public static long cacheBytes(ModelConfig c, int contextLength) {
        return c.kvLayout().bytes(contextLength);
    }

    @Override
    public float[] forward(int[] tokens, int offset, int count, KvCache cache, boolean allLogits) {
        if (count <= 0) throw new IllegalArgumentException("no tokens");
        if (cache.length() + count > cache.contextLength()) {
            throw new JemmaException("context full: " + (cache.length() + count) + " tokens exceed the context length " + cache.contextLength());
        }
        if (count <= maxBatch) return forwardBatch(tokens, offset, count, cache, allLogits);
        int vocab = c.vocabSize();
        float[] all = allLogits ? new float[Math.multiplyExact(count, vocab)] : null;
        float[] last = null;
        for (int i = 0; i < count; i += maxBatch) {
            int n = Math.min(maxBatch, count - i);
            last = forwardBatch(tokens, offset + i, n, cache, allLogits || i + n == count);
            if (allLogits) System.arraycopy(last, 0, all, i * vocab, n * vocab);
        }
        return allLogits ? all : Arrays.copyOfRange(last, last.length - vocab, last.length);
    }

    private float[] forwardBatch(int[] tokens, int offset, int count, KvCache cache, boolean allLogits) {
        final int dim = c.dim(), start = cache.length();
        for (int t = 0; t < count; t++) {
            int tok = tokens[offset + t];
            if (tok < 0 || tok >= c.vocabSize()) throw new JemmaException("token id " + tok + " is outside the vocabulary (0.." + (c.vocabSize() - 1) + ")");
            embedLookup.dequantizeRow(tok, x, t * dim);
            VectorOps.scale(x, t * dim, dim, c.embedScale());
        }
        for (int l = 0; l < c.layers(); l++) {
            attentionBlock(l, count, start, cache);
            ffnBlock(l, count);
        }
        cache.advance(count);
        int first = allLogits ? 0 : count - 1;
        int rows = count - first;
        System.arraycopy(x, first * dim, xn, 0, rows * dim);
        Ops.rmsNormRows(xn, rows, dim, outputNorm, c.rmsEps());
        int vocab = c.vocabSize();
        if (logits.length < rows * vocab) logits = new float[rows * vocab];
        matmul.matmul(output, xn, rows, logits, pool);
        float[] result = Arrays.copyOf(logits, rows * vocab);
        if (c.finalSoftcap() > 0) Ops.softcap(result, 0, result.length, c.finalSoftcap());
        return result;
    }

    private void attentionBlock(int l, int count, int start, KvCache cache) {
        Layer L = layers[l];
        final int dim = c.dim(), hd = c.headDim(), qDim = c.qDim(), kvDim = c.kvDim();
        System.arraycopy(x, 0, xn, 0, count * dim);
        Ops.rmsNormRows(xn, count, dim, L.attnNorm(), c.rmsEps());
        matmul.matmul(qkv[l], xn, count, qkvOut, pool);
        final float[] freq = invFreq[l];
        final float scale = c.attentionScale();
        for (int t = 0; t < count; t++) {
            int pos = start + t;
            Ops.ropeAngles(pos, freq, ropeCos, ropeSin);
            for (int h = 0; h < c.heads(); h++) {
                int o = t * qDim + h * hd;
                VectorOps.rmsNorm(q, o, hd, L.qNorm(), c.rmsEps());
                Ops.rope(q, o, hd, ropeCos, ropeSin);
                VectorOps.scale(q, o, hd, scale);
            }
            for (int h = 0; h < c.kvHeads(); h++) {
                int o = t * kvDim + h * hd;
                VectorOps.rmsNorm(k, o, hd, L.kNorm(), c.rmsEps());
                Ops.rope(k, o, hd, ropeCos, ropeSin);
            }
        }
        final int window = c.sliding()[l] ? c.slidingWindow() : 0;
        Attention.attendBatch(pool, attnScratch, q, att, count, start, c.heads(), c.kvHeads(), hd, window, cache, l, k, v);
        for (int t = 0; t < count; t++) cache.put(l, start + t, k, t * kvDim, v, t * kvDim);
        matmul.matmul(L.wo(), att, count, proj, pool);
        Ops.rmsNormRows(proj, count, dim, L.postAttnNorm(), c.rmsEps());
        VectorOps.add(x, 0, proj, 0, count * dim);
    }

    private void ffnBlock(int l, int count) {
        Layer L = layers[l];
        final int dim = c.dim(), ffn = c.ffnDim()[l];
        System.arraycopy(x, 0, xn, 0, count * dim);
        Ops.rmsNormRows(xn, count, dim, L.ffnNorm(), c.rmsEps());
        matmul.matmul(gateUp[l], xn, count, gateUpOut, pool);
        Ops.geluGateVector(gate, up, 0, count * ffn);
        matmul.matmul(L.down(), gate, count, proj, pool);
        Ops.rmsNormRows(proj, count, dim, L.postFfwNorm(), c.rmsEps());
        VectorOps.add(x, 0, proj, 0, count * dim);
    }

    @Override
    public void close() {
        if (repacked != null) repacked.close();
        if (ownsFile) file.close();
    }

    /** Looks tensors up by name and checks their shapes, with errors naming the file and tensor. */
    static final class WeightLoader {
        private final GgufFile file;

        WeightLoader(GgufFile file) {
            this.file = file;
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
            return file.matrix(t);
        }

        float[] vector(String name, int n) {
            GgufTensorInfo t = info(name);
            if (t.elementCount() != n) throw file.error("tensor " + name + ": " + t.elementCount() + " elements, expected " + n);
            float[] out = new float[n];
            dev.jemma.core.tensor.Formats.of(t.type()).dequantize(file.tensorData(t), 0, out, 0, n);
            return out;
        }
    }
}
