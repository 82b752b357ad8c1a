package dev.jemma.tools.gen;

import dev.jemma.tools.gen.Gemma3Generator.Init;
import dev.jemma.tools.gen.Gemma3Generator.TensorPlan;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.tensor.GgmlType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A real-shaped Gemma 3 mmproj with random weights, as llama.cpp's converter ({@code convert_hf_to_gguf.py --mmproj},
 * {@code Gemma3VisionModel}) writes it for gemma-3-4b-it / 12b / 27b: {@code clip} architecture, projector
 * {@code gemma3}, the SigLIP-so400m tower ({@code v.*}) and the multimodal projector ({@code mm.*}). Types as in the
 * converter's F16 files: linear weights F16, the projection F16 (forced), patch and position embeddings F32 (forced,
 * "{@code .embeddings.}"), norms and biases F32. For timing the encoder, not for answers.
 */
public final class Gemma3MmprojGenerator {
    /**
     * A SigLIP tower's shape.
     *
     * @param tokensPerImage soft tokens after the projector's average pooling (HF {@code mm_tokens_per_image})
     */
    public record SiglipShape(int imageSize, int patchSize, int width, int ffn, int layers, int heads, int tokensPerImage) {
        public int patchesPerSide() {
            return imageSize / patchSize;
        }

        /** The pooling factor llama.cpp reads as {@code clip.vision.projector.scale_factor}. */
        public int scaleFactor() {
            return patchesPerSide() / (int) Math.round(Math.sqrt(tokensPerImage));
        }
    }

    /** Gemma 3's vision tower (4B, 12B and 27B share it): HF siglip vision_config of gemma-3-4b-it, 256 soft tokens. */
    public static final SiglipShape GEMMA3_SIGLIP = new SiglipShape(896, 14, 1152, 4304, 27, 16, 256);

    /** llama.cpp's default pooling factor for Gemma 3; the converter writes the key only when it differs. */
    private static final int DEFAULT_SCALE_FACTOR = 4;

    private Gemma3MmprojGenerator() {
    }

    /** The tensors in the converter's order (projector first, then patch and position embeddings, blocks, post-LN). */
    public static List<TensorPlan> plan(SiglipShape v, int textDim) {
        List<TensorPlan> out = new ArrayList<>();
        GgmlType f16 = GgmlType.F16, f32 = GgmlType.F32;
        int d = v.width(), p = v.patchSize();
        long patches = (long) v.patchesPerSide() * v.patchesPerSide();
        // HF's [vision, text] parameter stored as is: ggml dims {text, vision}
        out.add(new TensorPlan("mm.input_projection.weight", new long[]{textDim, d}, f16, Init.RANDOM));
        // Gemma RMSNorm weight with the converter's + 1 folded in
        out.add(new TensorPlan("mm.soft_emb_norm.weight", new long[]{d}, f32, Init.NORM));
        out.add(new TensorPlan("v.patch_embd.bias", new long[]{d}, f32, Init.RANDOM));
        out.add(new TensorPlan("v.patch_embd.weight", new long[]{p, p, 3, d}, f32, Init.RANDOM));
        out.add(new TensorPlan("v.position_embd.weight", new long[]{d, patches}, f32, Init.RANDOM));
        for (int l = 0; l < v.layers(); l++) {
            String b = "v.blk." + l + ".";
            out.add(new TensorPlan(b + "ln1.bias", new long[]{d}, f32, Init.RANDOM));
            out.add(new TensorPlan(b + "ln1.weight", new long[]{d}, f32, Init.NORM));
            out.add(new TensorPlan(b + "ln2.bias", new long[]{d}, f32, Init.RANDOM));
            out.add(new TensorPlan(b + "ln2.weight", new long[]{d}, f32, Init.NORM));
            out.add(new TensorPlan(b + "ffn_up.bias", new long[]{v.ffn()}, f32, Init.RANDOM));
            out.add(new TensorPlan(b + "ffn_up.weight", new long[]{d, v.ffn()}, f16, Init.RANDOM));
            out.add(new TensorPlan(b + "ffn_down.bias", new long[]{d}, f32, Init.RANDOM));
            out.add(new TensorPlan(b + "ffn_down.weight", new long[]{v.ffn(), d}, f16, Init.RANDOM));
            for (String proj : new String[]{"attn_k", "attn_out", "attn_q", "attn_v"}) {
                out.add(new TensorPlan(b + proj + ".bias", new long[]{d}, f32, Init.RANDOM));
                out.add(new TensorPlan(b + proj + ".weight", new long[]{d, d}, f16, Init.RANDOM));
            }
        }
        out.add(new TensorPlan("v.post_ln.bias", new long[]{d}, f32, Init.RANDOM));
        out.add(new TensorPlan("v.post_ln.weight", new long[]{d}, f32, Init.NORM));
        return out;
    }

    /**
     * Writes the mmproj of tower {@code v} for a text model of width {@code textDim} (atomically).
     *
     * @param label model size for general.name, e.g. "4B"
     */
    public static List<TensorPlan> generate(SiglipShape v, int textDim, String label, long seed, Path out) {
        List<TensorPlan> tensors = plan(v, textDim);
        long params = 0;
        for (TensorPlan t : tensors) params += t.bytes() / t.type().typeSize * t.type().blockSize;
        GgufWriter w = new GgufWriter();
        // keys and order as convert_hf_to_gguf.py writes them for Gemma3VisionModel
        w.putString("general.architecture", "clip");
        w.putString("general.type", "mmproj");
        w.putString("general.name", "Gemma 3 " + label + " mmproj (random weights, seed " + seed + ")");
        w.putString("general.size_label", Gemma3Generator.sizeLabel(params));
        w.putU32("general.file_type", 1);
        w.putBool("clip.has_vision_encoder", true);
        w.putU32("clip.vision.projection_dim", textDim);
        w.putU32("clip.vision.image_size", v.imageSize());
        w.putU32("clip.vision.patch_size", v.patchSize());
        w.putU32("clip.vision.embedding_length", v.width());
        w.putU32("clip.vision.feed_forward_length", v.ffn());
        w.putU32("clip.vision.block_count", v.layers());
        w.putU32("clip.vision.attention.head_count", v.heads());
        w.putFloats("clip.vision.image_mean", new float[]{0.5f, 0.5f, 0.5f});
        w.putFloats("clip.vision.image_std", new float[]{0.5f, 0.5f, 0.5f});
        w.putString("clip.projector_type", "gemma3");
        w.putF32("clip.vision.attention.layer_norm_epsilon", 1e-6f);
        w.putBool("clip.use_gelu", true);
        if (v.scaleFactor() != DEFAULT_SCALE_FACTOR) w.putU32("clip.vision.projector.scale_factor", v.scaleFactor());
        w.putU32("general.quantization_version", 2);
        Gemma3Generator.addTensors(w, tensors, seed);
        w.write(out);
        return tensors;
    }
}
