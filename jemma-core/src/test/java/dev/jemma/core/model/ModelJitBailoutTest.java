package dev.jemma.core.model;

import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.VectorWidth;
import dev.jemma.core.testing.JitSizeBailouts;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * No method on the decode and prefill paths of whole models is too big for a JIT tier: C1's profiled tier or C2 giving up
 * on a method for size ({@link JitSizeBailouts}) while {@link ModelSteps}' files and shapes run in one JVM. Why: a kernel
 * C1 could not compile at its profiled tier (Int8FewTokens.q4kx4 at 3125 bytecodes, "out of virtual registers in
 * linear scan") reached C2 in some JVMs and stayed at C1's counting tier in others, boxing every vector operation there
 * (the Q4_K_M 4-row step at 150 MB per step, 3 of 5 JVMs at load 11-17; docs/PERFORMANCE.md, "Boxed once in a
 * whole-model step"). The boxed bytes show only in the unlucky JVMs ({@link ModelStepAllocationTest}); the bailout shows
 * in every one, within the first few hundred calls. The build runs this at the machine's width (the kernel-allocation
 * execution: a JVM of its own, where no earlier test compiled the kernels); {@code -Djemma.jvmArgs="… -XX:MaxVectorSize=16
 * -Djemma.vectorBits=128"} runs it at another width on demand. Found so far and split: q4kx4, Q4WidePasses.q4x5-q4x8 (512
 * bits, the 5-8-row step) and KQuantKernels.q6kPairs (256 and 128 bits, boxed in 3 of 10 JVMs at 128).
 */
class ModelJitBailoutTest {
    @Test
    void noMethodOfAModelStepIsTooBigForAJitTier() {
        List<String> bailouts;
        try (JitSizeBailouts jit = new JitSizeBailouts(); ThreadPool pool = new ThreadPool(2)) {
            // each type once (the allocation test's second Q4_K_M load compiles nothing new)
            for (String variant : java.util.Arrays.stream(ModelSteps.VARIANTS).distinct().toList()) {
                try (LanguageModel m = ModelLoader.load(ModelSteps.file(variant), new ModelLoader.Options(false, 2, 64), pool)) {
                    // a quarter of the allocation test's warm-up round (12-100 calls): each runs a kernel per matrix and
                    // pass, so every kernel passes C1's thresholds for its profiled tier (200 calls, or loop trips) many
                    // times over
                    for (ModelSteps.Step step : ModelSteps.of(m)) {
                        for (int i = 0; i < step.warm() / 4; i++) step.call().run();
                    }
                }
            }
            bailouts = jit.stop();
        }
        assertThat(bailouts).as("Jemma methods a JIT tier gave up on for size at %d bits (they can stay boxed)", VectorWidth.BITS).isEmpty();
    }
}
