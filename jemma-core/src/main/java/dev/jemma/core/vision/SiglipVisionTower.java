package dev.jemma.core.vision;

import dev.jemma.core.model.Ops;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.attention.DenseAttention;

/**
 * SigLIP vision encoder as Gemma 3 uses it (HF modeling_siglip.py, {@code SiglipVisionTransformer} without the
 * pooling head), over one image of P = (S / patch)² patches:
 * <pre>
 *   x = conv_{patch×patch, stride patch}(pixels) + pos          (patch embedding as a matmul over unfolded patches)
 *   per block: x = x + out(Attn(ln1(x)));  x = x + fc2(gelu_tanh(fc1(ln2(x))))   (every linear with a bias)
 *   y = post_ln(x)                                              (last_hidden_state [P × hidden])
 * </pre>
 * Attention is plain multi-head, fully bidirectional over the image's patches (no cache), scale headDim^-0.5, run by
 * {@link DenseAttention} (both of its products as GEMMs: SigLIP's heads of 72 are no whole number of vectors).
 * LayerNorm statistics accumulate in double. Every matmul runs over all P patches at once on the given
 * {@link MatMul} (the text model's kernels).
 */
public final class SiglipVisionTower {
    /** One encoder block's weights (HF SiglipEncoderLayer). */
    record Block(float[] ln1W, float[] ln1B, WeightMatrix q, WeightMatrix k, WeightMatrix v, WeightMatrix o,
                 float[] qB, float[] kB, float[] vB, float[] oB, float[] ln2W, float[] ln2B,
                 WeightMatrix fc1, WeightMatrix fc2, float[] fc1B, float[] fc2B) {
        WeightMatrix[] qkv() {
            return new WeightMatrix[]{q, k, v};
        }
    }

    /**
     * Patches per matmul call. The default-mode GEMM decodes a few weight rows and runs them over every token of its
     * call, so a call's activations are re-read once per row group: 256 patches of a 1152-wide SigLIP are 1.2 MB, which
     * stays in cache, where all 4096 patches of an 896-pixel image (19 MB) would stream from memory every time.
     */
    static final int PATCH_BLOCK = 256;

    private final VisionConfig c;
    /** Convolution kernel as [hidden rows × (3·patch·patch) cols], columns in (channel, ky, kx) order. */
    private final WeightMatrix patch;
    private final float[] patchBias, positions, postW, postB;
    private final Block[] blocks;
    private final long weightBytes;

    SiglipVisionTower(VisionWeights w, VisionConfig c) {
        this.c = c;
        VisionTensorNames n = c.names();
        int d = c.hidden(), ps = c.patchSize(), in = 3 * ps * ps;
        patch = w.flattened(n.patchWeight(), new long[]{ps, ps, 3, d}, in, d);
        patchBias = w.vector(n.patchBias(), d);
        positions = w.all(n.positions(), (long) c.patches() * d);
        long[] pd = w.dims(n.positions());
        if (pd.length != 2 || pd[0] != d) throw new IllegalArgumentException(n.positions() + ": rows of " + pd[0] + ", expected " + d);
        postW = w.vector(n.postNormWeight(), d);
        postB = w.vector(n.postNormBias(), d);
        blocks = new Block[c.layers()];
        long bytes = patch.data().byteSize() + 4L * (positions.length + 4L * d);
        for (int l = 0; l < c.layers(); l++) {
            // fc1 widens to ffn, fc2 narrows back; the names differ by layout, the shapes do not
            Block b = new Block(
                    w.vector(n.block(l, n.ln1(), "weight"), d), w.vector(n.block(l, n.ln1(), "bias"), d),
                    w.matrix(n.block(l, n.q(), "weight"), d, d), w.matrix(n.block(l, n.k(), "weight"), d, d),
                    w.matrix(n.block(l, n.v(), "weight"), d, d), w.matrix(n.block(l, n.o(), "weight"), d, d),
                    w.vector(n.block(l, n.q(), "bias"), d), w.vector(n.block(l, n.k(), "bias"), d),
                    w.vector(n.block(l, n.v(), "bias"), d), w.vector(n.block(l, n.o(), "bias"), d),
                    w.vector(n.block(l, n.ln2(), "weight"), d), w.vector(n.block(l, n.ln2(), "bias"), d),
                    w.matrix(n.block(l, n.fc1(), "weight"), d, c.ffn()), w.matrix(n.block(l, n.fc2(), "weight"), c.ffn(), d),
                    w.vector(n.block(l, n.fc1(), "bias"), c.ffn()), w.vector(n.block(l, n.fc2(), "bias"), d));
            blocks[l] = b;
            for (WeightMatrix m : new WeightMatrix[]{b.q, b.k, b.v, b.o, b.fc1, b.fc2}) bytes += m.data().byteSize();
            bytes += 4L * (9L * d + c.ffn());
        }
        weightBytes = bytes;
    }

    public VisionConfig config() {
        return c;
    }

    /** Bytes of weights the tower reads (mapped matrices plus the vectors it copies). */
    public long weightBytes() {
        return weightBytes;
    }

    /** Floats of scratch {@link #forward} allocates for one image (for a memory estimate). */
    public static long scratchFloats(VisionConfig c) {
        long p = c.patches();
        int hdPad = (c.headDim() + 15) / 16 * 16;
        // + the attention's transposed keys and padded values
        return p * (3L * c.patchSize() * c.patchSize()) + p * (7L * c.hidden() + c.ffn()) + (p + 64) * c.hidden() + p * c.heads() * (long) hdPad;
    }

    /**
     * Encodes one image: {@code pixels[off ..]} holds its normalised values [3 × S × S] (channel-first, as HF's
     * pixel_values). Returns the post-LayerNorm hidden states [P × hidden], patches in row-major grid order.
     */
    public float[] forward(float[] pixels, int off, MatMul mm, ThreadPool pool) {
        final int P = c.patches(), d = c.hidden(), heads = c.heads(), hd = c.headDim(), ffn = c.ffn();
        float[] x = new float[P * d], xn = new float[P * d];
        float[] q = new float[P * d], k = new float[P * d], v = new float[P * d], att = new float[P * d];
        float[] h = new float[P * ffn];
        float[][] qkv = {q, k, v};

        embedPatches(pixels, off, x, mm, pool);
        DenseAttention attention = new DenseAttention(P, heads, hd, pool.threads());
        final float scale = (float) (1.0 / Math.sqrt(hd));
        for (Block b : blocks) {
            layerNorm(pool, x, xn, P, d, b.ln1W, b.ln1B, c.eps());
            blocked(mm, pool, b.qkv(), xn, P, qkv);
            pool.parallelFor(P, (r0, r1, worker) -> {
                for (int r = r0; r < r1; r++) {
                    addBias(q, r * d, b.qB, d);
                    VectorOps.scale(q, r * d, d, scale);
                    addBias(k, r * d, b.kB, d);
                    addBias(v, r * d, b.vB, d);
                }
            });
            attention.attend(pool, q, k, v, att);
            blocked(mm, pool, new WeightMatrix[]{b.o}, att, P, new float[][]{xn});
            addBiasResidual(pool, x, xn, b.oB, P, d);

            layerNorm(pool, x, xn, P, d, b.ln2W, b.ln2B, c.eps());
            blocked(mm, pool, new WeightMatrix[]{b.fc1}, xn, P, new float[][]{h});
            pool.parallelFor(P, (r0, r1, worker) -> {
                for (int r = r0; r < r1; r++) {
                    addBias(h, r * ffn, b.fc1B, ffn);
                    Ops.geluVector(h, r * ffn, ffn);
                }
            });
            blocked(mm, pool, new WeightMatrix[]{b.fc2}, h, P, new float[][]{xn});
            addBiasResidual(pool, x, xn, b.fc2B, P, d);
        }
        layerNorm(pool, x, x, P, d, postW, postB, c.eps());
        return x;
    }

    /**
     * HF SiglipVisionEmbeddings: the stride-patch convolution is one matmul of the kernel [hidden × 3·p·p] with the
     * unfolded patches [P × 3·p·p] (each patch's values in (channel, ky, kx) order, the kernel's own order), then the
     * bias and the learned position embedding of each patch.
     */
    private void embedPatches(float[] pixels, int off, float[] x, MatMul mm, ThreadPool pool) {
        final int S = c.imageSize(), ps = c.patchSize(), side = c.patchesPerSide(), in = 3 * ps * ps, d = c.hidden();
        if (pixels.length - off < 3L * S * S) throw new IllegalArgumentException("pixel values: " + (pixels.length - off) + " floats, expected 3×" + S + "×" + S);
        float[] unfolded = new float[c.patches() * in];
        for (int py = 0; py < side; py++) {
            for (int px = 0; px < side; px++) {
                int o = (py * side + px) * in;
                for (int ch = 0; ch < 3; ch++) {
                    for (int ky = 0; ky < ps; ky++) {
                        System.arraycopy(pixels, off + ch * S * S + (py * ps + ky) * S + px * ps, unfolded, o, ps);
                        o += ps;
                    }
                }
            }
        }
        blocked(mm, pool, new WeightMatrix[]{patch}, unfolded, c.patches(), new float[][]{x});
        for (int p = 0; p < c.patches(); p++) {
            addBias(x, p * d, patchBias, d);
            VectorOps.add(x, p * d, positions, p * d, d);
        }
    }

    /**
     * outs[i] = ws[i] · x for {@code rows} rows, {@link #PATCH_BLOCK} rows per call (copied in and out of block buffers:
     * the matmul takes whole arrays). Each row's result does not depend on the blocking (block sizes are multiples of the
     * GEMM's 4-row tiles).
     */
    static void blocked(MatMul mm, ThreadPool pool, WeightMatrix[] ws, float[] x, int rows, float[][] outs) {
        if (rows <= PATCH_BLOCK) {
            mm.matmul(ws, x, rows, outs, pool);
            return;
        }
        int in = ws[0].cols();
        float[] xb = new float[PATCH_BLOCK * in];
        float[][] ob = new float[ws.length][];
        for (int i = 0; i < ws.length; i++) ob[i] = new float[PATCH_BLOCK * ws[i].rows()];
        for (int r0 = 0; r0 < rows; r0 += PATCH_BLOCK) {
            int n = Math.min(PATCH_BLOCK, rows - r0);
            System.arraycopy(x, r0 * in, xb, 0, n * in);
            mm.matmul(ws, xb, n, ob, pool);
            for (int i = 0; i < ws.length; i++) System.arraycopy(ob[i], 0, outs[i], r0 * ws[i].rows(), n * ws[i].rows());
        }
    }

    /** HF nn.LayerNorm over each row: (x − mean) / sqrt(var + eps) · w + b (biased variance). */
    static void layerNorm(ThreadPool pool, float[] src, float[] dst, int rows, int n, float[] w, float[] b, float eps) {
        pool.parallelFor(rows, (r0, r1, worker) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * n;
                double sum = 0;
                for (int i = 0; i < n; i++) sum += src[o + i];
                double mean = sum / n, sq = 0;
                for (int i = 0; i < n; i++) {
                    double dv = src[o + i] - mean;
                    sq += dv * dv;
                }
                float inv = (float) (1.0 / Math.sqrt(sq / n + eps)), m = (float) mean;
                for (int i = 0; i < n; i++) dst[o + i] = (src[o + i] - m) * inv * w[i] + b[i];
            }
        });
    }

    private static void addBias(float[] x, int off, float[] bias, int n) {
        VectorOps.add(x, off, bias, 0, n);
    }

    /** x += y + bias, row by row (a linear layer's bias and the residual connection). */
    private static void addBiasResidual(ThreadPool pool, float[] x, float[] y, float[] bias, int rows, int n) {
        pool.parallelFor(rows, (r0, r1, worker) -> {
            for (int r = r0; r < r1; r++) {
                addBias(y, r * n, bias, n);
                VectorOps.add(x, r * n, y, r * n, n);
            }
        });
    }
}
