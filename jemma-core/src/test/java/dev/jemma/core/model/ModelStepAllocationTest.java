package dev.jemma.core.model;

import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.VectorWidth;
import dev.jemma.core.testing.JitSizeBailouts;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The decode and prefill paths of whole models allocate no boxed vectors once compiled, in one JVM that runs them the way
 * a long-lived server does (issue 16, docs/PERFORMANCE.md, "Kernels in a long-lived mixed-use JVM"): several files of
 * different quantization types one after another (keep-alive swaps: Q4_K_M's Q4_K / Q6_K / Q5_0 kernels, then Q4_0,
 * Q8_0 and Q6_K files, then Q4_K_M again), each through single-token decode steps, batched steps of 4 rows and a
 * 40-token prompt ({@link ModelSteps}), so that every kernel is compiled from the mixed profile real use gives it, not
 * from one shape. Run on demand ({@code mvn surefire:test -pl jemma-core -Dtest=ModelStepAllocationTest}, any width), not
 * in the build yet: at 512 bits it still fails in about 1 JVM of 10 on a boxed C2 compile of Int8FewTokens.q6kx2 (3.1 MB
 * per 4-row step; docs/PERFORMANCE.md, "Boxed once in a whole-model step"). The build runs {@link ModelJitBailoutTest},
 * the part of this check that does not depend on the JVM's luck.
 * <p>
 * What a compiled step may allocate: the model's own per-call objects (the {@link Batch} and its row lists, per-call
 * bookkeeping) — measured 2.5-3.4 KB for a decode or 4-row step and 6.8 KB for the 40-token prompt at 512 bits (the
 * figures printed). A kernel that C2 left with Vector API calls boxes vectors on every block: even one boxed vector
 * (at least 80 bytes) per 32-row group and block in each of a layer's 7 matrices comes to 6 layers × 7 × 8 groups × 80 B
 * ≈ 27 KB per token, and the boxing found so far cost 0.1-150 MB per call; {@value #PER_STEP_BOUND} bytes lies between.
 * <p>
 * And no Jemma method may be too big for a JIT tier ({@link JitSizeBailouts}): Int8FewTokens.q4kx4 once was, for C1's
 * profiled tier, and stayed boxed in the JVMs where the failed compile was the on-stack-replacement one (the Q4_K_M
 * 4-row step at 150 MB per step, 3 of 5 JVMs at load 11-17, docs/PERFORMANCE.md, "Boxed once in a whole-model step");
 * the bailout itself shows in every JVM, so that check does not depend on which compile came first.
 */
class ModelStepAllocationTest {
    /** Bytes a compiled step may allocate (see the class comment). */
    static final long PER_STEP_BOUND = 16 * 1024;
    /** How long a case may take to compile (90 s: on a loaded machine C2 may need that); -Djemma.allocationSeconds. */
    private static final long SECONDS = Long.getLong("jemma.allocationSeconds", 90);

    @Test
    void compiledStepsOfEveryModelTypeInOneJvmDoNotBox() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        List<String> failures = new ArrayList<>();
        List<String> bailouts;
        try (JitSizeBailouts jit = new JitSizeBailouts(); ThreadPool pool = new ThreadPool(2)) {
            for (String variant : ModelSteps.VARIANTS) {
                try (LanguageModel m = ModelLoader.load(ModelSteps.file(variant), new ModelLoader.Options(false, 2, 64), pool)) {
                    List<Thread> workers = new ArrayList<>(pool.workers());
                    workers.add(Thread.currentThread());
                    long[] ids = workers.stream().mapToLong(Thread::threadId).toArray();
                    for (ModelSteps.Step step : ModelSteps.of(m)) {
                        long least = leastBytesPerCall(threads, ids, step.call(), step.warm());
                        String line = String.format("%s %s at %d bits: %d bytes per compiled call", variant, step.name(), VectorWidth.BITS, least);
                        System.out.println(line);
                        if (least > PER_STEP_BOUND) failures.add(line);
                    }
                }
            }
            bailouts = jit.stop();
        }
        assertThat(bailouts).as("Jemma methods a JIT tier gave up on for size (they can stay boxed)").isEmpty();
        assertThat(failures).as("steps allocating more than %d bytes (boxed vectors) in a JVM that ran every type", PER_STEP_BOUND).isEmpty();
    }

    /**
     * The fewest bytes one call allocated on {@code ids}' threads (the caller and the pool's workers), measured after each
     * round of {@code warm} calls until one is within the bound or {@link #SECONDS} pass.
     */
    private static long leastBytesPerCall(com.sun.management.ThreadMXBean threads, long[] ids, Runnable call, int warm) {
        long least = Long.MAX_VALUE, deadline = System.nanoTime() + SECONDS * 1_000_000_000L;
        while (least > PER_STEP_BOUND && System.nanoTime() < deadline) {
            for (int i = 0; i < warm; i++) call.run();
            long before = sum(threads.getThreadAllocatedBytes(ids));
            call.run();
            least = Math.min(least, sum(threads.getThreadAllocatedBytes(ids)) - before);
        }
        return least;
    }

    private static long sum(long[] a) {
        long s = 0;
        for (long v : a) s += Math.max(0, v);
        return s;
    }
}
