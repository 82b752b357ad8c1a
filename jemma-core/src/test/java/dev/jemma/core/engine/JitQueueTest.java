package dev.jemma.core.engine;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class JitQueueTest {
    private static final String IDLE = """
            Current compiles:\s
            C1 CompilerThread0   661       3       dev.jemma.core.tensor.VectorOps::rmsNorm (40 bytes)

            C1 compile queue:
            dev.jemma.core.model.Ops::gelu (30 bytes)

            C2 compile queue:
            Empty
            """;

    @Test
    void onlyC2WorkOnMatchingMethodsCounts() {
        assertThat(JitQueue.c2Busy(IDLE, "dev.jemma.")).as("C1 at work on ours, nothing in C2").isFalse();
        assertThat(JitQueue.c2Busy(IDLE.replace("C1 CompilerThread0", "C2 CompilerThread0"), "dev.jemma.")).as("C2 compiling ours").isTrue();
        assertThat(JitQueue.c2Busy(IDLE.replace("C2 compile queue:\nEmpty", "C2 compile queue:\n  12  4  dev.jemma.core.tensor.kernels.Int8FewTokens::q4x3one (900 bytes)"),
                "dev.jemma.")).as("ours queued for C2").isTrue();
        assertThat(JitQueue.c2Busy(IDLE.replace("C1 CompilerThread0", "C2 CompilerThread0"), "org.eclipse.")).as("another prefix").isFalse();
    }

    @Test
    void thisJvmAnswers() {
        // the diagnostic command exists on HotSpot (what Jemma runs on): a wrong command name would make c2Busy always false
        assertThat(JitQueue.dcmd("compilerQueue")).contains("C2 compile queue");
    }
}
