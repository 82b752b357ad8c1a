package dev.jemma.core.mobilenet;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.attention.DenseAttention;

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
 * Both attention products run on {@link DenseAttention}, the image encoders' shared kernel, with one key/value head.
 */
public record MobileAttention(float[] norm, WeightMatrix query, ConvNorm.Depthwise keyDown, WeightMatrix key,
                              ConvNorm.Depthwise valueDown, WeightMatrix value, WeightMatrix output, float[] layerScale,
                              int heads, int inChannels) implements MobileNetBlock {
    public MobileAttention {
        if (value.rows() != key.rows()) throw new IllegalArgumentException(value.name() + ": values of " + value.rows() + " for keys of " + key.rows() + " (MobileNet-V5's are equal)");
        if (query.rows() != heads * key.rows()) throw new IllegalArgumentException(query.name() + ": " + query.rows() + " rows for " + heads + " heads of " + key.rows());
    }

    @Override
    public FeatureMap forward(FeatureMap x, float eps, MatMul mm, ThreadPool pool) {
        FeatureMap h = new FeatureMap(x.data().clone(), x.height(), x.width(), x.channels());
        Conv2d.rmsNorm(h, norm, eps, false, pool);
        FeatureMap q = Conv2d.pointwise(query, h, mm, pool);
        FeatureMap k = Conv2d.pointwise(key, keyDown == null ? h : keyDown.apply(h, eps, mm, pool), mm, pool);
        FeatureMap v = Conv2d.pointwise(value, valueDown == null ? h : valueDown.apply(h, eps, mm, pool), mm, pool);
        FeatureMap o = attend(q, k, v, pool);
        FeatureMap y = Conv2d.pointwise(output, o, mm, pool);
        if (layerScale != null) Conv2d.scaleChannels(y, layerScale, pool);
        if (inChannels == outChannels()) Conv2d.addInPlace(y, x);
        return y;
    }

    /** Every query head of every pixel over the shared keys and values, on {@link DenseAttention} (one key/value head). */
    FeatureMap attend(FeatureMap q, FeatureMap k, FeatureMap v, ThreadPool pool) {
        final int d = k.channels();
        float[] qs = q.data().clone();
        VectorOps.scale(qs, 0, qs.length, (float) (1.0 / Math.sqrt(d)));
        FeatureMap out = FeatureMap.zeros(q.height(), q.width(), heads * v.channels());
        new DenseAttention(q.pixels(), k.pixels(), heads, 1, d, pool.threads()).attend(pool, qs, k.data(), v.data(), out.data());
        return out;
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
