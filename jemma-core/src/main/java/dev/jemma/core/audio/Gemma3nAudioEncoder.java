package dev.jemma.core.audio;

import dev.jemma.core.media3n.MmprojWeights;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;

import static dev.jemma.core.audio.AudioEncoderConfig.CHUNK;
import static dev.jemma.core.audio.AudioEncoderConfig.CONTEXT_LEFT;
import static dev.jemma.core.audio.AudioEncoderConfig.EPS;
import static dev.jemma.core.audio.AudioEncoderConfig.GRADIENT_CLIP;
import static dev.jemma.core.audio.AudioEncoderConfig.GROUP_NORM_EPS;
import static dev.jemma.core.audio.AudioEncoderConfig.LOGIT_CAP;
import static dev.jemma.core.audio.AudioEncoderConfig.REDUCTION;
import static dev.jemma.core.audio.AudioEncoderConfig.RESIDUAL_WEIGHT;

/**
 * Gemma 3n's USM-style conformer (HF {@code Gemma3nAudioEncoder}), one clip at a time, D = width, T = frames:
 * <pre>
 *   sub-sample:  x = relu(cgn(conv3×3/2(mel)));  x = relu(cgn(conv3×3/2(x)));  x = W_in · flatten_{f,c}(x)   [T/4 × D]
 *   per block:   x = x + ½·post(ffn(pre(x)))                         ffn = W2 · silu(W1 ·)
 *                x = x + post(W_o · attention(pre(x)))               local: 12-frame chunks, 12 frames back, none ahead
 *                x = x + W_e · silu(norm(dwconv_causal(glu(W_s · pre(x)))))
 *                x = x + ½·post(ffn(pre(x)));   x = norm(x)
 *   out = x[::4]                                                     one token per 4 frames = 160 ms of audio
 * </pre>
 * cgn is HF's cumulative group norm (mean and variance over frequency and channels of all frames so far). Attention
 * logits are q·k + q·P(t − s), P the projected sinusoid of the relative distance (Transformer-XL style), capped by
 * 50·tanh(·/50); queries are scaled by softplus(per_dim_scale)/(√head_dim · ln 2). HF's clips at ±1e10 are kept so
 * the code reads like HF's; padding masks are not needed for one clip (HF pads at most 127 samples, less than a frame).
 * Immutable; safe for concurrent calls.
 */
public final class Gemma3nAudioEncoder {
    private record Block(float[] ffnPre, WeightMatrix[] ffnUp, WeightMatrix ffnDown, float[] ffnPost,
                         float[] attnPre, WeightMatrix[] qkv, float[] qScale, WeightMatrix posProj, WeightMatrix attnOut, float[] attnPost,
                         float[] convPre, WeightMatrix convStart, float[] dwKernel, float[] convNorm, WeightMatrix convEnd,
                         float[] ffn2Pre, WeightMatrix[] ffn2Up, WeightMatrix ffn2Down, float[] ffn2Post, float[] norm) {
    }

    private final AudioEncoderConfig cfg;
    private final WeightMatrix conv0, conv1, inputProj;
    private final float[] norm0, norm1;
    private final Block[] blocks;

    public Gemma3nAudioEncoder(MmprojWeights w, AudioEncoderConfig cfg) {
        this.cfg = cfg;
        final int d = cfg.hidden(), c0 = cfg.channels()[0], c1 = cfg.channels()[1], k = AudioEncoderConfig.SSCP_KERNEL;
        conv0 = w.flattened("a.conv1d.0.weight", new long[]{k, k, 1, c0}, k * k, c0);
        conv1 = w.flattened("a.conv1d.1.weight", new long[]{k, k, c0, c1}, k * k * c0, c1);
        norm0 = w.vector("a.conv1d.0.norm.weight", c0);
        norm1 = w.vector("a.conv1d.1.norm.weight", c1);
        inputProj = w.matrix("a.pre_encode.out.weight", cfg.freqOut(1) * c1, d);
        blocks = new Block[cfg.layers()];
        final int hd = cfg.headDim();
        // HF q_scale = head_dim^-0.5 / softplus(0), times softplus(per_dim_scale) per channel
        final double qs = 1.0 / Math.sqrt(hd) / Math.log(2.0);
        for (int l = 0; l < blocks.length; l++) {
            String p = "a.blk." + l + ".";
            float[] pds = w.vector(p + "per_dim_scale", hd), qScale = new float[hd];
            for (int i = 0; i < hd; i++) qScale[i] = (float) ((float) qs * softplus(pds[i]));
            int ffn = (int) w.dims(p + "ffn_up.weight")[1];
            blocks[l] = new Block(
                    w.vector(p + "ffn_norm.weight", d), new WeightMatrix[]{w.matrix(p + "ffn_up.weight", d, ffn)},
                    w.matrix(p + "ffn_down.weight", ffn, d), w.vector(p + "ffn_post_norm.weight", d),
                    w.vector(p + "ln1.weight", d),
                    new WeightMatrix[]{w.matrix(p + "attn_q.weight", d, d), w.matrix(p + "attn_k.weight", d, d), w.matrix(p + "attn_v.weight", d, d)},
                    qScale, w.matrix(p + "linear_pos.weight", d, d), w.matrix(p + "attn_out.weight", d, d), w.vector(p + "ln2.weight", d),
                    w.vector(p + "conv_norm.weight", d), w.matrix(p + "conv_pw1.weight", d, 2 * d),
                    w.all(p + "conv_dw.weight", new long[]{cfg.convKernel(), 1, d}), w.vector(p + "norm_conv.weight", d),
                    w.matrix(p + "conv_pw2.weight", d, d),
                    w.vector(p + "ffn_norm_1.weight", d), new WeightMatrix[]{w.matrix(p + "ffn_up_1.weight", d, ffn)},
                    w.matrix(p + "ffn_down_1.weight", ffn, d), w.vector(p + "ffn_post_norm_1.weight", d),
                    w.vector(p + "layer_pre_norm.weight", d));
        }
    }

    public AudioEncoderConfig config() {
        return cfg;
    }

    private static float softplus(float x) {
        return (float) Math.log1p(Math.exp(x));
    }

    /** Encoder output [tokens × D] for log-mel features [frames × melBins]. */
    public float[] encode(float[] mel, int frames, MatMul mm, ThreadPool pool) {
        if (mel.length != frames * cfg.melBins()) throw new IllegalArgumentException(mel.length + " features for " + frames + " frames of " + cfg.melBins());
        final int d = cfg.hidden();
        // sub-sampling: two strided convolutions, each followed by cumulative group norm and ReLU
        int t0 = AudioEncoderConfig.timeOut(frames), f0 = cfg.freqOut(0), c0 = cfg.channels()[0];
        float[] x0 = conv(mel, frames, cfg.melBins(), 1, conv0, t0, f0, mm, pool);
        cumulativeGroupNormRelu(x0, t0, f0 * c0, norm0, c0);
        int t1 = AudioEncoderConfig.timeOut(t0), f1 = cfg.freqOut(1), c1 = cfg.channels()[1];
        float[] x1 = conv(x0, t0, f0, c0, conv1, t1, f1, mm, pool);
        cumulativeGroupNormRelu(x1, t1, f1 * c1, norm1, c1);
        float[] x = new float[t1 * d];
        mm.matmul(inputProj, x1, t1, x, pool);

        Scratch s = new Scratch(t1, d, blocks.length == 0 ? 0 : blocks[0].ffnDown().cols());
        for (Block b : blocks) block(b, x, t1, s, mm, pool);

        int tokens = (t1 + REDUCTION - 1) / REDUCTION;
        float[] out = new float[tokens * d];
        for (int i = 0; i < tokens; i++) System.arraycopy(x, i * REDUCTION * d, out, i * d, d);
        return out;
    }

    private static final class Scratch {
        final float[] h, q, k, v, att, proj, up, glu, pos, timing;

        Scratch(int t, int d, int ffn) {
            h = new float[t * d];
            q = new float[t * d];
            k = new float[t * d];
            v = new float[t * d];
            att = new float[t * d];
            proj = new float[t * d];
            up = new float[t * Math.max(ffn, 2 * d)];
            glu = new float[t * d];
            pos = new float[CONTEXT_LEFT * d];
            timing = new float[CONTEXT_LEFT * d];
        }
    }

    private void block(Block b, float[] x, int t, Scratch s, MatMul mm, ThreadPool pool) {
        final int d = cfg.hidden(), n = t * d;
        feedForward(x, t, b.ffnPre(), b.ffnUp(), b.ffnDown(), b.ffnPost(), s, mm, pool);

        // attention
        clipInto(x, s.h, n);
        rmsRows(s.h, t, d, b.attnPre());
        mm.matmul(b.qkv(), s.h, t, new float[][]{s.q, s.k, s.v}, pool);
        attention(b, t, s, mm, pool);
        mm.matmul(b.attnOut(), s.att, t, s.proj, pool);
        clip(s.proj, n);
        rmsRows(s.proj, t, d, b.attnPost());
        VectorOps.add(x, 0, s.proj, 0, n);

        // light convolution: glu(W_s · pre(x)) → causal depthwise conv → norm → silu → W_e, residual
        System.arraycopy(x, 0, s.h, 0, n);
        rmsRows(s.h, t, d, b.convPre());
        mm.matmul(b.convStart(), s.h, t, s.up, pool);
        for (int r = 0; r < t; r++) {
            for (int c = 0; c < d; c++) {
                float a = s.up[r * 2 * d + c], g = s.up[r * 2 * d + d + c];
                s.glu[r * d + c] = a * sigmoid(g);
            }
        }
        final int kw = cfg.convKernel();
        for (int r = 0; r < t; r++) {
            for (int c = 0; c < d; c++) {
                float acc = 0;
                for (int j = 0; j < kw; j++) {
                    int src = r - (kw - 1) + j;
                    if (src >= 0) acc += b.dwKernel()[c * kw + j] * s.glu[src * d + c];
                }
                s.h[r * d + c] = acc;
            }
        }
        clip(s.h, n);
        rmsRows(s.h, t, d, b.convNorm());
        for (int i = 0; i < n; i++) s.h[i] = silu(s.h[i]);
        mm.matmul(b.convEnd(), s.h, t, s.proj, pool);
        VectorOps.add(x, 0, s.proj, 0, n);

        feedForward(x, t, b.ffn2Pre(), b.ffn2Up(), b.ffn2Down(), b.ffn2Post(), s, mm, pool);
        clip(x, n);
        rmsRows(x, t, d, b.norm());
    }

    /** x += ½ · post(clip(W2 · silu(W1 · pre(clip(x))))). */
    private void feedForward(float[] x, int t, float[] pre, WeightMatrix[] up, WeightMatrix down, float[] post, Scratch s, MatMul mm,
                             ThreadPool pool) {
        final int d = cfg.hidden(), n = t * d, ffn = down.cols();
        clipInto(x, s.h, n);
        rmsRows(s.h, t, d, pre);
        mm.matmul(up, s.h, t, new float[][]{s.up}, pool);
        for (int i = 0; i < t * ffn; i++) s.up[i] = silu(s.up[i]);
        mm.matmul(down, s.up, t, s.proj, pool);
        clip(s.proj, n);
        rmsRows(s.proj, t, d, post);
        for (int i = 0; i < n; i++) x[i] += s.proj[i] * RESIDUAL_WEIGHT;
    }

    /**
     * HF Gemma3nAudioAttention for one clip: query t sees keys t−12 … t (its chunk's context, restricted by the local
     * causal mask; keys before the clip are padding, masked out), logits q·k + q·P(t−s) soft-capped, softmax, · v.
     */
    private void attention(Block b, int t, Scratch s, MatMul mm, ThreadPool pool) {
        final int d = cfg.hidden(), hd = cfg.headDim(), heads = cfg.heads(), span = CONTEXT_LEFT;
        // queries scaled per channel
        for (int r = 0; r < t; r++) {
            for (int h = 0; h < heads; h++) {
                int o = r * d + h * hd;
                for (int i = 0; i < hd; i++) s.q[o + i] *= b.qScale()[i];
            }
        }
        // P(rel) for rel = 0 … 12: pos_proj of [sin(rel·τ), cos(rel·τ)], τ_i = 1e4^(-i/(D/2 − 1))
        int half = d / 2;
        double inc = Math.log(1.0e4) / Math.max(half - 1, 1);
        for (int rel = 0; rel < span; rel++) {
            for (int i = 0; i < half; i++) {
                float inv = (float) Math.exp(i * -inc);
                float a = rel * inv;
                s.timing[rel * d + i] = (float) Math.sin(a);
                s.timing[rel * d + half + i] = (float) Math.cos(a);
            }
        }
        mm.matmul(b.posProj(), s.timing, span, s.pos, pool);
        final float[] logits = new float[span];
        for (int r = 0; r < t; r++) {
            int first = Math.max(0, r - (span - 1));
            for (int h = 0; h < heads; h++) {
                int qo = r * d + h * hd;
                float max = Float.NEGATIVE_INFINITY;
                for (int src = first; src <= r; src++) {
                    float l = VectorOps.dot(s.q, qo, s.k, src * d + h * hd, hd) + VectorOps.dot(s.q, qo, s.pos, (r - src) * d + h * hd, hd);
                    l = (float) Math.tanh(l / LOGIT_CAP) * LOGIT_CAP;
                    logits[src - first] = l;
                    max = Math.max(max, l);
                }
                double sum = 0;
                for (int j = 0; j <= r - first; j++) {
                    logits[j] = (float) Math.exp(logits[j] - max);
                    sum += logits[j];
                }
                int ao = r * d + h * hd;
                java.util.Arrays.fill(s.att, ao, ao + hd, 0f);
                for (int src = first; src <= r; src++) {
                    VectorOps.axpy((float) (logits[src - first] / sum), s.v, src * d + h * hd, s.att, ao, hd);
                }
            }
        }
    }

    /**
     * A 3×3, stride-2 convolution over [time × freq × cin] (channels innermost) with HF's manual padding (time: 0
     * before, 2 after; frequency: 1 each side), as one matmul over im2col patches ordered (cin, kh, kw) like the
     * kernel [cout][cin][kh][kw]. Output [tOut × fOut × cout].
     */
    private static float[] conv(float[] in, int tIn, int fIn, int cin, WeightMatrix w, int tOut, int fOut, MatMul mm, ThreadPool pool) {
        final int k = AudioEncoderConfig.SSCP_KERNEL, st = AudioEncoderConfig.SSCP_STRIDE, patch = cin * k * k, cout = w.rows();
        float[] out = new float[tOut * fOut * cout];
        // in slices of time rows so the patch matrix stays small
        int rowsPerSlice = Math.max(1, (1 << 20) / (fOut * patch));
        float[] patches = new float[Math.min(tOut, rowsPerSlice) * fOut * patch];
        float[] part = new float[Math.min(tOut, rowsPerSlice) * fOut * cout];
        for (int t0 = 0; t0 < tOut; t0 += rowsPerSlice) {
            int tn = Math.min(rowsPerSlice, tOut - t0);
            java.util.Arrays.fill(patches, 0, tn * fOut * patch, 0f);
            for (int tt = 0; tt < tn; tt++) {
                int t = t0 + tt;
                for (int f = 0; f < fOut; f++) {
                    int po = (tt * fOut + f) * patch;
                    for (int kh = 0; kh < k; kh++) {
                        int ti = t * st + kh;
                        if (ti >= tIn) continue;
                        for (int kw = 0; kw < k; kw++) {
                            int fi = f * st + kw - 1;
                            if (fi < 0 || fi >= fIn) continue;
                            int src = (ti * fIn + fi) * cin;
                            for (int c = 0; c < cin; c++) patches[po + (c * k + kh) * k + kw] = in[src + c];
                        }
                    }
                }
            }
            mm.matmul(w, patches, tn * fOut, part, pool);
            System.arraycopy(part, 0, out, t0 * fOut * cout, tn * fOut * cout);
        }
        return out;
    }

    /**
     * HF Gemma3nAudioCumulativeGroupNorm (one group, all frames valid) then ReLU, in place on [t × (features)] rows of
     * {@code width} values, channels innermost: frame t is normalised with the mean and variance of frames 0…t, the
     * variance summing each frame's squared deviations from its own cumulative mean, as HF computes it.
     */
    private static void cumulativeGroupNormRelu(float[] x, int t, int width, float[] scale, int channels) {
        double sum = 0, sq = 0;
        for (int r = 0; r < t; r++) {
            int o = r * width;
            for (int i = 0; i < width; i++) sum += x[o + i];
            double count = (double) (r + 1) * width, mean = sum / count;
            for (int i = 0; i < width; i++) {
                double dv = x[o + i] - mean;
                sq += dv * dv;
            }
            double inv = 1.0 / Math.sqrt(sq / count + GROUP_NORM_EPS);
            for (int i = 0; i < width; i++) {
                float y = (float) ((x[o + i] - mean) * inv) * scale[i % channels];
                x[o + i] = Math.max(0f, y);
            }
        }
    }

    private static void rmsRows(float[] x, int t, int d, float[] w) {
        for (int r = 0; r < t; r++) VectorOps.rmsNorm(x, r * d, d, w, EPS);
    }

    private static void clip(float[] x, int n) {
        for (int i = 0; i < n; i++) x[i] = Math.max(-GRADIENT_CLIP, Math.min(GRADIENT_CLIP, x[i]));
    }

    private static void clipInto(float[] x, float[] out, int n) {
        for (int i = 0; i < n; i++) out[i] = Math.max(-GRADIENT_CLIP, Math.min(GRADIENT_CLIP, x[i]));
    }

    private static float sigmoid(float x) {
        return (float) (1.0 / (1.0 + Math.exp(-x)));
    }

    private static float silu(float x) {
        return x * sigmoid(x);
    }
}
