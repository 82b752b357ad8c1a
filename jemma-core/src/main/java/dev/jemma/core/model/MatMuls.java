package dev.jemma.core.model;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.kernels.FastMatMul;

/** Chooses the fast (default-mode) matmul implementation: a new instance per model (it holds per-call scratch). */
final class MatMuls {
    private MatMuls() {
    }

    static MatMul fast() {
        return new FastMatMul();
    }
}
