package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Once compiled, a call of the int8 GEMM allocates nothing. This guards its speed, which no other test sees: when C2
 * runs out of inlining budget in the tile kernel it leaves Vector API operations as calls, the results stay right, and
 * every block allocates boxed vectors (measured once: 67 → 27 G multiply-adds/s). Calls are repeated until one
 * allocates zero bytes (C2 has compiled the kernels by then) or the time limit passes.
 */
class Int8GemmAllocationTest {
    @TempDir
    static Path dir;

    /**
     * The copy as the model has it: a file mapping (the repack cache), not an {@code Arena} allocation — kernels whose
     * call sites have seen both segment implementations can be compiled differently.
     */
    static WeightMatrix mapped(WeightMatrix w) {
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


    @ParameterizedTest(name = "{0}")
    @CsvSource({"Q4_0, 1152", "Q5_0, 1152", "Q4_K, 1536"})
    void compiledGemmDoesNotAllocate(GgmlType type, int cols) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs 512-bit vectors");
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        int rows = 256, n = 9;
        WeightMatrix w = mapped(Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 7)));
        Random rnd = new Random(1);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        QuantizedActivations xq = new QuantizedActivations();
        xq.reserve(n, cols);
        xq.quantize(x, 0, n);
        float[] out = new float[xq.tokens * rows]; // with residual rows the GEMM sees 2n tokens
        Int8Gemm.Scratch s = new Int8Gemm.Scratch();
        long id = Thread.currentThread().threadId(), least = Long.MAX_VALUE;
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (least > 0 && System.nanoTime() < deadline) {
            for (int i = 0; i < 200; i++) Int8Gemm.gemm(type, w.interleaved(), rows, cols, xq, out, 0, Int8Gemm.pairs(rows), s);
            long before = threads.getThreadAllocatedBytes(id);
            Int8Gemm.gemm(type, w.interleaved(), rows, cols, xq, out, 0, Int8Gemm.pairs(rows), s);
            least = Math.min(least, threads.getThreadAllocatedBytes(id) - before);
        }
        assertThat(least).as("bytes allocated by one compiled %s GEMM call", type).isZero();
    }
}
