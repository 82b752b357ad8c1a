package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Q8WidePasses} allocates nothing once compiled. In the kernel-allocation execution's JVM of its own, as
 * {@link KernelAllocationTest} (the other tests' shapes would share its profiles).
 */
class Q8WidePassesAllocationTest {
    @TempDir
    Path dir;

    /** The copy as the model has it: a file mapping (the repack cache), as {@link KernelAllocationTest#mapped}. */
    private WeightMatrix mapped(WeightMatrix w) {
        try {
            Path f = Files.createTempFile(dir, "copy", ".bin");
            Files.write(f, w.interleaved().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                return w.withInterleaved(ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), Arena.ofAuto()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
    /**
     * Once compiled, a 5-, 6- and 7-token call over a file-mapped copy (as the model's) allocates nothing: C2 keeps every
     * vector of the three passes in registers (a boxed pass stays right and runs several times slower).
     */
    @Test
    void compiledPassesDoNotAllocate() {
        Assumptions.assumeTrue(Q8WidePasses.ON, "single 5-7-token passes run at 512 bits only (" + VectorWidth.BITS + " here)");
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        int rows = 256, cols = 1152, nb = cols / 32;
        WeightMatrix w = mapped(Int8MatMulTest.packed(FastMatMulTest.randomMatrix(GgmlType.Q8_0, rows, cols, 3)));
        Random rnd = new Random(4);
        QuantizedActivations[] xq = new QuantizedActivations[3];
        float[][] xf = new float[3][];
        for (int i = 0; i < 3; i++) {
            int n = 5 + i;
            float[] x = new float[n * cols];
            for (int j = 0; j < x.length; j++) x[j] = (float) rnd.nextGaussian();
            xq[i] = new QuantizedActivations();
            xq[i].reserve(n, cols);
            xq[i].quantize(x, 0, n);
            xf[i] = xq[i].floats();
        }
        float[] out = new float[7 * rows], acc = new float[Int8FewTokens.scratchFloats()];
        int items = Int8FewTokens.items(rows);
        Runnable call = () -> {
            for (int i = 0; i < 3; i++) Q8WidePasses.q8(w.interleaved(), 0, items, rows, nb, xq[i], xf[i], out, acc);
        };
        long least = KernelAllocationTest.leastBytesPerCall(call, 200);
        assertThat(least).as("bytes allocated by compiled 5-, 6- and 7-token calls").isZero();
    }
}
