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
 * projector {@code gemma3nv}): the full MobileNet-V5-300M ({@code v.*}, timm's {@code mobilenetv5_300m_enc} block
 * strings below) and the vision embedder ({@code mm.*}) into a 2048-wide text model. Convolution and projection weights
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

    /** Writes the mmproj (vision part) for a Gemma 3n text model of {@code size}. */
    public static List<TensorPlan> generate(Gemma3nSize size, long seed, Path out) {
        List<TensorPlan> tensors = planVision(size.dim);
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
        w.putU32("general.quantization_version", 2);
        Gemma3Generator.addTensors(w, tensors, seed);
        w.write(out);
        return tensors;
    }
}
