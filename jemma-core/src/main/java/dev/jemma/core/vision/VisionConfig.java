package dev.jemma.core.vision;

import dev.jemma.core.gguf.GgufFile;

/**
 * Shape of a Gemma 3 vision tower (SigLIP) and its projector, from either of the two ways the weights ship:
 * <ul>
 *   <li>llama.cpp's separate mmproj GGUF: {@code general.architecture = clip}, {@code clip.projector_type = gemma3},
 *       {@code clip.vision.*} keys, {@code v.*} / {@code mm.*} tensors ({@link VisionTensorNames#LLAMA_CPP});</li>
 *   <li>Ollama's single-file gemma3 GGUF: {@code gemma3.vision.*} and {@code gemma3.mm.tokens_per_image} keys beside the
 *       text model's, tensors under {@code v.} / {@code mm.} with HF-derived names ({@link VisionTensorNames#OLLAMA}).</li>
 * </ul>
 *
 * @param imageSize     side S of the square input (HF {@code vision_config.image_size}, 896 in Gemma 3)
 * @param patchSize     side of one patch (14)
 * @param hidden        SigLIP width (1152)
 * @param ffn           SigLIP MLP width (4304)
 * @param layers        encoder blocks (27)
 * @param heads         attention heads (16)
 * @param eps           LayerNorm epsilon, also the projector's RMSNorm epsilon (HF uses vision_config.layer_norm_eps)
 * @param tokensPerImage soft tokens per image after average pooling (HF {@code mm_tokens_per_image}, 256)
 * @param textDim       width of the text model the projector feeds
 * @param mean          per-channel normalisation mean (HF image_mean)
 * @param std           per-channel normalisation std (HF image_std)
 */
public record VisionConfig(int imageSize, int patchSize, int hidden, int ffn, int layers, int heads, float eps,
                           int tokensPerImage, int textDim, float[] mean, float[] std, VisionTensorNames names) {
    public VisionConfig {
        if (imageSize <= 0 || patchSize <= 0 || imageSize % patchSize != 0) {
            throw new IllegalArgumentException("image size " + imageSize + " is not a multiple of the patch size " + patchSize);
        }
        if (heads <= 0 || hidden % heads != 0) throw new IllegalArgumentException("width " + hidden + " does not split into " + heads + " heads");
        int side = imageSize / patchSize, perSide = (int) Math.round(Math.sqrt(tokensPerImage));
        if (perSide * perSide != tokensPerImage || perSide == 0 || side % perSide != 0) {
            throw new IllegalArgumentException(tokensPerImage + " tokens per image do not pool a " + side + "×" + side + " patch grid");
        }
    }

    /** Patches per side of the grid (S / patch). */
    public int patchesPerSide() {
        return imageSize / patchSize;
    }

    public int patches() {
        return patchesPerSide() * patchesPerSide();
    }

    public int headDim() {
        return hidden / heads;
    }

    /** Side of the average-pooling window (HF Gemma3MultiModalProjector.kernel_size). */
    public int poolKernel() {
        return patchesPerSide() / (int) Math.round(Math.sqrt(tokensPerImage));
    }

    /** Whether the file carries a Gemma 3 vision tower in either layout. */
    public static boolean present(GgufFile f) {
        return isMmproj(f) || ("gemma3".equals(f.getString("general.architecture")) && f.has("gemma3.vision.block_count"));
    }

    static boolean isMmproj(GgufFile f) {
        return "clip".equals(f.getString("general.architecture"));
    }

    /**
     * Reads the vision shape of {@code f}; {@code textDim} is the text model's width (checked against the projector).
     * Refuses, naming the file and key, projectors other than Gemma 3's and files without a vision tower.
     */
    public static VisionConfig read(GgufFile f) {
        if (isMmproj(f)) {
            if (!f.getBool("clip.has_vision_encoder", false)) throw f.error("this mmproj file has no vision encoder (clip.has_vision_encoder)");
            String type = projectorType(f);
            if (!"gemma3".equals(type)) {
                throw f.error("clip.projector_type is " + (type == null ? "missing" : "'" + type + "'") + "; only Gemma 3's projector (gemma3) is supported");
            }
            int image = f.requireInt("clip.vision.image_size"), patch = f.requireInt("clip.vision.patch_size");
            // llama.cpp: the pooling factor n_merge (clip.vision.projector.scale_factor), 4 for every Gemma 3
            int merge = f.getInt("clip.vision.projector.scale_factor", 4);
            int side = image / Math.max(1, patch);
            if (merge <= 0 || side % merge != 0) throw f.error("clip.vision.projector.scale_factor " + merge + " does not divide the " + side + "-patch grid");
            return new VisionConfig(image, patch, f.requireInt("clip.vision.embedding_length"),
                    f.requireInt("clip.vision.feed_forward_length"), f.requireInt("clip.vision.block_count"),
                    f.requireInt("clip.vision.attention.head_count"),
                    (float) f.getDouble("clip.vision.attention.layer_norm_epsilon", 1e-6),
                    (side / merge) * (side / merge), f.requireInt("clip.vision.projection_dim"),
                    channels(f, "clip.vision.image_mean"), channels(f, "clip.vision.image_std"), VisionTensorNames.LLAMA_CPP);
        }
        if (!present(f)) throw f.error("no vision tower in this file (neither an mmproj file nor a gemma3 file with gemma3.vision.* keys)");
        int image = f.requireInt("gemma3.vision.image_size"), patch = f.requireInt("gemma3.vision.patch_size");
        return new VisionConfig(image, patch, f.requireInt("gemma3.vision.embedding_length"),
                f.requireInt("gemma3.vision.feed_forward_length"), f.requireInt("gemma3.vision.block_count"),
                f.requireInt("gemma3.vision.attention.head_count"),
                (float) f.getDouble("gemma3.vision.attention.layer_norm_epsilon", 1e-6),
                f.getInt("gemma3.mm.tokens_per_image", f.getInt("gemma3.mm_tokens_per_image", 256)),
                f.requireInt("gemma3.embedding_length"),
                // Gemma 3's processor normalises with mean 0.5 / std 0.5; Ollama's files do not store them (jemma convert
                // writes them only for a projector that has other values)
                channels(f, "gemma3.vision.image_mean"), channels(f, "gemma3.vision.image_std"), VisionTensorNames.OLLAMA);
    }

    /** The mmproj's projector type: {@code clip.projector_type}, or per tower {@code clip.vision.projector_type}. */
    public static String projectorType(GgufFile f) {
        String t = f.getString("clip.projector_type");
        return t != null ? t : f.getString("clip.vision.projector_type");
    }

    private static float[] channels(GgufFile f, String key) {
        float[] v = f.getFloatArray(key);
        if (v == null) return new float[]{0.5f, 0.5f, 0.5f};
        if (v.length != 3) throw f.error(key + ": " + v.length + " values, expected 3");
        for (float x : v) if (!(Float.isFinite(x))) throw f.error(key + ": value " + x + " is not finite");
        return v.clone();
    }
}
