package dev.jemma.core.mobilenet;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.media3n.Gemma3nMultimodalEmbedder;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.media3n.MmprojWeights;

/**
 * Gemma 3n's image path, HF {@code Gemma3nModel.get_image_features}: MobileNet-V5 over the pixel values, its
 * 16 × 16 × 2048 output as 256 rows scaled by √2048, then {@code embed_vision}'s soft path (norm, projection to the
 * text width, unscaled norm). The rows replace an image's 256 {@code <image_soft_token>}s. Safe for concurrent calls.
 */
public final class Gemma3nImageEncoder {
    private final MobileNetV5 tower;
    private final Gemma3nMultimodalEmbedder embedder;
    private final MatMul matmul;
    private final float scale;

    public Gemma3nImageEncoder(MobileNetV5 tower, Gemma3nMultimodalEmbedder embedder, MatMul matmul) {
        if (embedder.inputDim() != tower.width()) {
            throw new IllegalArgumentException("the vision embedder takes rows of " + embedder.inputDim() + " but MobileNet-V5 gives " + tower.width());
        }
        this.tower = tower;
        this.embedder = embedder;
        this.matmul = matmul;
        // HF multiplies the float32 tower output by hidden_size ** 0.5 (a Python float, applied in float32)
        this.scale = (float) Math.sqrt(tower.width());
    }

    /** The vision half of a Gemma 3n mmproj; one clear error naming the file when it has none or it does not fit. */
    public static Gemma3nImageEncoder open(Gemma3nMmproj mmproj, MatMul matmul) {
        GgufFile f = mmproj.file();
        if (!mmproj.hasVision()) throw f.error("this Gemma 3n mmproj has no vision tower (clip.vision.projector_type gemma3nv)");
        int size = f.requireInt("clip.vision.image_size");
        if (size <= 0 || size > 4096) throw f.error("clip.vision.image_size " + size + " is out of range");
        float eps = (float) f.getDouble("clip.vision.attention.layer_norm_epsilon", 1e-6);
        if (!(eps > 0 && eps < 1e-2)) throw f.error("clip.vision.attention.layer_norm_epsilon " + eps + " is out of range");
        try {
            return new Gemma3nImageEncoder(new MobileNetV5(mmproj.weights(), size, eps), mmproj.visionEmbedder(), matmul);
        } catch (IllegalArgumentException e) {
            throw f.error(e.getMessage());
        }
    }

    public MobileNetV5 tower() {
        return tower;
    }

    /** Side S of the square input the processor resizes to (768). */
    public int imageSize() {
        return tower.imageSize();
    }

    public int tokensPerImage() {
        return tower.tokens();
    }

    public int textDim() {
        return embedder.textDim();
    }

    public long weightBytes() {
        return tower.weightBytes();
    }

    /** MobileNet-V5's output [256 × 2048] for one image's pixel values [3 × S × S] at {@code pixels[off..]}. */
    public float[] towerOutput(float[] pixels, int off, ThreadPool pool) {
        return tower.forward(pixels, off, matmul, pool);
    }

    /** Soft-token embeddings [256 × textDim] for one image's pixel values. */
    public float[] encode(float[] pixels, int off, ThreadPool pool) {
        return embed(towerOutput(pixels, off, pool), pool);
    }

    /** embed_vision's soft path over a tower output computed elsewhere (scaled by √width here). */
    public float[] embed(float[] towerOutput, ThreadPool pool) {
        float[] x = towerOutput.clone();
        for (int i = 0; i < x.length; i++) x[i] *= scale;
        return embedder.embedSoft(x, x.length / tower.width(), matmul, pool);
    }
}
