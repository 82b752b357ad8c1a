package dev.jemma.core.tensor;

/**
 * out[t·rows + r] = Σ_c W[r,c] · x[t·cols + c] for every token t of a batch — the one operation that dominates
 * both prefill and decode. Implementations differ in numerics (exact f32 vs int8 activations) and speed.
 */
public interface MatMul {
    void matmul(WeightMatrix w, float[] x, int nTokens, float[] out, ThreadPool pool);

    /**
     * One {@link #matmul} per matrix, for matrices that read the same input (q/k/v, gate/up): an implementation may
     * prepare {@code x} once for all of them (the int8 paths quantize it once instead of once per matrix).
     */
    default void matmul(WeightMatrix[] ws, float[] x, int nTokens, float[][] outs, ThreadPool pool) {
        for (int i = 0; i < ws.length; i++) matmul(ws[i], x, nTokens, outs[i], pool);
    }

    /**
     * As {@link #matmul(WeightMatrix[], float[], int, float[][], ThreadPool)}, with {@code prep} run over the input's
     * rows first: {@code prep.run(t0, t1, worker)} must finish rows [t0, t1) of {@code x} (a norm, a residual add, a
     * GELU gate) touching only rows [t0, t1) of whatever it reads or writes, so that any split of the rows gives the
     * same result. An implementation that splits the rows across the threads for its own per-row work (quantizing the
     * activations) runs {@code prep} inside that loop, each thread preparing the rows it then quantizes: one hand-off
     * and one wait per matmul instead of two. This default runs it as a loop of its own ({@link ThreadPool#rows}).
     */
    default void matmul(WeightMatrix[] ws, float[] x, int nTokens, float[][] outs, ThreadPool pool, ThreadPool.RangeTask prep) {
        ThreadPool.rows(pool, nTokens, prep);
        matmul(ws, x, nTokens, outs, pool);
    }

    /** As {@link #matmul(WeightMatrix, float[], int, float[], ThreadPool)} with {@code prep} first (see the shared-input form). */
    default void matmul(WeightMatrix w, float[] x, int nTokens, float[] out, ThreadPool pool, ThreadPool.RangeTask prep) {
        ThreadPool.rows(pool, nTokens, prep);
        matmul(w, x, nTokens, out, pool);
    }

    /**
     * A gated FFN's activation, elementwise: {@code g[off + i] = act(g[off + i]) · u[off + i]} for i < n. An
     * implementation of {@link #gatedFfn} may apply it to any split of a row into runs of a multiple of 64 values, so a
     * run's results must not depend on where it starts (a vectorized activation over whole vectors of at most 16 floats
     * qualifies).
     */
    @FunctionalInterface
    interface Gate {
        void apply(float[] g, float[] u, int off, int n);
    }

    /**
     * {@code out = down(act(gate(x)) ⊙ up(x))} for {@code nTokens} rows in fewer loops than its three steps, where the
     * implementation can: gateUpOut[0] then holds the down projection's input, as after the three steps, and the
     * result is theirs bit for bit. Returns false, having done nothing, where it cannot (the default): the caller
     * then runs gate/up ({@link #matmul(WeightMatrix[], float[], int, float[][], ThreadPool)}), the activation and down.
     * {@code prep} (null: none) finishes x's rows first, under the contract of the {@code matmul(…, prep)} forms, inside
     * the loop that quantizes x; when this returns false it has not run either.
     */
    default boolean gatedFfn(WeightMatrix[] gateUp, WeightMatrix down, float[] x, int nTokens, float[][] gateUpOut, float[] out,
                             Gate act, ThreadPool.RangeTask prep, ThreadPool pool) {
        return false;
    }

    /** Exact mode: each weight row dequantized once to f32, then dotted with every token in f32. */
    MatMul EXACT = new ExactMatMul();
}
