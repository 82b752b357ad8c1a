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
     * A gated FFN's activation, elementwise: {@code g[off + i] = act(g[off + i]) · u[off + i]} for i < n. An
     * implementation of {@link #gatedFfn} may apply it to any split of a row into runs of 64 values, so a run's results
     * must not depend on where it starts (a vectorized activation over whole vectors of at most 16 floats qualifies).
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
     */
    default boolean gatedFfn(WeightMatrix[] gateUp, WeightMatrix down, float[] x, int nTokens, float[][] gateUpOut, float[] out,
                             Gate act, ThreadPool pool) {
        return false;
    }

    /** Exact mode: each weight row dequantized once to f32, then dotted with every token in f32. */
    MatMul EXACT = new ExactMatMul();
}
