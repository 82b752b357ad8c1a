package dev.jemma.core.model;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.kernels.FastMatMul;

/** Chooses the fast (default-mode) matmul implementation: one instance per model (safe for concurrent forwards). */
final class MatMuls {
    private MatMuls() {
    }

    static MatMul fast() {
        return new FastMatMul();
    }
}
