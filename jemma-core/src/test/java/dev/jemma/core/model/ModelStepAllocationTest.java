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
 * from one shape. The build runs it at 512, 256 and 128 bits (jemma-core's kernel-allocation, width-256 and width-128
 * executions), since the last kernels found boxed in such a JVM were fixed: Int8FewTokens.q6kx2 (about 1 JVM in 10 at 512
 * bits) and Int8Gemm.quads (a 40-token Q4_0 prompt at 2.1 MB per call; in Int8KernelSpeed 7 of 7 loaded JVMs;
 * docs/PERFORMANCE.md, "The last boxed kernels"). {@link ModelJitBailoutTest} checks the part that does not depend on the JVM's luck.
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
    /**
     * Gemma 3n's bound: its steps' own objects are more (per layer: AltUp, PLE and LAuReL row tasks, the residual rows'
     * buffers) — gemma3n-tiny Q8_0 measured 4.3-15.9 KB for a decode step, 12.1 KB for 4 rows, 14.8 KB for 5-8 rows and
     * 9.4-15.1 KB for the 40-token prompt at 512 / 256 / 128 bits — while its boxed f32 row tiles (until 2026-12-07)
     * allocated 1.7, 3.5 and 16.8 MB per 4-row, 5-8-row and prompt step.
     */
    static final long GEMMA3N_STEP_BOUND = 48 * 1024;

    /** The bound of a {@link ModelSteps#VARIANTS} entry. */
    static long boundFor(String variant) {
        return variant.startsWith("gemma3n") ? GEMMA3N_STEP_BOUND : PER_STEP_BOUND;
    }
    /**
     * How much CPU time of this JVM (every thread: the steps' and the JIT's) a case may take to compile, -Djemma.allocationSeconds:
     * CPU, not wall time, because at load 26-30 on 2 cores a step's kernels were not even queued for C1 within 90 s of wall
     * time (still interpreted, 2.8 MB per decode step) — the whole test takes 25-55 s of CPU when clean.
     */
    private static final long SECONDS = Long.getLong("jemma.allocationSeconds", 60);

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
                        long least = leastBytesPerCall(threads, ids, step.call(), step.warm(), boundFor(variant));
                        String line = String.format("%s %s at %d bits: %d bytes per compiled call", variant, step.name(), VectorWidth.BITS, least);
                        System.out.println(line);
                        if (least > boundFor(variant)) failures.add(line);
                    }
                }
            }
            bailouts = jit.stop();
        }
        assertThat(bailouts).as("Jemma methods a JIT tier gave up on for size (they can stay boxed)").isEmpty();
        assertThat(failures).as("steps allocating more than their bound (%d bytes, Gemma 3n %d: boxed vectors) in a JVM that ran every type", PER_STEP_BOUND, GEMMA3N_STEP_BOUND).isEmpty();
    }

    /**
     * The fewest bytes one call allocated on {@code ids}' threads (the caller and the pool's workers), measured after each
     * round of {@code warm} calls until one is within the bound or the JVM has spent {@link #SECONDS} more of CPU time.
     */
    private static long leastBytesPerCall(com.sun.management.ThreadMXBean threads, long[] ids, Runnable call, int warm, long bound) {
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long least = Long.MAX_VALUE, deadline = os.getProcessCpuTime() + SECONDS * 1_000_000_000L;
        while (least > bound && os.getProcessCpuTime() < deadline) {
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
