package dev.jemma.core.model;

import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.VectorOps;

/**
 * Causal (optionally sliding-window) attention of one query head over a layer's cached keys plus the keys of the
 * batch being processed. Batch keys are kept apart from the cache until every query of the batch has attended, so a
 * ring cache of exactly {@code window} slots suffices however long the batch is.
 */
public final class Attention {
    private Attention() {
    }

    /**
     * @param q          query vector at {@code q[qOff..qOff+headDim)} (already normed, roped and scaled)
     * @param pos        the query's absolute position
     * @param window     sliding window (keys with pos - j < window are visible), or 0 for full attention
     * @param batchK     keys of the batch, [batchLen × kvDim], first row at position {@code batchStart}
     * @param kvHead     the KV head this query head reads
     * @param scores     scratch of at least min(pos+1, window) floats
     */
    public static void attend(float[] q, int qOff, int pos, int window, KvCache cache, int layer,
                              float[] batchK, float[] batchV, int batchStart, int kvDim, int kvHead, int headDim,
                              float[] scores, float[] out, int outOff) {
        int lo = window > 0 ? Math.max(0, pos - window + 1) : 0;
        int n = pos - lo + 1;
        float[] ck = cache.keys(layer), cv = cache.values(layer);
        int hOff = kvHead * headDim;
        float max = Float.NEGATIVE_INFINITY;
        for (int j = lo; j <= pos; j++) {
            float s = j >= batchStart
                    ? VectorOps.dot(q, qOff, batchK, (j - batchStart) * kvDim + hOff, headDim)
                    : VectorOps.dot(q, qOff, ck, cache.offset(layer, j) + hOff, headDim);
            scores[j - lo] = s;
            if (s > max) max = s;
        }
        float sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(scores[i] - max);
            scores[i] = e;
            sum += e;
        }
        float inv = 1f / sum;
        java.util.Arrays.fill(out, outOff, outOff + headDim, 0f);
        for (int j = lo; j <= pos; j++) {
            float p = scores[j - lo] * inv;
            if (j >= batchStart) VectorOps.axpy(p, batchV, (j - batchStart) * kvDim + hOff, out, outOff, headDim);
            else VectorOps.axpy(p, cv, cache.offset(layer, j) + hOff, out, outOff, headDim);
        }
    }
}
