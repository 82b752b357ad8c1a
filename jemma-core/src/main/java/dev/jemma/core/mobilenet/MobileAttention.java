package dev.jemma.core.mobilenet;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.media3n.MmprojWeights;

import java.util.List;
import java.util.function.UnaryOperator;

/**
 * timm MobileAttention with MultiQueryAttention2d, MobileNet-V5's attention blocks: every pixel queries with
 * {@code heads} heads one shared key and value per (optionally down-sampled) pixel.
 * <pre>
 *   h = norm(x)
 *   q = W_q h                                       [N pixels × heads·d]
 *   k = W_k norm_k(dw_k(h)),  v = W_v norm_v(dw_v(h))   [M pixels × d]; dw = depthwise k×k, stride kv_stride
 *                                                  (absent when kv_stride is 1: then M = N and k = W_k h)
 *   o_h = softmax(q_h kᵀ / √d) v                    per head, heads side by side [N × heads·d]
 *   out = x + gamma · W_o o
 * </pre>
 * Both attention products are matmuls on the given {@link MatMul} (k and vᵀ as f32 matrices), a band of query
 * pixels at a time.
 */
public record MobileAttention(float[] norm, WeightMatrix query, ConvNorm.Depthwise keyDown, WeightMatrix key,
                              ConvNorm.Depthwise valueDown, WeightMatrix value, WeightMatrix output, float[] layerScale,
                              int heads, int inChannels) implements MobileNetBlock {
    /** Score rows (query pixels × heads) of at most this many floats are held at once. */
    private static final int SCORE_CHUNK_FLOATS = 1 << 22;

    @Override
    public FeatureMap forward(FeatureMap x, float eps, MatMul mm, ThreadPool pool) {
        FeatureMap h = new FeatureMap(x.data().clone(), x.height(), x.width(), x.channels());
        Conv2d.rmsNorm(h, norm, eps, false, pool);
        FeatureMap q = Conv2d.pointwise(query, h, mm, pool);
        FeatureMap k = Conv2d.pointwise(key, keyDown == null ? h : keyDown.apply(h, eps, mm, pool), mm, pool);
        FeatureMap v = Conv2d.pointwise(value, valueDown == null ? h : valueDown.apply(h, eps, mm, pool), mm, pool);
        FeatureMap o = attend(q, k, v, mm, pool);
        FeatureMap y = Conv2d.pointwise(output, o, mm, pool);
        if (layerScale != null) Conv2d.scaleChannels(y, layerScale, pool);
        if (inChannels == outChannels()) Conv2d.addInPlace(y, x);
        return y;
    }

    FeatureMap attend(FeatureMap q, FeatureMap k, FeatureMap v, MatMul mm, ThreadPool pool) {
        final int n = q.pixels(), m = k.pixels(), d = k.channels(), dv = v.channels();
        final float scale = (float) (1.0 / Math.sqrt(d));
        // q rows are pixels of heads·d values: viewed as n·heads rows of d, each one query of one head
        float[] qs = q.data().clone();
        VectorOps.scale(qs, 0, qs.length, scale);
        WeightMatrix keys = MmprojWeights.f32("mqa.k", k.data(), m, d);
        float[] vt = new float[dv * m];
        for (int j = 0; j < m; j++) {
            for (int c = 0; c < dv; c++) vt[c * m + j] = v.data()[j * dv + c];
        }
        WeightMatrix valuesT = MmprojWeights.f32("mqa.vT", vt, dv, m);
        FeatureMap out = FeatureMap.zeros(q.height(), q.width(), heads * dv);
        int band = Math.max(1, Math.min(n, SCORE_CHUNK_FLOATS / (heads * m)));
        float[] scores = new float[band * heads * m], rowsOut = new float[band * heads * dv], qBand = new float[band * heads * d];
        for (int p0 = 0; p0 < n; p0 += band) {
            int pixels = Math.min(band, n - p0), rows = pixels * heads;
            System.arraycopy(qs, p0 * heads * d, qBand, 0, rows * d);
            mm.matmul(keys, qBand, rows, scores, pool);
            pool.parallelFor(rows, (r0, r1, worker) -> {
                for (int r = r0; r < r1; r++) softmax(scores, r * m, m);
            });
            mm.matmul(valuesT, scores, rows, rowsOut, pool);
            System.arraycopy(rowsOut, 0, out.data(), p0 * heads * dv, rows * dv);
        }
        return out;
    }

    private static void softmax(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        float sum = 0f;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        VectorOps.scale(x, off, n, 1f / sum);
    }

    @Override
    public int outChannels() {
        return output.rows();
    }

    public int keyDim() {
        return key.rows();
    }

    public int kvStride() {
        return keyDown == null ? 1 : keyDown.stride();
    }

    @Override
    public long weightBytes() {
        long b = query.data().byteSize() + key.data().byteSize() + value.data().byteSize() + output.data().byteSize()
                + 4L * norm.length + (layerScale == null ? 0 : 4L * layerScale.length);
        if (keyDown != null) b += keyDown.weightBytes() + valueDown.weightBytes();
        return b;
    }

    @Override
    public void matrices(List<WeightMatrix> out) {
        out.addAll(List.of(query, key, value, output));
    }

    @Override
    public MobileAttention attach(UnaryOperator<WeightMatrix> attach) {
        return new MobileAttention(norm, attach.apply(query), keyDown, attach.apply(key), valueDown, attach.apply(value),
                attach.apply(output), layerScale, heads, inChannels);
    }

    @Override
    public String describe() {
        return "mqa h" + heads + " d" + keyDim() + (keyDown == null ? "" : " kv_stride " + kvStride() + " (dw k" + keyDown.k() + ")")
                + " " + inChannels + "→" + outChannels();
    }
}
