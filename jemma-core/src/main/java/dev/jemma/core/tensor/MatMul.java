package dev.jemma.core.tensor;

/**
 * out[t·rows + r] = Σ_c W[r,c] · x[t·cols + c] for every token t of a batch — the one operation that dominates
 * both prefill and decode. Implementations differ in numerics (exact f32 vs int8 activations) and speed.
 */
public interface MatMul {
    void matmul(WeightMatrix w, float[] x, int nTokens, float[] out, ThreadPool pool);

    /** Exact mode: each weight row dequantized once to f32, then dotted with every token in f32. */
    MatMul EXACT = new ExactMatMul();
}
