package dev.jemma.core.audio;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.media3n.MmprojWeights;

/**
 * Shape of Gemma 3n's conformer audio encoder (HF {@code Gemma3nAudioConfig}). Widths and counts come from the mmproj's
 * tensors and {@code clip.audio.*} keys; what llama.cpp's converter does not write (the attention chunking, the
 * reduction, the caps, the epsilons) is HF's value, which every Gemma 3n checkpoint uses. The converter's
 * {@code clip.audio.feed_forward_length} and {@code clip.audio.attention.layer_norm_epsilon} are not HF's (it writes
 * 6144 and 1e-5 whatever the model), so they are not read.
 *
 * @param hidden     conformer width (1536 in E2B/E4B)
 * @param heads      attention heads (8)
 * @param layers     conformer blocks (12)
 * @param channels   output channels of the two sub-sampling convolutions ([128, 32])
 * @param melBins    input features per frame (128)
 * @param convKernel the light convolution's depthwise kernel (5)
 */
public record AudioEncoderConfig(int hidden, int heads, int layers, int[] channels, int melBins, int convKernel) {
    /** HF conf_attention_chunk_size: queries attend in blocks of this many frames. */
    public static final int CHUNK = 12;
    /** HF conf_attention_context_left (self included) and _right. */
    public static final int CONTEXT_LEFT = 13, CONTEXT_RIGHT = 0;
    /** HF conf_reduction_factor: one output token per this many sub-sampled frames. */
    public static final int REDUCTION = 4;
    public static final float LOGIT_CAP = 50f, RESIDUAL_WEIGHT = 0.5f, GRADIENT_CLIP = 1e10f, EPS = 1e-6f, GROUP_NORM_EPS = 1e-3f;
    /** HF sscp_conv_kernel_size / stride: 3×3, stride 2 in time and frequency, for both convolutions. */
    public static final int SSCP_KERNEL = 3, SSCP_STRIDE = 2;

    public AudioEncoderConfig {
        if (hidden <= 0 || heads <= 0 || hidden % heads != 0) throw new IllegalArgumentException("audio width " + hidden + " does not split into " + heads + " heads");
        if (layers <= 0 || layers > 256) throw new IllegalArgumentException("audio block count " + layers);
        if (channels.length != 2 || channels[0] <= 0 || channels[1] <= 0) throw new IllegalArgumentException("sub-sampling channels");
        if (melBins <= 0 || convKernel <= 0 || convKernel > 64) throw new IllegalArgumentException("mel bins / conv kernel");
    }

    public int headDim() {
        return hidden / heads;
    }

    /** Frequency width after each sub-sampling convolution (padding 1 on both sides, kernel 3, stride 2). */
    public int freqOut(int conv) {
        int f = melBins;
        for (int i = 0; i <= conv; i++) f = (f + 2 - SSCP_KERNEL) / SSCP_STRIDE + 1;
        return f;
    }

    /** Time steps after a sub-sampling convolution (padding 0 before, 2 after). */
    static int timeOut(int t) {
        return (t + 2 - SSCP_KERNEL) / SSCP_STRIDE + 1;
    }

    /** Tokens the encoder makes of {@code frames} feature frames (HF: 188 for 30 s). */
    public static int tokens(int frames) {
        int t = timeOut(timeOut(frames));
        return (t + REDUCTION - 1) / REDUCTION;
    }

    /** Reads the shape from an mmproj's audio tensors and keys (or a single-file model's: {@link Gemma3nMmproj#key}). */
    public static AudioEncoderConfig read(GgufFile f) {
        MmprojWeights w = new MmprojWeights(f);
        String kHidden = Gemma3nMmproj.key(f, "clip.audio.embedding_length"), kHeads = Gemma3nMmproj.key(f, "clip.audio.attention.head_count"),
                kLayers = Gemma3nMmproj.key(f, "clip.audio.block_count");
        int hidden = f.getInt(kHidden, -1);
        int heads = f.getInt(kHeads, -1);
        int layers = f.getInt(kLayers, -1);
        int mel = f.getInt(Gemma3nMmproj.key(f, "clip.audio.num_mel_bins"), 128);
        if (hidden <= 0) throw f.error(kHidden + ": missing or not positive");
        if (heads <= 0) throw f.error(kHeads + ": missing or not positive");
        if (layers <= 0) throw f.error(kLayers + ": missing or not positive");
        long[] c0 = w.dims("a.conv1d.0.weight"), c1 = w.dims("a.conv1d.1.weight"), dw = w.dims("a.blk.0.conv_dw.weight");
        if (c0.length != 4 || c1.length != 4 || dw.length != 3) throw f.error("a.conv1d.*.weight / a.blk.0.conv_dw.weight: unexpected rank");
        try {
            return new AudioEncoderConfig(hidden, heads, layers, new int[]{(int) c0[3], (int) c1[3]}, mel, (int) dw[0]);
        } catch (IllegalArgumentException e) {
            throw f.error(e.getMessage());
        }
    }
}
