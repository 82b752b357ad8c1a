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

    /** Exact mode: each weight row dequantized once to f32, then dotted with every token in f32. */
    MatMul EXACT = new ExactMatMul();
}
