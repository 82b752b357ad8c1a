package dev.jemma.core.mobilenet;

import dev.jemma.core.media3n.MmprojWeights;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.FastMatMul;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The convolutions against a direct NCHW loop written from torch's definition (zero padding of timm's get_same_padding:
 * total max((⌈i/s⌉ − 1)·s + k − i, 0), the smaller half first), on odd and even sides the fixture does not cover.
 */
class Conv2dTest {
    private static final ThreadPool POOL = new ThreadPool(2);

    @AfterAll
    static void close() {
        POOL.close();
    }

    private static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    /** out[o][y][x] = Σ_{c,ky,kx} w[o][c][ky][kx] · in[c][y·s − p + ky][x·s − p + kx] (groups = 1 or = channels). */
    private static float[] reference(float[] in, int c, int h, int w, float[] wt, int cout, int k, int s, boolean depthwise) {
        int oh = (h + s - 1) / s, ow = (w + s - 1) / s;
        int pt = Math.max((oh - 1) * s + k - h, 0) / 2, pl = Math.max((ow - 1) * s + k - w, 0) / 2;
        float[] out = new float[cout * oh * ow];
        for (int o = 0; o < cout; o++) {
            for (int y = 0; y < oh; y++) {
                for (int x = 0; x < ow; x++) {
                    double acc = 0;
                    for (int ci = depthwise ? o : 0; ci < (depthwise ? o + 1 : c); ci++) {
                        for (int ky = 0; ky < k; ky++) {
                            for (int kx = 0; kx < k; kx++) {
                                int iy = y * s - pt + ky, ix = x * s - pl + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                int wi = depthwise ? (o * k + ky) * k + kx : ((o * c + ci) * k + ky) * k + kx;
                                acc += wt[wi] * in[(ci * h + iy) * w + ix];
                            }
                        }
                    }
                    out[(o * oh + y) * ow + x] = (float) acc;
                }
            }
        }
        return out;
    }

    @ParameterizedTest
    @CsvSource({"7,9,3,2", "8,8,3,2", "9,6,5,2", "5,5,5,1", "6,7,3,1"})
    void denseAndDepthwiseMatchTorch(int h, int w, int k, int s) {
        Random r = new Random(h * 31 + w * 7 + k + s);
        int c = 5, cout = 6;
        float[] chw = random(r, c * h * w);
        FeatureMap x = FeatureMap.fromChannelFirst(chw, 0, c, h, w);
        for (MatMul mm : new MatMul[]{MatMul.EXACT, new FastMatMul()}) {
            float[] wt = random(r, cout * c * k * k);
            float[] got = Conv2d.full(MmprojWeights.f32("w", wt, cout, c * k * k), k, s, null, x, mm, POOL).toChannelFirst();
            float[] ref = reference(chw, c, h, w, wt, cout, k, s, false);
            for (int i = 0; i < ref.length; i++) assertThat(got[i]).as("dense %d", i).isCloseTo(ref[i], org.assertj.core.data.Offset.offset(1e-4f));
        }
        float[] dw = random(r, c * k * k), taps = new float[c * k * k];
        for (int ch = 0; ch < c; ch++) for (int t = 0; t < k * k; t++) taps[t * c + ch] = dw[ch * k * k + t];
        float[] got = Conv2d.depthwise(taps, k, s, x, POOL).toChannelFirst();
        float[] ref = reference(chw, c, h, w, dw, c, k, s, true);
        for (int i = 0; i < ref.length; i++) assertThat(got[i]).as("depthwise %d", i).isCloseTo(ref[i], org.assertj.core.data.Offset.offset(1e-5f));
    }

    @ParameterizedTest
    @CsvSource({"3,6", "4,12", "5,8"})
    void nearestUpsampleIsTorchs(int in, int out) {
        // torch F.interpolate(mode='nearest'): source index floor(dst · in / out)
        float[] v = new float[in * in];
        for (int i = 0; i < v.length; i++) v[i] = i;
        FeatureMap up = Conv2d.nearest(new FeatureMap(v, in, in, 1), out, out);
        for (int y = 0; y < out; y++) {
            for (int x = 0; x < out; x++) assertThat(up.data()[y * out + x]).isEqualTo((float) ((int) Math.floor(y * (double) in / out) * in + (int) Math.floor(x * (double) in / out)));
        }
    }
}
