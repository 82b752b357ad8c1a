package dev.jemma.core.vision;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;

/**
 * Gemma 3's multimodal projector (HF {@code Gemma3MultiModalProjector}): the SigLIP output [P × hidden], seen as a
 * √P × √P grid, is average-pooled in k × k windows down to {@code tokensPerImage} rows (row-major over the pooled
 * grid), RMS-normalised (Gemma's 1 + w already folded into the stored weight) and projected to the text width:
 * <pre>
 *   soft = rmsNorm(avgPool_k(y)) · W        W: [hidden × textDim]
 * </pre>
 * The result is used as the soft tokens' input embeddings as is: Gemma 3 does not scale them by √dim.
 */
public final class Gemma3MultimodalProjector {
    private final VisionConfig c;
    private final float[] norm;
    /** W transposed: [textDim rows × hidden cols], so the projection is an ordinary matmul. */
    private final WeightMatrix projection;

    Gemma3MultimodalProjector(VisionWeights w, VisionConfig c) {
        this.c = c;
        VisionTensorNames n = c.names();
        norm = w.vector(n.softEmbNorm(), c.hidden());
        long[] dims = w.dims(n.inputProjection());
        // both converters store HF's [hidden, textDim] parameter as is: ggml dims {textDim, hidden}
        if (dims.length != 2 || dims[0] != c.textDim() || dims[1] != c.hidden()) {
            throw new IllegalArgumentException(n.inputProjection() + ": shape " + java.util.Arrays.toString(dims) + ", expected [" + c.textDim() + ", " + c.hidden() + "]");
        }
        float[] stored = w.all(n.inputProjection(), (long) c.hidden() * c.textDim());
        float[] t = new float[stored.length];
        for (int i = 0; i < c.hidden(); i++) {
            for (int j = 0; j < c.textDim(); j++) t[j * c.hidden() + i] = stored[i * c.textDim() + j];
        }
        projection = VisionWeights.f32(n.inputProjection(), t, c.textDim(), c.hidden());
    }

    long weightBytes() {
        return projection.data().byteSize() + 4L * norm.length;
    }

    /** Soft-token embeddings [tokensPerImage × textDim] of one image's tower output [P × hidden]. */
    public float[] forward(float[] tower, MatMul mm, ThreadPool pool) {
        final int d = c.hidden(), side = c.patchesPerSide(), k = c.poolKernel(), perSide = side / k;
        final int tokens = perSide * perSide;
        float[] pooled = new float[tokens * d];
        final float area = k * k;
        for (int ty = 0; ty < perSide; ty++) {
            for (int tx = 0; tx < perSide; tx++) {
                int o = (ty * perSide + tx) * d;
                // summed in the window's row-major order then divided, as torch's avg_pool2d does
                for (int ky = 0; ky < k; ky++) {
                    for (int kx = 0; kx < k; kx++) {
                        VectorOps.add(pooled, o, tower, ((ty * k + ky) * side + tx * k + kx) * d, d);
                    }
                }
                for (int i = 0; i < d; i++) pooled[o + i] /= area;
                VectorOps.rmsNorm(pooled, o, d, norm, c.eps());
            }
        }
        float[] out = new float[tokens * c.textDim()];
        mm.matmul(projection, pooled, tokens, out, pool);
        return out;
    }
}
