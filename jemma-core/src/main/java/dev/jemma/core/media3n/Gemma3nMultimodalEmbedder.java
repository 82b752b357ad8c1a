package dev.jemma.core.media3n;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;

/**
 * HF {@code Gemma3nMultimodalEmbedder}: brings vision or audio into the text model's space, from either side of it.
 * <pre>
 *   hard (a token id in [offset, offset + vocab)):  e = RMSNorm(embedding[id − offset], hard_emb_norm)
 *   soft (an encoder output row):                    e = RMSNorm(row, soft_emb_norm)
 *   out = RMSNorm(W_proj · e)                        (no scale: HF's embedding_post_projection_norm has none)
 * </pre>
 * Norm weights are used as stored (Gemma 3n's RMSNorm has no +1). The hard rows are few (128 per modality in the real
 * models), so all of them are computed once at construction: a hard token in a prompt is then a table look-up.
 * Immutable and safe for concurrent use.
 */
public final class Gemma3nMultimodalEmbedder {
    /** HF's rms_norm_eps of both Gemma 3n towers (the converter writes 1e-5 for audio, which HF does not use). */
    public static final float EPS = 1e-6f;

    private final String name;
    private final float[] softNorm;
    private final WeightMatrix projection;
    private final int vocabOffset, vocabSize, mmDim, textDim;
    private final float eps;
    /** embed(id) for every id of this embedder's vocabulary: [vocabSize × textDim]. */
    private final float[] hard;

    /**
     * @param embedding   [vocabSize rows × mmDim] ({@code mm.embedding} / {@code mm.a.embedding})
     * @param projection  [textDim rows × mmDim] ({@code mm.input_projection} / {@code mm.a.input_projection})
     * @param vocabOffset the first token id this embedder owns
     * @param matmul      the mode's arithmetic (exact or default), used for the hard table and every soft call
     */
    public Gemma3nMultimodalEmbedder(String name, WeightMatrix embedding, float[] hardNorm, float[] softNorm, WeightMatrix projection,
                                     int vocabOffset, float eps, MatMul matmul, ThreadPool pool) {
        this.name = name;
        this.mmDim = embedding.cols();
        this.vocabSize = embedding.rows();
        this.textDim = projection.rows();
        if (projection.cols() != mmDim) {
            throw new IllegalArgumentException(name + ": projection reads " + projection.cols() + " values, the embedding has " + mmDim);
        }
        if (hardNorm.length != mmDim || softNorm.length != mmDim) throw new IllegalArgumentException(name + ": norm widths differ from " + mmDim);
        this.softNorm = softNorm.clone();
        this.projection = projection;
        this.vocabOffset = vocabOffset;
        this.eps = eps;
        float[] rows = new float[vocabSize * mmDim];
        for (int v = 0; v < vocabSize; v++) {
            embedding.dequantizeRow(v, rows, v * mmDim);
            VectorOps.rmsNorm(rows, v * mmDim, mmDim, hardNorm, eps);
        }
        hard = project(rows, vocabSize, matmul, pool);
    }

    public String name() {
        return name;
    }

    /** The first token id this embedder owns (HF {@code vocab_offset}). */
    public int vocabOffset() {
        return vocabOffset;
    }

    /** How many ids it owns (HF {@code vocab_size}): [vocabOffset, vocabOffset + vocabSize). */
    public int vocabSize() {
        return vocabSize;
    }

    /** Width of the encoder rows it takes (2048 for MobileNet-V5, the conformer's width for audio). */
    public int inputDim() {
        return mmDim;
    }

    /** Width of the text model it feeds. */
    public int textDim() {
        return textDim;
    }

    public boolean owns(int id) {
        return id >= vocabOffset && id < vocabOffset + vocabSize;
    }

    /** The embedding of hard token {@code id} (one this embedder {@link #owns}) into {@code out[off .. off+textDim)}. */
    public void embedHard(int id, float[] out, int off) {
        if (!owns(id)) throw new IllegalArgumentException(name + ": token " + id + " is outside [" + vocabOffset + ", " + (vocabOffset + vocabSize) + ")");
        System.arraycopy(hard, (id - vocabOffset) * textDim, out, off, textDim);
    }

    /** The embedding of hard token {@code id} as a new array. */
    public float[] embedHard(int id) {
        float[] out = new float[textDim];
        embedHard(id, out, 0);
        return out;
    }

    /**
     * Soft path: {@code rows} encoder outputs [rows × inputDim] → [rows × textDim]. The caller applies any scaling HF
     * does before the embedder (vision: × √2048 on the MobileNet-V5 output; audio: none). {@code x} is not modified.
     */
    public float[] embedSoft(float[] x, int rows, MatMul matmul, ThreadPool pool) {
        if (x.length < rows * mmDim) throw new IllegalArgumentException(name + ": " + x.length + " floats for " + rows + " rows of " + mmDim);
        float[] n = java.util.Arrays.copyOf(x, rows * mmDim);
        for (int r = 0; r < rows; r++) VectorOps.rmsNorm(n, r * mmDim, mmDim, softNorm, eps);
        return project(n, rows, matmul, pool);
    }

    private float[] project(float[] normed, int rows, MatMul matmul, ThreadPool pool) {
        float[] out = new float[rows * textDim];
        matmul.matmul(projection, normed, rows, out, pool);
        for (int r = 0; r < rows; r++) VectorOps.rmsNorm(out, r * textDim, textDim, null, eps);
        return out;
    }
}
