package dev.jemma.core.mobilenet;

import dev.jemma.core.model.Ops;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The image operations MobileNet-V5 is made of, over {@link FeatureMap}s: convolutions with timm's "same" padding,
 * RmsNorm2d, GELU, nearest upsampling and average pooling. Dense convolutions run as matmuls on the given
 * {@link MatMul} (a 1×1 convolution directly, a k×k one over unfolded patches), so the encoder uses the text model's
 * kernels; the depthwise convolution is its own vector loop over the channels of a pixel.
 */
public final class Conv2d {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Unfolded patches are built and multiplied this many floats at a time, so a large layer needs no huge buffer. */
    private static final int UNFOLD_CHUNK_FLOATS = 1 << 22;

    private Conv2d() {
    }

    /** Output side of a "same" convolution: ceil(in / stride). */
    public static int outSize(int in, int stride) {
        return (in + stride - 1) / stride;
    }

    /**
     * Padding before the input (top or left) of timm's "same" convolution (Conv2dSame / TF "SAME"): the total
     * max((out − 1)·stride + k − in, 0) is split with the odd one after, so a stride-2 layer on an even side pads
     * only at the bottom/right for k = 3. For stride 1 and odd k this is the symmetric (k − 1) / 2 timm uses there.
     */
    public static int padBefore(int in, int k, int stride) {
        int total = Math.max((outSize(in, stride) - 1) * stride + k - in, 0);
        return total / 2;
    }

    /** 1×1 convolution without bias: out[p] = W · x[p] for every pixel, W [out channels × in channels]. */
    public static FeatureMap pointwise(WeightMatrix w, FeatureMap x, MatMul mm, ThreadPool pool) {
        if (w.cols() != x.channels()) {
            throw new IllegalArgumentException(w.name() + ": " + w.cols() + " input channels, the feature map has " + x.channels());
        }
        FeatureMap out = FeatureMap.zeros(x.height(), x.width(), w.rows());
        mm.matmul(w, x.data(), x.pixels(), out.data(), pool);
        return out;
    }

    /**
     * A dense k×k convolution with "same" padding: W is [out channels × (in channels · k · k)], each row in torch's
     * (channel, ky, kx) order; the input's patches are unfolded in that order (zeros outside the image) and multiplied
     * with W, a band of output rows at a time. {@code bias} may be null.
     */
    public static FeatureMap full(WeightMatrix w, int k, int stride, float[] bias, FeatureMap x, MatMul mm, ThreadPool pool) {
        final int cin = x.channels(), cols = cin * k * k, cout = w.rows();
        if (w.cols() != cols) throw new IllegalArgumentException(w.name() + ": rows of " + w.cols() + " weights, expected " + cin + "×" + k + "×" + k);
        final int oh = outSize(x.height(), stride), ow = outSize(x.width(), stride);
        final int pt = padBefore(x.height(), k, stride), pl = padBefore(x.width(), k, stride);
        FeatureMap out = FeatureMap.zeros(oh, ow, cout);
        int band = Math.max(1, Math.min(oh, UNFOLD_CHUNK_FLOATS / Math.max(1, ow * cols)));
        float[] patches = new float[band * ow * cols], part = new float[band * ow * cout];
        final float[] in = x.data();
        final int ih = x.height(), iw = x.width();
        for (int y0 = 0; y0 < oh; y0 += band) {
            final int rows = Math.min(band, oh - y0), base = y0;
            pool.parallelFor(rows * ow, (p0, p1, worker) -> {
                for (int p = p0; p < p1; p++) {
                    int oy = base + p / ow, ox = p % ow, o = p * cols;
                    for (int c = 0; c < cin; c++) {
                        for (int ky = 0; ky < k; ky++) {
                            int iy = oy * stride - pt + ky;
                            for (int kx = 0; kx < k; kx++, o++) {
                                int ix = ox * stride - pl + kx;
                                patches[o] = iy < 0 || iy >= ih || ix < 0 || ix >= iw ? 0f : in[(iy * iw + ix) * cin + c];
                            }
                        }
                    }
                }
            });
            mm.matmul(w, patches, rows * ow, part, pool);
            System.arraycopy(part, 0, out.data(), y0 * ow * cout, rows * ow * cout);
        }
        if (bias != null) {
            float[] d = out.data();
            pool.parallelFor(out.pixels(), (p0, p1, worker) -> {
                for (int p = p0; p < p1; p++) VectorOps.add(d, p * cout, bias, 0, cout);
            });
        }
        return out;
    }

    /**
     * Depthwise k×k convolution (groups = channels, no bias) with "same" padding. {@code taps} holds the kernel tap by
     * tap: taps[(ky·k + kx)·C + c], so a tap's weights for all channels are contiguous like a pixel's values.
     */
    public static FeatureMap depthwise(float[] taps, int k, int stride, FeatureMap x, ThreadPool pool) {
        final int C = x.channels(), ih = x.height(), iw = x.width();
        if (taps.length != k * k * C) throw new IllegalArgumentException("depthwise kernel of " + taps.length + " weights for " + k + "×" + k + "×" + C);
        final int oh = outSize(ih, stride), ow = outSize(iw, stride);
        final int pt = padBefore(ih, k, stride), pl = padBefore(iw, k, stride);
        FeatureMap out = FeatureMap.zeros(oh, ow, C);
        final float[] in = x.data(), o = out.data();
        final int step = F.length(), vecEnd = C - C % step;
        pool.parallelFor(oh, (y0, y1, worker) -> {
            for (int oy = y0; oy < y1; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    int dst = (oy * ow + ox) * C;
                    for (int ky = 0; ky < k; ky++) {
                        int iy = oy * stride - pt + ky;
                        if (iy < 0 || iy >= ih) continue;
                        for (int kx = 0; kx < k; kx++) {
                            int ix = ox * stride - pl + kx;
                            if (ix < 0 || ix >= iw) continue;
                            int src = (iy * iw + ix) * C, t = (ky * k + kx) * C, c = 0;
                            for (; c < vecEnd; c += step) {
                                FloatVector acc = FloatVector.fromArray(F, o, dst + c);
                                FloatVector.fromArray(F, in, src + c).fma(FloatVector.fromArray(F, taps, t + c), acc).intoArray(o, dst + c);
                            }
                            for (; c < C; c++) o[dst + c] = Math.fma(in[src + c], taps[t + c], o[dst + c]);
                        }
                    }
                }
            }
        });
        return out;
    }

    /**
     * timm RmsNorm2d over the channels of every pixel, in place: x · rsqrt(mean_c(x²) + eps) · w; then GELU (tanh
     * approximation, timm's {@code nn.GELU(approximate='tanh')}) when {@code gelu}.
     */
    public static void rmsNorm(FeatureMap x, float[] w, float eps, boolean gelu, ThreadPool pool) {
        final int C = x.channels();
        if (w.length != C) throw new IllegalArgumentException("norm of " + w.length + " weights over " + C + " channels");
        final float[] d = x.data();
        pool.parallelFor(x.pixels(), (p0, p1, worker) -> {
            for (int p = p0; p < p1; p++) {
                VectorOps.rmsNorm(d, p * C, C, w, eps);
                if (gelu) Ops.geluVector(d, p * C, C);
            }
        });
    }

    /** x · gamma per channel, in place (timm LayerScale2d). */
    public static void scaleChannels(FeatureMap x, float[] gamma, ThreadPool pool) {
        final int C = x.channels();
        final float[] d = x.data();
        pool.parallelFor(x.pixels(), (p0, p1, worker) -> {
            for (int p = p0; p < p1; p++) {
                int o = p * C;
                for (int c = 0; c < C; c++) d[o + c] *= gamma[c];
            }
        });
    }

    /** y += x (the residual connection). */
    public static void addInPlace(FeatureMap y, FeatureMap x) {
        VectorOps.add(y.data(), 0, x.data(), 0, y.data().length);
    }

    /** Nearest-neighbour resize to h × w (torch F.interpolate mode='nearest': source index floor(dst · in / out)). */
    public static FeatureMap nearest(FeatureMap x, int h, int w) {
        int C = x.channels();
        FeatureMap out = FeatureMap.zeros(h, w, C);
        for (int oy = 0; oy < h; oy++) {
            int iy = (int) ((long) oy * x.height() / h);
            for (int ox = 0; ox < w; ox++) {
                int ix = (int) ((long) ox * x.width() / w);
                System.arraycopy(x.data(), (iy * x.width() + ix) * C, out.data(), (oy * w + ox) * C, C);
            }
        }
        return out;
    }

    /** Feature maps of one size side by side along the channels (torch.cat(dim=1)). */
    public static FeatureMap concatChannels(FeatureMap... maps) {
        int h = maps[0].height(), w = maps[0].width(), total = 0;
        for (FeatureMap m : maps) {
            if (m.height() != h || m.width() != w) throw new IllegalArgumentException("concatenating " + m.height() + "×" + m.width() + " with " + h + "×" + w);
            total += m.channels();
        }
        FeatureMap out = FeatureMap.zeros(h, w, total);
        for (int p = 0; p < h * w; p++) {
            int at = p * total;
            for (FeatureMap m : maps) {
                System.arraycopy(m.data(), p * m.channels(), out.data(), at, m.channels());
                at += m.channels();
            }
        }
        return out;
    }

    /** Average pooling with a square window of side {@code s} and stride {@code s} (torch F.avg_pool2d, no padding). */
    public static FeatureMap avgPool(FeatureMap x, int s) {
        int C = x.channels(), oh = x.height() / s, ow = x.width() / s;
        FeatureMap out = FeatureMap.zeros(oh, ow, C);
        float inv = 1f / (s * s);
        float[] acc = new float[C];
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                java.util.Arrays.fill(acc, 0f);
                for (int dy = 0; dy < s; dy++) {
                    for (int dx = 0; dx < s; dx++) VectorOps.add(acc, 0, x.data(), ((oy * s + dy) * x.width() + ox * s + dx) * C, C);
                }
                int o = (oy * ow + ox) * C;
                for (int c = 0; c < C; c++) out.data()[o + c] = acc[c] * inv;
            }
        }
        return out;
    }
}
