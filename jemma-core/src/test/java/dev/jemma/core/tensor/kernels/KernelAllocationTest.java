package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.management.ManagementFactory;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The interleaved kernels allocate nothing once C2 has compiled them. A kernel C2 compiles badly still computes the
 * right numbers, so no other test sees it: when a Vector API call is left un-inlined (the method grew past C2's
 * inlining budget), the vectors crossing it are boxed on every block — twice now a 2–3× slowdown with gigabytes per
 * second of garbage. This runs each kernel until its allocation per call reaches zero, and fails if it never does
 * within the time limit. Not a timing test: it measures bytes, and only waits for the JIT. Batches of 8 run the int8
 * GEMM for Q4_0 / Q5_0 / Q4_K and the f32 tile GEMM for the others. Q6_K is left out: after the conformance tests
 * have profiled its kernels on 256-column matrices, C2 can compile both its single-token kernel and its tile decoder
 * into a boxing form (an open hazard, docs/PERFORMANCE.md; not seen in steady-state GC logs of real files), so its
 * cases would pass or fail depending on which tests ran before them in the JVM.
 */
class KernelAllocationTest {
    private static final long LIMIT_NANOS = 40_000_000_000L;

    @ParameterizedTest(name = "{0}, {1} tokens")
    @CsvSource({"Q4_0, 1", "Q5_0, 1", "Q8_0, 1", "Q4_K, 1", "Q5_K, 1", "F16, 1",
            "Q4_0, 8", "Q5_0, 8", "Q8_0, 8", "Q4_K, 8", "Q5_K, 8", "F16, 8"})
    void steadyStateAllocatesNothing(GgmlType type, int tokens) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs 512-bit vectors");
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(mx.isThreadAllocatedMemorySupported() && mx.isThreadAllocatedMemoryEnabled());
        int rows = 64, cols = 512;
        WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 17));
        float[] x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i);
        float[] out = new float[tokens * rows];
        FastMatMul mm = new FastMatMul();
        long perRound = -1;
        try (ThreadPool pool = new ThreadPool(1)) { // one thread: the kernels run on this thread, whose bytes are counted
            long start = System.nanoTime();
            while (System.nanoTime() - start < LIMIT_NANOS) {
                long before = mx.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 500; i++) mm.matmul(w, x, tokens, out, pool);
                perRound = mx.getCurrentThreadAllocatedBytes() - before;
                if (perRound == 0) break;
            }
        }
        assertThat(perRound).as("bytes allocated by 500 %s matmuls of %d tokens after %d s of warm-up", type, tokens,
                LIMIT_NANOS / 1_000_000_000L).isZero();
    }
}
