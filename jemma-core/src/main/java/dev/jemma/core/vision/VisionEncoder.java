package dev.jemma.core.vision;

import dev.jemma.core.tensor.ThreadPool;

import java.nio.file.Path;

/**
 * What the engine needs of an image encoder, whatever its tower: Gemma 3's SigLIP + projector ({@link ImageEncoder}) or
 * Gemma 3n's MobileNet-V5 + embed_vision ({@code mobilenet.Gemma3nImageEncoder}). Both take pixel values from
 * {@link Gemma3ImageProcessor} (stretch to S × S, rescale, normalise with {@link #mean()} / {@link #std()}) and give the
 * rows that replace one image's run of soft tokens.
 */
public interface VisionEncoder extends AutoCloseable {
    /** The file the tower was read from. */
    Path path();

    /** Side S of the square input. */
    int imageSize();

    /** Per-channel normalisation of the rescaled pixels (Gemma 3: 0.5 / 0.5; Gemma 3n: none, 0 / 1). */
    float[] mean();

    float[] std();

    /** Soft tokens one image becomes (256). */
    int tokensPerImage();

    /** Width of the rows it gives (the text model's width). */
    int textDim();

    /**
     * Whether an image's soft tokens attend to each other in both directions (HF Gemma 3's token-type mask) rather than
     * causally like every other token (Gemma 3n).
     */
    boolean bidirectional();

    /** Soft-token embeddings [tokensPerImage × textDim] of one image's pixel values [3 × S × S] at {@code pixels[off..]}. */
    float[] encode(float[] pixels, int off, ThreadPool pool);

    /** Bytes of weights the encoder holds or maps. */
    long weightBytes();

    /** Bytes of scratch one image's encoding allocates at its peak. */
    long scratchBytes();

    /**
     * The copy of the tower's matrices that the first image builds (or maps, once built) in a weight cache under
     * {@code dir}, planned without building it; null when this encoder makes none (Gemma 3's SigLIP, exact mode).
     */
    default dev.jemma.core.memory.WeightCopy firstImageCopy(Path dir) {
        return null;
    }

    /** Checks that this encoder feeds a text model of width {@code textDim}; one line naming the file when not. */
    default void requireTextWidth(int textDim) {
        if (textDim != textDim()) {
            throw new dev.jemma.core.JemmaException(path().getFileName() + ": the projector outputs width " + textDim()
                    + " but the text model's width is " + textDim + " (an mmproj file of another model?)");
        }
    }

    @Override
    void close();
}
