package dev.jemma.tools.gen;

import dev.jemma.tools.gen.Gemma3Generator.Init;
import dev.jemma.tools.gen.Gemma3Generator.TensorPlan;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.tensor.GgmlType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A real-shaped Gemma 3n mmproj with random weights, as llama.cpp's converter writes it ({@code clip} architecture,
 * projectors {@code gemma3nv} and {@code gemma3na}): the full MobileNet-V5-300M ({@code v.*}, timm's
 * {@code mobilenetv5_300m_enc} block strings below) and the vision embedder ({@code mm.*}), and the USM conformer audio
 * tower ({@code a.*}, HF Gemma3nAudioConfig: width 1536, 12 blocks, 8 heads, sub-sampling channels 128/32, depthwise
 * kernel 5) with its embedder ({@code mm.a.*}), into the text model's width. Convolution and projection weights
 * F16 (F32 for the stem), norms and layer scales F32, as in llama.cpp's F16 mmproj files. For timing the encoder, not
 * for answers.
 */
public final class Gemma3nMmprojGenerator {
    /** timm's {@code mobilenetv5_300m_enc} arch_def: stage → block strings (type, a/k kernels, s stride, e ratio, c width, h heads, d key dim, v kv stride). */
    public static final List<List<String>> MOBILENET_V5_300M = List.of(
            List.of("er_r1_k3_s2_e4_c128", "er_r1_k3_s1_e4_c128", "er_r1_k3_s1_e4_c128"),
            List.of("uir_r1_a3_k5_s2_e6_c256", "uir_r1_a5_k0_s1_e4_c256", "uir_r1_a3_k0_s1_e4_c256", "uir_r1_a5_k0_s1_e4_c256",
                    "uir_r1_a3_k0_s1_e4_c256"),
            stage2(),
            stage3());
    public static final int STEM = 64, MSFA_WIDTH = 2048, IMAGE_SIZE = 768, VISION_VOCAB = 128;

    private static List<String> stage2() {
        List<String> s = new ArrayList<>(List.of("uir_r1_a5_k5_s2_e6_c640"));
        for (int i = 0; i < 7; i++) s.add("uir_r1_a5_k0_s1_e4_c640");
        s.add("uir_r1_a0_k0_s1_e1_c640");
        for (int i = 0; i < 14; i++) {
            s.add("mqa_r1_k3_h12_v2_s1_d64_c640");
            s.add("uir_r1_a0_k0_s1_e2_c640");
        }
        return List.copyOf(s);
    }

    private static List<String> stage3() {
        List<String> s = new ArrayList<>(List.of("uir_r1_a5_k5_s2_e6_c1280"));
        for (int i = 0; i < 19; i++) {
            s.add("mqa_r1_k3_h16_s1_d96_c1280");
            s.add("uir_r1_a0_k0_s1_e2_c1280");
        }
        return List.copyOf(s);
    }

    private Gemma3nMmprojGenerator() {
    }

    /** One field of a timm block string, e.g. {@code option("uir_r1_a5_k0_s1_e4_c640", 'a')} = 5; {@code def} when absent. */
    static int option(String block, String key, int def) {
        for (String op : block.split("_")) {
            if (op.startsWith(key) && op.length() > key.length() && Character.isDigit(op.charAt(key.length()))) {
                return (int) Double.parseDouble(op.substring(key.length()));
            }
        }
        return def;
    }

    /** timm make_divisible(v, 8): round to a multiple of 8, never more than 10 % down. */
    static int makeDivisible(double v) {
        int n = Math.max(8, (int) (v + 4) / 8 * 8);
        return n < 0.9 * v ? n + 8 : n;
    }

    /** The vision tensors of MobileNet-V5-300M and the embedder for a text model of width {@code textDim}, in file order. */
    public static List<TensorPlan> planVision(int textDim) {
        List<TensorPlan> out = new ArrayList<>();
        GgmlType w16 = GgmlType.F16, f32 = GgmlType.F32;
        out.add(new TensorPlan("mm.embedding.weight", new long[]{MSFA_WIDTH, VISION_VOCAB}, w16, Init.RANDOM));
        out.add(new TensorPlan("mm.hard_emb_norm.weight", new long[]{MSFA_WIDTH}, f32, Init.NORM));
        out.add(new TensorPlan("mm.input_projection.weight", new long[]{MSFA_WIDTH, textDim}, w16, Init.RANDOM));
        out.add(new TensorPlan("mm.soft_emb_norm.weight", new long[]{MSFA_WIDTH}, f32, Init.NORM));
        int in = STEM;
        int[] stageOut = new int[MOBILENET_V5_300M.size()];
        for (int s = 0; s < MOBILENET_V5_300M.size(); s++) {
            List<String> stage = MOBILENET_V5_300M.get(s);
            for (int b = 0; b < stage.size(); b++) {
                String def = stage.get(b), p = "v.blk." + s + "." + b + ".";
                int c = option(def, "c", 0);
                if (def.startsWith("er_")) {
                    int k = option(def, "k", 3), mid = makeDivisible(in * (double) option(def, "e", 1));
                    out.add(new TensorPlan(p + "bn1.weight", new long[]{mid}, f32, Init.NORM));
                    out.add(new TensorPlan(p + "bn2.weight", new long[]{c}, f32, Init.NORM));
                    out.add(new TensorPlan(p + "conv_exp.weight", new long[]{k, k, in, mid}, w16, Init.RANDOM));
                    out.add(new TensorPlan(p + "conv_pwl.weight", new long[]{1, 1, mid, c}, w16, Init.RANDOM));
                } else if (def.startsWith("mqa_")) {
                    int k = option(def, "k", 3), heads = option(def, "h", 1), d = option(def, "d", 64), kv = option(def, "v", 1);
                    if (kv > 1) {
                        out.add(new TensorPlan(p + "attn.key.down_conv.weight", new long[]{k, k, 1, in}, w16, Init.RANDOM));
                        out.add(new TensorPlan(p + "attn.key.norm.weight", new long[]{in}, f32, Init.NORM));
                    }
                    out.add(new TensorPlan(p + "attn.key.proj.weight", new long[]{1, 1, in, d}, w16, Init.RANDOM));
                    out.add(new TensorPlan(p + "attn.output.proj.weight", new long[]{1, 1, (long) heads * d, c}, w16, Init.RANDOM));
                    out.add(new TensorPlan(p + "attn.query.proj.weight", new long[]{1, 1, in, (long) heads * d}, w16, Init.RANDOM));
                    if (kv > 1) {
                        out.add(new TensorPlan(p + "attn.value.down_conv.weight", new long[]{k, k, 1, in}, w16, Init.RANDOM));
                        out.add(new TensorPlan(p + "attn.value.norm.weight", new long[]{in}, f32, Init.NORM));
                    }
                    out.add(new TensorPlan(p + "attn.value.proj.weight", new long[]{1, 1, in, d}, w16, Init.RANDOM));
                    out.add(new TensorPlan(p + "layer_scale.gamma", new long[]{1, 1, c, 1}, f32, Init.RANDOM));
                    out.add(new TensorPlan(p + "norm.weight", new long[]{in}, f32, Init.NORM));
                } else {
                    int a = option(def, "a", 0), k = option(def, "k", 0), mid = makeDivisible(in * (double) option(def, "e", 1));
                    if (k > 0) {
                        out.add(new TensorPlan(p + "dw_mid.bn.weight", new long[]{mid}, f32, Init.NORM));
                        out.add(new TensorPlan(p + "dw_mid.conv.weight", new long[]{k, k, 1, mid}, w16, Init.RANDOM));
                    }
                    if (a > 0) {
                        out.add(new TensorPlan(p + "dw_start.bn.weight", new long[]{in}, f32, Init.NORM));
                        out.add(new TensorPlan(p + "dw_start.conv.weight", new long[]{a, a, 1, in}, w16, Init.RANDOM));
                    }
                    out.add(new TensorPlan(p + "layer_scale.gamma", new long[]{1, 1, c, 1}, f32, Init.RANDOM));
                    out.add(new TensorPlan(p + "pw_exp.bn.weight", new long[]{mid}, f32, Init.NORM));
                    out.add(new TensorPlan(p + "pw_exp.conv.weight", new long[]{1, 1, in, mid}, w16, Init.RANDOM));
                    out.add(new TensorPlan(p + "pw_proj.bn.weight", new long[]{c}, f32, Init.NORM));
                    out.add(new TensorPlan(p + "pw_proj.conv.weight", new long[]{1, 1, mid, c}, w16, Init.RANDOM));
                }
                in = c;
            }
            stageOut[s] = in;
        }
        out.add(new TensorPlan("v.conv_stem.bn.weight", new long[]{STEM}, f32, Init.NORM));
        out.add(new TensorPlan("v.conv_stem.conv.bias", new long[]{STEM}, f32, Init.RANDOM));
        out.add(new TensorPlan("v.conv_stem.conv.weight", new long[]{3, 3, 3, STEM}, f32, Init.RANDOM));
        int fused = stageOut[stageOut.length - 2] + stageOut[stageOut.length - 1], mid = makeDivisible(fused * 2.0);
        out.add(new TensorPlan("v.msfa.ffn.pw_exp.bn.weight", new long[]{mid}, f32, Init.NORM));
        out.add(new TensorPlan("v.msfa.ffn.pw_exp.conv.weight", new long[]{1, 1, fused, mid}, w16, Init.RANDOM));
        out.add(new TensorPlan("v.msfa.ffn.pw_proj.bn.weight", new long[]{MSFA_WIDTH}, f32, Init.NORM));
        out.add(new TensorPlan("v.msfa.ffn.pw_proj.conv.weight", new long[]{1, 1, mid, MSFA_WIDTH}, w16, Init.RANDOM));
        out.add(new TensorPlan("v.msfa.norm.weight", new long[]{MSFA_WIDTH}, f32, Init.NORM));
        return out;
    }

    /** HF Gemma3nAudioConfig of every released Gemma 3n (E2B and E4B share the audio tower). */
    public static final int AUDIO_WIDTH = 1536, AUDIO_BLOCKS = 12, AUDIO_HEADS = 8, AUDIO_FFN = 4 * AUDIO_WIDTH, AUDIO_VOCAB = 128,
            MEL_BINS = 128, SSCP_CHANNELS_0 = 128, SSCP_CHANNELS_1 = 32, CONV_KERNEL = 5;

    /**
     * The audio tensors (llama.cpp's names, as in a converted Gemma 3n mmproj) for a text model of width {@code textDim}.
     * The sub-sampling convolutions and the depthwise kernel are F32, as the converter keeps small convolutions.
     */
    public static List<TensorPlan> planAudio(int textDim) {
        List<TensorPlan> out = new ArrayList<>();
        GgmlType w16 = GgmlType.F16, f32 = GgmlType.F32;
        int d = AUDIO_WIDTH, headDim = AUDIO_WIDTH / AUDIO_HEADS;
        for (int l = 0; l < AUDIO_BLOCKS; l++) {
            String p = "a.blk." + l + ".";
            for (String m : new String[]{"attn_q", "attn_k", "attn_v", "attn_out", "linear_pos"}) {
                out.add(new TensorPlan(p + m + ".weight", new long[]{d, d}, w16, Init.RANDOM));
            }
            out.add(new TensorPlan(p + "per_dim_scale", new long[]{headDim}, f32, Init.RANDOM));
            out.add(new TensorPlan(p + "ln1.weight", new long[]{d}, f32, Init.NORM));
            out.add(new TensorPlan(p + "ln2.weight", new long[]{d}, f32, Init.NORM));
            for (String half : new String[]{"", "_1"}) {
                out.add(new TensorPlan(p + "ffn_up" + half + ".weight", new long[]{d, AUDIO_FFN}, w16, Init.RANDOM));
                out.add(new TensorPlan(p + "ffn_down" + half + ".weight", new long[]{AUDIO_FFN, d}, w16, Init.RANDOM));
                out.add(new TensorPlan(p + "ffn_norm" + half + ".weight", new long[]{d}, f32, Init.NORM));
                out.add(new TensorPlan(p + "ffn_post_norm" + half + ".weight", new long[]{d}, f32, Init.NORM));
            }
            out.add(new TensorPlan(p + "norm_conv.weight", new long[]{d}, f32, Init.NORM));
            out.add(new TensorPlan(p + "conv_dw.weight", new long[]{CONV_KERNEL, 1, d}, f32, Init.RANDOM));
            out.add(new TensorPlan(p + "conv_pw1.weight", new long[]{d, 2L * d}, w16, Init.RANDOM));
            out.add(new TensorPlan(p + "conv_pw2.weight", new long[]{d, d}, w16, Init.RANDOM));
            out.add(new TensorPlan(p + "conv_norm.weight", new long[]{d}, f32, Init.NORM));
            out.add(new TensorPlan(p + "layer_pre_norm.weight", new long[]{d}, f32, Init.NORM));
        }
        out.add(new TensorPlan("a.conv1d.0.weight", new long[]{3, 3, 1, SSCP_CHANNELS_0}, f32, Init.RANDOM));
        out.add(new TensorPlan("a.conv1d.0.norm.weight", new long[]{SSCP_CHANNELS_0}, f32, Init.NORM));
        out.add(new TensorPlan("a.conv1d.1.weight", new long[]{3, 3, SSCP_CHANNELS_0, SSCP_CHANNELS_1}, f32, Init.RANDOM));
        out.add(new TensorPlan("a.conv1d.1.norm.weight", new long[]{SSCP_CHANNELS_1}, f32, Init.NORM));
        // the frequency axis after two stride-2 convolutions: 128 → 64 → 32 bins, times the second one's channels
        out.add(new TensorPlan("a.pre_encode.out.weight", new long[]{(MEL_BINS / 4) * SSCP_CHANNELS_1, d}, w16, Init.RANDOM));
        out.add(new TensorPlan("mm.a.embedding.weight", new long[]{d, AUDIO_VOCAB}, w16, Init.RANDOM));
        out.add(new TensorPlan("mm.a.hard_emb_norm.weight", new long[]{d}, f32, Init.NORM));
        out.add(new TensorPlan("mm.a.input_projection.weight", new long[]{d, textDim}, w16, Init.RANDOM));
        out.add(new TensorPlan("mm.a.soft_emb_norm.weight", new long[]{d}, f32, Init.NORM));
        return out;
    }

    /** Writes the mmproj (vision and audio towers) for a Gemma 3n text model of {@code size}. */
    public static List<TensorPlan> generate(Gemma3nSize size, long seed, Path out) {
        List<TensorPlan> tensors = new ArrayList<>(planVision(size.dim));
        tensors.addAll(planAudio(size.dim));
        long params = 0;
        for (TensorPlan t : tensors) params += t.bytes() / t.type().typeSize * t.type().blockSize;
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "clip");
        w.putString("general.type", "mmproj");
        w.putString("general.name", "Gemma 3n " + size.label.toUpperCase(Locale.ROOT) + " mmproj (random weights, seed " + seed + ")");
        w.putString("general.size_label", Gemma3Generator.sizeLabel(params));
        w.putU32("general.file_type", 1);
        w.putBool("clip.has_vision_encoder", true);
        w.putU32("clip.vision.projection_dim", size.dim);
        w.putU32("clip.vision.image_size", IMAGE_SIZE);
        // what llama.cpp's converter writes (image_size // image_seq_length = 768 // 256): its clip counts a Gemma 3n
        // image's tokens as image_size / patch_size, so 16 made llama-mtmd-cli expect 48 tokens and abort
        w.putU32("clip.vision.patch_size", IMAGE_SIZE / 256);
        w.putU32("clip.vision.embedding_length", MSFA_WIDTH);
        w.putU32("clip.vision.feed_forward_length", 8192);
        w.putU32("clip.vision.block_count", 128);
        w.putU32("clip.vision.attention.head_count", 8);
        w.putFloats("clip.vision.image_mean", new float[]{0, 0, 0});
        w.putFloats("clip.vision.image_std", new float[]{1, 1, 1});
        w.putString("clip.vision.projector_type", "gemma3nv");
        w.putF32("clip.vision.attention.layer_norm_epsilon", 1e-6f);
        w.putBool("clip.has_audio_encoder", true);
        w.putString("clip.audio.projector_type", "gemma3na");
        w.putU32("clip.audio.projection_dim", size.dim);
        w.putU32("clip.audio.embedding_length", AUDIO_WIDTH);
        // what the converter writes whatever the model (AudioEncoderConfig does not read these two)
        w.putU32("clip.audio.feed_forward_length", 6144);
        w.putF32("clip.audio.attention.layer_norm_epsilon", 1e-5f);
        w.putU32("clip.audio.block_count", AUDIO_BLOCKS);
        w.putU32("clip.audio.attention.head_count", AUDIO_HEADS);
        w.putU32("clip.audio.num_mel_bins", MEL_BINS);
        w.putU32("general.quantization_version", 2);
        Gemma3Generator.addTensors(w, tensors, seed);
        w.write(out);
        return tensors;
    }
}
