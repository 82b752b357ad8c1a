package dev.jemma.core.mobilenet;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.media3n.MmprojWeights;
import dev.jemma.core.repack.RepackCache;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Gemma 3n's image encoder, timm's MobileNetV5Encoder ({@code mobilenetv5_300m_enc}), as HF's
 * {@code Gemma3nForConditionalGeneration.get_image_features} runs it (forward_features, no pooling):
 * <pre>
 *   x = gelu(norm(conv_stem_{3×3, stride 2}(pixels) + b))        pixels: [3 × S × S], x/255, no mean/std
 *   per stage s, per block: x = block(x)                          first block of a stage strides 2
 *       stage 0: EdgeResidual; later stages: UniversalInvertedResidual and MobileAttention (multi-query) blocks
 *   MSFA (multi-scale fusion adapter), over the outputs of the last two stages:
 *       f = concat(x₂, nearest_upsample(x₃ to x₂'s size))          along channels
 *       f = norm(pw_proj(gelu(norm(pw_exp(f)))))                     a UIR without depthwise convs or skip
 *       f = avg_pool(f to 16 × 16);  out = norm(f)                  [2048 × 16 × 16]
 * </pre>
 * Every norm is RmsNorm2d (eps from the file, 1e-6) over the channels of a pixel. The tower's output is returned as
 * 256 rows of 2048 (pixel-major, HF's {@code reshape(B, C, HW).permute(0, 2, 1)}), the rows that become soft tokens.
 *
 * <p>The mmproj file stores weights only: llama.cpp's {@code v.blk.<stage>.<block>.*} names give the stages and each
 * block's type (conv_exp: edge residual; attn.*: attention; else UIR), tensor shapes give kernels and widths, and the
 * strides follow MobileNet-V5's layout as llama.cpp's graph does: the first block of every stage strides 2, an
 * attention block with key/value down-convolutions has kv_stride 2.
 */
public final class MobileNetV5 {
    /** MSFA's output grid side (timm {@code msfa_output_resolution}; 16 × 16 = 256 soft tokens). */
    public static final int OUTPUT_RESOLUTION = 16;
    private static final Pattern BLOCK = Pattern.compile("v\\.blk\\.(\\d+)\\.(\\d+)\\..+");
    private static final String P = "v.";

    private final int imageSize;
    private final float eps;
    private final int stemK;
    private final WeightMatrix stemConv;
    private final float[] stemBias, stemNorm;
    private final MobileNetBlock[][] stages;
    private final UniversalInvertedResidual msfaFfn;
    private final float[] msfaNorm;
    private final long weightBytes, parameters;

    /** Whether the file holds a MobileNet-V5 tower (llama.cpp's {@code gemma3nv} names). */
    public static boolean present(GgufFile f) {
        return f.tensor(P + "conv_stem.conv.weight") != null && f.tensor(P + "msfa.norm.weight") != null;
    }

    /**
     * Reads the tower; {@code imageSize} is the side of the square input (clip.vision.image_size). Shape errors name
     * the tensor ({@link MmprojWeights}); a structure MobileNet-V5 does not have is an IllegalArgumentException.
     */
    public MobileNetV5(MmprojWeights w, int imageSize, float eps) {
        this.imageSize = imageSize;
        this.eps = eps;
        long[] sd = w.dims(P + "conv_stem.conv.weight");
        if (sd.length != 4 || sd[0] != sd[1] || sd[2] != 3) throw new IllegalArgumentException("v.conv_stem.conv.weight: shape " + java.util.Arrays.toString(sd) + ", expected [k, k, 3, channels]");
        stemK = (int) sd[0];
        int c = (int) sd[3];
        stemConv = w.flattened(P + "conv_stem.conv.weight", sd, 3 * stemK * stemK, c);
        stemBias = w.has(P + "conv_stem.conv.bias") ? w.vector(P + "conv_stem.conv.bias", c) : null;
        stemNorm = w.vector(P + "conv_stem.bn.weight", c);
        long bytes = stemConv.data().byteSize() + 8L * c;

        int[] blocksPerStage = layout(w.file());
        if (blocksPerStage.length < 2) throw new IllegalArgumentException("MobileNet-V5 with " + blocksPerStage.length + " stage(s): the fusion adapter needs the last two");
        stages = new MobileNetBlock[blocksPerStage.length][];
        int[] stageOut = new int[stages.length];
        for (int s = 0; s < stages.length; s++) {
            stages[s] = new MobileNetBlock[blocksPerStage[s]];
            for (int b = 0; b < stages[s].length; b++) {
                MobileNetBlock blk = block(w, P + "blk." + s + "." + b + ".", c, b == 0 ? 2 : 1);
                stages[s][b] = blk;
                bytes += blk.weightBytes();
                c = blk.outChannels();
            }
            stageOut[s] = c;
        }
        int fused = stageOut[stages.length - 2] + stageOut[stages.length - 1];
        ConvNorm.Pointwise exp = pointwise(w, P + "msfa.ffn.pw_exp.", fused, true);
        ConvNorm.Pointwise proj = pointwise(w, P + "msfa.ffn.pw_proj.", exp.outChannels(), false);
        msfaFfn = new UniversalInvertedResidual(null, exp, null, proj, null, fused, 1, true);
        msfaNorm = w.vector(P + "msfa.norm.weight", proj.outChannels());
        bytes += msfaFfn.weightBytes() + 4L * msfaNorm.length;
        weightBytes = bytes;
        long params = 0;
        for (String name : w.file().tensors().keySet()) if (name.startsWith(P)) params += w.file().tensor(name).elementCount();
        parameters = params;
        int high = fusionSide();
        if (high < OUTPUT_RESOLUTION || high % OUTPUT_RESOLUTION != 0) {
            throw new IllegalArgumentException("image size " + imageSize + " gives a " + high + "×" + high
                    + " fusion grid, which does not pool to " + OUTPUT_RESOLUTION + "×" + OUTPUT_RESOLUTION);
        }
    }

    /** The same tower reading every dense matrix through {@code attach}; norms, kernels and sizes shared. */
    private MobileNetV5(MobileNetV5 base, UnaryOperator<WeightMatrix> attach) {
        imageSize = base.imageSize;
        eps = base.eps;
        stemK = base.stemK;
        stemConv = attach.apply(base.stemConv);
        stemBias = base.stemBias;
        stemNorm = base.stemNorm;
        stages = new MobileNetBlock[base.stages.length][];
        for (int s = 0; s < stages.length; s++) {
            stages[s] = new MobileNetBlock[base.stages[s].length];
            for (int b = 0; b < stages[s].length; b++) stages[s][b] = base.stages[s][b].attach(attach);
        }
        msfaFfn = base.msfaFfn.attach(attach);
        msfaNorm = base.msfaNorm;
        weightBytes = base.weightBytes;
        parameters = base.parameters;
    }

    /** Every dense weight matrix of the tower (stem, 1×1 and k×k convolutions, attention projections, fusion). */
    public List<WeightMatrix> matrices() {
        List<WeightMatrix> out = new ArrayList<>();
        out.add(stemConv);
        for (MobileNetBlock[] stage : stages) for (MobileNetBlock b : stage) b.matrices(out);
        msfaFfn.matrices(out);
        return out;
    }

    /**
     * This tower with its matrices' {@link dev.jemma.core.tensor.kernels.Interleaved} copies from {@code repacked}
     * (those it holds), so the default-mode matmul runs them on the tiled F16 GEMM; the same numbers as before.
     */
    public MobileNetV5 attach(RepackCache repacked) {
        return new MobileNetV5(this, repacked::attach);
    }

    /** Blocks per stage, from the {@code v.blk.<stage>.<block>.*} names (stages and blocks numbered without gaps). */
    private static int[] layout(GgufFile f) {
        TreeMap<Integer, Integer> blocks = new TreeMap<>();
        for (String name : f.tensors().keySet()) {
            Matcher m = BLOCK.matcher(name);
            if (!m.matches()) continue;
            int s = Integer.parseInt(m.group(1)), b = Integer.parseInt(m.group(2));
            if (s > 64 || b > 1024) throw f.error("tensor " + name + ": stage or block index out of range");
            blocks.merge(s, b + 1, Math::max);
        }
        int[] out = new int[blocks.size()];
        for (int s = 0; s < out.length; s++) {
            Integer n = blocks.get(s);
            if (n == null) throw f.error("MobileNet-V5 tensors: stage " + s + " has no v.blk." + s + ".* tensors");
            out[s] = n;
        }
        return out;
    }

    private static MobileNetBlock block(MmprojWeights w, String p, int in, int stride) {
        if (w.has(p + "conv_exp.weight")) {
            long[] d = w.dims(p + "conv_exp.weight");
            if (d.length != 4 || d[0] != d[1] || d[2] != in) throw new IllegalArgumentException(p + "conv_exp.weight: shape " + java.util.Arrays.toString(d) + ", expected [k, k, " + in + ", mid]");
            int k = (int) d[0], mid = (int) d[3];
            WeightMatrix exp = w.flattened(p + "conv_exp.weight", d, in * k * k, mid);
            float[] bn1 = w.vector(p + "bn1.weight", mid);
            WeightMatrix pwl = pointwiseWeight(w, p + "conv_pwl.weight", mid);
            return new EdgeResidual(exp, k, stride, bn1, pwl, w.vector(p + "bn2.weight", pwl.rows()), in);
        }
        float[] gamma = null;
        if (w.has(p + "attn.query.proj.weight")) {
            float[] norm = w.vector(p + "norm.weight", in);
            WeightMatrix q = pointwiseWeight(w, p + "attn.query.proj.weight", in);
            ConvNorm.Depthwise kd = w.has(p + "attn.key.down_conv.weight") ? depthwise(w, p + "attn.key.down_conv.weight", p + "attn.key.norm.weight", in, 2, false) : null;
            ConvNorm.Depthwise vd = w.has(p + "attn.value.down_conv.weight") ? depthwise(w, p + "attn.value.down_conv.weight", p + "attn.value.norm.weight", in, 2, false) : null;
            if ((kd == null) != (vd == null)) throw new IllegalArgumentException(p + "attn: keys and values must both be down-sampled or neither");
            WeightMatrix k = pointwiseWeight(w, p + "attn.key.proj.weight", in);
            WeightMatrix v = pointwiseWeight(w, p + "attn.value.proj.weight", in);
            if (q.rows() % k.rows() != 0) throw new IllegalArgumentException(p + "attn: query width " + q.rows() + " is not a multiple of the key width " + k.rows());
            int heads = q.rows() / k.rows();
            WeightMatrix o = pointwiseWeight(w, p + "attn.output.proj.weight", heads * v.rows());
            if (w.has(p + "layer_scale.gamma")) gamma = w.vector(p + "layer_scale.gamma", o.rows());
            return new MobileAttention(norm, q, kd, k, vd, v, o, gamma, heads, in);
        }
        ConvNorm.Depthwise start = null, mid = null;
        boolean hasMid = w.has(p + "dw_mid.conv.weight");
        if (w.has(p + "dw_start.conv.weight")) start = depthwise(w, p + "dw_start.conv.weight", p + "dw_start.bn.weight", in, hasMid ? 1 : stride, false);
        ConvNorm.Pointwise exp = pointwise(w, p + "pw_exp.", in, true);
        if (hasMid) mid = depthwise(w, p + "dw_mid.conv.weight", p + "dw_mid.bn.weight", exp.outChannels(), stride, true);
        if (stride > 1 && start == null && mid == null) throw new IllegalArgumentException(p + ": the first block of a stage needs a depthwise convolution to stride with");
        ConvNorm.Pointwise proj = pointwise(w, p + "pw_proj.", exp.outChannels(), false);
        if (w.has(p + "layer_scale.gamma")) gamma = w.vector(p + "layer_scale.gamma", proj.outChannels());
        return new UniversalInvertedResidual(start, exp, mid, proj, gamma, in, stride, false);
    }

    /** A 1×1 convolution's weight [1, 1, in, out] as a matrix of out rows. */
    private static WeightMatrix pointwiseWeight(MmprojWeights w, String name, int in) {
        long[] d = w.dims(name);
        if (d.length != 4 || d[0] != 1 || d[1] != 1 || d[2] != in) throw new IllegalArgumentException(name + ": shape " + java.util.Arrays.toString(d) + ", expected [1, 1, " + in + ", out]");
        return w.flattened(name, d, in, (int) d[3]);
    }

    private static ConvNorm.Pointwise pointwise(MmprojWeights w, String p, int in, boolean gelu) {
        WeightMatrix m = pointwiseWeight(w, p + "conv.weight", in);
        return new ConvNorm.Pointwise(m, w.vector(p + "bn.weight", m.rows()), gelu);
    }

    /** A depthwise kernel [k, k, 1, C] (torch [C, 1, k, k]) re-laid tap by tap for {@link Conv2d#depthwise}. */
    private static ConvNorm.Depthwise depthwise(MmprojWeights w, String name, String norm, int c, int stride, boolean gelu) {
        long[] d = w.dims(name);
        if (d.length != 4 || d[0] != d[1] || d[2] != 1 || d[3] != c) throw new IllegalArgumentException(name + ": shape " + java.util.Arrays.toString(d) + ", expected [k, k, 1, " + c + "]");
        int k = (int) d[0];
        float[] byChannel = w.all(name, d), taps = new float[k * k * c];
        for (int ch = 0; ch < c; ch++) {
            for (int t = 0; t < k * k; t++) taps[t * c + ch] = byChannel[ch * k * k + t];
        }
        return new ConvNorm.Depthwise(taps, k, stride, w.vector(norm, c), gelu);
    }

    public int imageSize() {
        return imageSize;
    }

    /** Channels of the output (the soft-token width before the embedder, 2048). */
    public int width() {
        return msfaNorm.length;
    }

    /** Soft tokens per image (16 × 16). */
    public int tokens() {
        return OUTPUT_RESOLUTION * OUTPUT_RESOLUTION;
    }

    public long weightBytes() {
        return weightBytes;
    }

    /**
     * Floats one encoding allocates at its peak (an estimate from the layer shapes): a block's input, expansion (twice:
     * before and after its depthwise convolution), output, plus the unfolded patches and attention scores it works
     * through in bands.
     */
    public long scratchFloats() {
        long peak = 0, side = Conv2d.outSize(imageSize, 2), c = stemNorm.length;
        peak = side * side * (3 + c) + 2L * (1 << 22);
        for (MobileNetBlock[] stage : stages) {
            for (int b = 0; b < stage.length; b++) {
                long out = b == 0 ? Conv2d.outSize((int) side, 2) : side;
                long mid = switch (stage[b]) {
                    case EdgeResidual e -> e.convExp().rows();
                    case UniversalInvertedResidual u -> u.pwExp().outChannels();
                    case MobileAttention a -> a.query().rows();
                };
                peak = Math.max(peak, side * side * (c + 2 * mid) + out * out * stage[b].outChannels() + 2L * (1 << 22));
                side = out;
                c = stage[b].outChannels();
            }
        }
        long fs = fusionSide();
        peak = Math.max(peak, fs * fs * (2L * msfaFfn.inChannels() + msfaFfn.pwExp().outChannels() + width()));
        return peak;
    }

    UniversalInvertedResidual msfaFfn() {
        return msfaFfn;
    }

    float[] msfaNorm() {
        return msfaNorm;
    }

    /** Parameters of the tower (every v.* tensor). */
    public long parameters() {
        return parameters;
    }

    public int stageCount() {
        return stages.length;
    }

    public List<MobileNetBlock> stage(int s) {
        return List.of(stages[s]);
    }

    /** Side of the grid the fusion adapter works at: the second-to-last stage's output. */
    private int fusionSide() {
        int side = Conv2d.outSize(imageSize, 2);
        for (int s = 0; s < stages.length - 1; s++) side = Conv2d.outSize(side, 2);
        return side;
    }

    /**
     * Encodes one image: {@code pixels[off ..]} holds its values [3 × S × S] channel-first (HF pixel_values).
     * Returns the MSFA output as {@link #tokens()} rows of {@link #width()}, pixel-major.
     */
    public float[] forward(float[] pixels, int off, MatMul mm, ThreadPool pool) {
        FeatureMap x = FeatureMap.fromChannelFirst(pixels, off, 3, imageSize, imageSize);
        x = stem(x, mm, pool);
        List<FeatureMap> ends = new ArrayList<>();
        for (int s = 0; s < stages.length; s++) {
            for (MobileNetBlock b : stages[s]) x = b.forward(x, eps, mm, pool);
            if (s >= stages.length - 2) ends.add(x);
        }
        return fuse(ends.get(0), ends.get(1), mm, pool).data();
    }

    /** The stem: a k×k stride-2 convolution with bias, norm, GELU. */
    FeatureMap stem(FeatureMap pixels, MatMul mm, ThreadPool pool) {
        FeatureMap x = Conv2d.full(stemConv, stemK, 2, stemBias, pixels, mm, pool);
        Conv2d.rmsNorm(x, stemNorm, eps, true, pool);
        return x;
    }

    /** The multi-scale fusion adapter (timm MobileNetV5MultiScaleFusionAdapter). */
    FeatureMap fuse(FeatureMap high, FeatureMap low, MatMul mm, ThreadPool pool) {
        if (low.height() < high.height() || low.width() < high.width()) low = Conv2d.nearest(low, high.height(), high.width());
        FeatureMap f = msfaFfn.forward(Conv2d.concatChannels(high, low), eps, mm, pool);
        if (f.height() != OUTPUT_RESOLUTION) f = Conv2d.avgPool(f, f.height() / OUTPUT_RESOLUTION);
        Conv2d.rmsNorm(f, msfaNorm, eps, false, pool);
        return f;
    }

    /** One line per stage for {@code jemma show}. */
    public List<String> describe() {
        List<String> out = new ArrayList<>();
        out.add("stem: conv " + stemK + "×" + stemK + " s2 3→" + stemNorm.length + ", input " + imageSize + "×" + imageSize);
        for (int s = 0; s < stages.length; s++) {
            StringBuilder sb = new StringBuilder("stage ").append(s).append(": ").append(stages[s].length).append(" blocks");
            java.util.Map<String, Integer> kinds = new java.util.LinkedHashMap<>();
            for (MobileNetBlock b : stages[s]) kinds.merge(b.describe().split(" ")[0], 1, Integer::sum);
            sb.append(" (");
            kinds.forEach((k, n) -> sb.append(n).append(' ').append(k).append(", "));
            sb.setLength(sb.length() - 2);
            sb.append("), ").append(stages[s][stages[s].length - 1].outChannels()).append(" channels");
            out.add(sb.toString());
        }
        out.add("fusion (MSFA): stages " + (stages.length - 2) + "+" + (stages.length - 1) + " at " + fusionSide() + "×" + fusionSide()
                + ", " + msfaFfn.inChannels() + "→" + msfaFfn.pwExp().outChannels() + "→" + width() + ", pooled to "
                + OUTPUT_RESOLUTION + "×" + OUTPUT_RESOLUTION + " = " + tokens() + " tokens");
        return out;
    }
}
