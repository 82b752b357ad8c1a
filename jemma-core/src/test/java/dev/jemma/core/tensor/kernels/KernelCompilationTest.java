package dev.jemma.core.tensor.kernels;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.jemma.core.testing.JitSettled.dcmd;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The kernels C1 cannot compile never run C1 code ({@link KernelCompilation}): one that C1 gives up on while it runs C1's
 * tier-2 code stays there for good, boxing every vector.
 */
class KernelCompilationTest {

    @Test
    void theKernelsC1CannotCompileNeverRunC1Code() throws InterruptedException {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        assertThat(KernelCompilation.INSTALLED).as("the directive keeping those kernels out of C1 was added").isTrue();
        int rows = 32, cols = 64;
        dev.jemma.core.tensor.WeightMatrix w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(dev.jemma.core.tensor.GgmlType.F16, rows, cols, 3));
        float[] x = new float[cols], xs = new float[cols], out = new float[rows];
        for (int i = 0; i < cols; i++) x[i] = (i % 7) - 3;
        assertThat(InterleavedGemm.scaleForF16(x, cols, xs)).isTrue();
        // past C1's tier-3 invocation threshold (200), short of C2's (5 000): without the directive these now run C1 code
        for (int i = 0; i < 1500; i++) {
            InterleavedGemm.gemvF16Scaled(w.interleaved(), 0, 1, rows, cols, xs, 0, out, 0);
            InterleavedGemm.gemvF16(w.interleaved(), 0, 1, rows, cols, x, 0, out, 0);
        }
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (dcmd("compilerQueue").contains("InterleavedGemm.gemvF16") && System.nanoTime() < deadline) Thread.sleep(50);
        assertThat(c1Code()).as("excluded kernels with C1 code (compileId level state method)").isEmpty();
    }

    /** Code list lines of {@link KernelCompilation#EXCLUDED} methods compiled at tiers 1–3 (C1). */
    private static List<String> c1Code() {
        List<String> found = new ArrayList<>();
        for (String line : dcmd("compilerCodelist").split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 4 || !(f[1].equals("1") || f[1].equals("2") || f[1].equals("3"))) continue;
            int paren = f[3].indexOf('(');
            if (KernelC1ListTest.excluded(paren < 0 ? f[3] : f[3].substring(0, paren))) found.add(line.trim());
        }
        return found;
    }
}
