package dev.jemma.core.model;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;

/**
 * LAuReL (learned augmented residual layer), the low-rank side branch Gemma 3n runs beside attention
 * (HF {@code Gemma3nTextLaurelBlock}): {@code laurel(x) = x + RMSNorm(R · (L · x), laurel_post_norm)} with
 * L: E → rank and R: rank → E.
 *
 * @param left     laurel_l, rank rows of E
 * @param right    laurel_r, E rows of rank
 * @param postNorm laurel_post_norm weight (used as stored)
 */
public record Laurel(WeightMatrix left, WeightMatrix right, float[] postNorm) {
    public int rank() {
        return left.rows();
    }

    /**
     * out[t] = x[t] + RMSNorm(R·(L·x[t])) for {@code count} rows of length E; {@code mid} holds at least
     * count·rank floats.
     */
    public void apply(float[] x, int count, float eps, float[] mid, float[] out, MatMul matmul, ThreadPool pool) {
        matmul.matmul(left, x, count, mid, pool);
        applyRight(x, count, eps, mid, out, matmul, pool);
    }

    /** The rest of {@link #apply} once {@code mid = L·x} is computed (by a matmul that shares x with q/k/v). */
    public void applyRight(float[] x, int count, float eps, float[] mid, float[] out, MatMul matmul, ThreadPool pool) {
        matmul.matmul(right, mid, count, out, pool);
        finishRows(x, out, 0, count, eps);
    }

    /** Rows [r0, r1) of {@code out = x + RMSNorm(out)}, once {@code out} holds R·(L·x): the step after the last matmul. */
    public void finishRows(float[] x, float[] out, int r0, int r1, float eps) {
        final int dim = right.rows();
        for (int r = r0; r < r1; r++) VectorOps.rmsNorm(out, r * dim, dim, postNorm, eps);
        VectorOps.add(out, r0 * dim, x, r0 * dim, (r1 - r0) * dim);
    }
}
