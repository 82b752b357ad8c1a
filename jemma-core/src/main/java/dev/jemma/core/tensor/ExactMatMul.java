package dev.jemma.core.tensor;

/** Reference-exact matmul: weights decoded exactly to f32, f32 accumulation. Rows are split across threads. */
final class ExactMatMul implements MatMul {
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    @Override
    public void matmul(WeightMatrix w, float[] x, int nTokens, float[] out, ThreadPool pool) {
        final int rows = w.rows(), cols = w.cols();
        pool.parallelFor(rows, (r0, r1, worker) -> {
            float[] row = SCRATCH.get();
            if (row.length < cols) {
                row = new float[cols];
                SCRATCH.set(row);
            }
            for (int r = r0; r < r1; r++) {
                w.dequantizeRow(r, row, 0);
                for (int t = 0; t < nTokens; t++) {
                    out[t * rows + r] = VectorOps.dot(row, 0, x, t * cols, cols);
                }
            }
        });
    }
}
