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
 * Once compiled, a call of the int8 GEMM, of the single-token and few-token int8 kernels and of the activation quantizer allocates
 * nothing, at whatever width {@link VectorWidth} chose (the build runs this class at 512, 256 and 128 bits). This guards its speed, which no other test sees: when C2
 * runs out of inlining budget in the tile kernel it leaves Vector API operations as calls, the results stay right, and
 * every block allocates boxed vectors (measured once: 67 → 27 G multiply-adds/s). Calls are repeated until one
 * allocates zero bytes (C2 has compiled the kernels by then) or the time limit (90 s: on a loaded machine C2 may take that long to reach the kernels) passes.
 */
class KernelAllocationTest {
    @TempDir
    static Path dir;

    /**
     * The fewest bytes one call of {@code call} allocated on this thread, measured after each round of {@code warm}
     * calls until one allocates nothing (C2 has compiled the kernels by then) or 90 s pass (on a loaded machine C2 may
     * take that long to reach them).
     */
    static long leastBytesPerCall(Runnable call, int warm) {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long id = Thread.currentThread().threadId(), least = Long.MAX_VALUE;
        long deadline = System.nanoTime() + 90_000_000_000L;
        while (least > 0 && System.nanoTime() < deadline) {
            for (int i = 0; i < warm; i++) call.run();
            long before = threads.getThreadAllocatedBytes(id);
            call.run();
            least = Math.min(least, threads.getThreadAllocatedBytes(id) - before);
        }
        return least;
    }

    /**
     * The copy as the model has it: a file mapping (the repack cache), not an {@code Arena} allocation — kernels whose
     * call sites have seen both segment implementations can be compiled differently.
     */
    static WeightMatrix mapped(WeightMatrix w) {
        try {
            // dir is JUnit's; BoxingRepro (a plain main) has none and takes the system's temporary directory
            Path f = dir != null ? Files.createTempFile(dir, "copy", ".bin") : Files.createTempFile("jemma-copy", ".bin");
            if (dir == null) f.toFile().deleteOnExit();
            Files.write(f, w.interleaved().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                return w.withInterleaved(ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), Arena.ofAuto()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * One call of {@code type}'s single-token kernel over a file-mapped random {@code rows x cols} matrix, the activations
     * quantized inside the call as a model step does (shared with {@link BoxingRepro}).
     */
    static Runnable singleTokenCall(GgmlType type, int cols, int rows) {
        int nb = cols / 32, groups = Interleaved.groups(rows);
        WeightMatrix w = mapped(Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 5)));
        Random rnd = new Random(2);
        float[] x = new float[cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        QuantizedActivations xq = new QuantizedActivations();
        xq.reserve(1, cols);
        float[] out = new float[rows];
        return () -> {
            xq.quantize(x, 0, 1);
            switch (type) {
                case Q4_0 -> Int8Kernels.q4(w.interleaved(), 0, groups, rows, nb, xq, 0, out);
                case Q8_0 -> Int8Kernels.q8(w.interleaved(), 0, groups, rows, nb, xq, 0, out);
                case Q5_0 -> Int8Kernels.q5(w.interleaved(), 0, groups, rows, nb, xq, 0, out);
                case Q4_K -> KQuantKernels.q4k(w.interleaved(), 0, groups, rows, nb, xq, 0, out);
                case Q5_K -> KQuantKernels.q5k(w.interleaved(), 0, groups, rows, nb, xq, 0, out);
                default -> KQuantKernels.q6k(w.interleaved(), 0, groups, rows, nb, xq, 0, out);
            }
        };
    }


    /** One call of the f32 tile GEMM over {@code type}'s decoded weights: 11 tokens × 80 rows (shared with {@link BoxingRepro}). */
    static Runnable tileGemmCall(GgmlType type, int cols) {
        int rows = 80, n = 11, groups = Interleaved.groups(rows);
        WeightMatrix w = mapped(Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 9)));
        Random rnd = new Random(3);
        float[] x = new float[n * cols], out = new float[n * rows];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        float[] tile = new float[InterleavedGemm.COLS * 32 + 128], part = new float[InterleavedGemm.PART];
        return () -> InterleavedGemm.gemm(type, w.interleaved(), rows, cols, x, 0, n, out, 0, groups, tile, part);
    }

    /**
     * One call of {@code type}'s few-token kernel: {@code n} tokens against every group of a file-mapped random
     * {@code rows x cols} matrix (shared with {@link BoxingRepro}).
     */
    static Runnable fewTokenCall(GgmlType type, int cols, int rows, int n) {
        int nb = cols / 32;
        WeightMatrix w = mapped(Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 3)));
        Random rnd = new Random(4);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        QuantizedActivations xq = new QuantizedActivations();
        xq.reserve(n, cols);
        xq.quantize(x, 0, n);
        float[] xf = xq.floats();
        float[] out = new float[xq.tokens * rows], acc = new float[Int8FewTokens.scratchFloats()];
        int items = Int8FewTokens.items(rows);
        return () -> {
            switch (type) {
                case Q8_0 -> Int8FewTokens.q8(w.interleaved(), 0, items, rows, nb, xq, xf, out, acc);
                case Q4_K -> Int8FewTokens.q4k(w.interleaved(), 0, items, rows, nb, xq, out, acc);
                case Q5_0 -> Int8FewTokens.q5(w.interleaved(), 0, items, rows, nb, xq, out, acc);
                case Q6_K -> Int8FewTokens.q6k(w.interleaved(), 0, items, rows, nb, xq, out, acc);
                default -> Int8FewTokens.q4(w.interleaved(), 0, items, rows, nb, xq, out, acc);
            }
        };
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"Q4_0, 1152", "Q5_0, 1152", "Q4_K, 1536"})
    void compiledGemmDoesNotAllocate(GgmlType type, int cols) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        // every register tile at every width: at 512 bits, Q4_0 / Q4_K, 23 = 12 + 6 + 4 + 1, 20 = 12 + 6 + 2
        // (Q5_0: 18 + 4 + 1, 18 + 2); below, 20 + 2 + 1, 20
        int rows = 256;
        int[] counts = {23, 20};
        WeightMatrix w = mapped(Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, rows, cols, 7)));
        Random rnd = new Random(1);
        float[] x = new float[23 * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        QuantizedActivations[] xq = new QuantizedActivations[counts.length];
        for (int k = 0; k < counts.length; k++) {
            xq[k] = new QuantizedActivations();
            xq[k].reserve(counts[k], cols);
            xq[k].quantize(x, 0, counts[k]);
        }
        float[] out = new float[xq[0].tokens * rows]; // with residual rows the GEMM sees 2n tokens
        Int8Gemm.Scratch s = new Int8Gemm.Scratch();
        long least = leastBytesPerCall(() -> {
            for (QuantizedActivations q : xq) Int8Gemm.gemm(type, w.interleaved(), rows, cols, q, out, 0, Int8Gemm.pairs(rows), s);
        }, 200);
        assertThat(least).as("bytes allocated by one compiled %s GEMM call", type).isZero();
    }

    /**
     * The f32 tile GEMM over decoded weights (Q8_0 / Q6_K batches; Q4_0 / Q4_K / Q5_0 batches with residual rows): 11 tokens, so that the 6-, 4- and 1-token tiles all
     * run, with a partial last group (the merge through {@code part}).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"Q8_0, 1152", "Q6_K, 1536", "Q4_0, 1152", "Q4_K, 1536", "Q5_0, 1152"})
    void compiledTileGemmDoesNotAllocate(GgmlType type, int cols) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        Runnable call = tileGemmCall(type, cols);
        long least = leastBytesPerCall(call, 200);
        assertThat(least).as("bytes allocated by one compiled %s tile GEMM call", type).isZero();
    }

    /**
     * The f32 register tiles over decoded rows ({@link Gemm}: prompts in exact mode, and every matrix without an
     * interleaved copy — the vision towers' F16 matrices): 16 lane sums per 4×4 tile once exceeded C2's inlining node
     * budget, and the sums left as calls boxed their vectors (85 GB per SigLIP image at 512 bits). 1153 columns: a scalar
     * tail after the vectors.
     */
    @ParameterizedTest(name = "{0} columns")
    @CsvSource({"1152", "1153"})
    void compiledRowTilesDoNotAllocate(int cols) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        Random rnd = new Random(5);
        float[] a = new float[4 * cols], x = new float[8 * cols], out = new float[8 * 4], acc = new float[Gemm.ACC_FLOATS];
        for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        long least = leastBytesPerCall(() -> {
            for (int t = 0; t < 8; t += 4) {
                Gemm.k4x4(a, 0, cols, 2 * cols, 3 * cols, x, t * cols, (t + 1) * cols, (t + 2) * cols, (t + 3) * cols, cols,
                        out, t * 4, (t + 1) * 4, (t + 2) * 4, (t + 3) * 4, acc, 0);
                Gemm.k1x4(a, cols, x, t * cols, (t + 1) * cols, (t + 2) * cols, (t + 3) * cols, cols,
                        out, t * 4 + 1, (t + 1) * 4 + 1, (t + 2) * 4 + 1, (t + 3) * 4 + 1, acc, 0);
            }
        }, 2000);
        assertThat(least).as("bytes allocated by one compiled pass of the row tiles at %d bits", VectorWidth.BITS).isZero();
    }

    /** The single-token (decode) kernels: one token against every group, as FastMatMul calls them. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"Q4_0, 1152", "Q8_0, 1152", "Q5_0, 1152", "Q4_K, 1536", "Q5_K, 1536", "Q6_K, 1536"})
    void compiledDecodeKernelDoesNotAllocate(GgmlType type, int cols) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        // strict at every width, Q6_K at 128 bits included: its kernel boxed there now and then after the other types'
        // kernels until no vector method was called on a loop-carried vector any more (VectorWidth.SV; docs/PERFORMANCE.md,
        // "Why C2 sometimes boxed a kernel")
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        Runnable call = singleTokenCall(type, cols, 256);
        long least = leastBytesPerCall(call, 2000);
        assertThat(least).as("bytes allocated by one compiled %s single-token call at %d bits", type, VectorWidth.BITS).isZero();
    }

    /**
     * The F16 GEMV (the tied output projection of a decode step), with x pre-scaled by 2^112 as FastMatMul runs it and
     * in its plain form (the fallback for activations too large to scale).
     */
    @ParameterizedTest(name = "F16 GEMV, scaled {0}")
    @CsvSource({"true", "false"})
    void compiledF16GemvDoesNotAllocate(boolean scaled) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        int rows = 256, cols = 1152, groups = Interleaved.groups(rows);
        WeightMatrix w = mapped(Int8MatMulTest.packed(FastMatMulTest.randomMatrix(GgmlType.F16, rows, cols, 6)));
        Random rnd = new Random(5);
        float[] x = new float[cols], xs = new float[cols], out = new float[rows];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        Runnable call = scaled
                ? () -> {
                    if (!InterleavedGemm.scaleForF16(x, cols, xs)) throw new AssertionError("gaussian activations scale");
                    InterleavedGemm.gemvF16Scaled(w.interleaved(), 0, groups, rows, cols, xs, 0, out, 0);
                }
                : () -> InterleavedGemm.gemvF16(w.interleaved(), 0, groups, rows, cols, x, 0, out, 0);
        long least = leastBytesPerCall(call, 2000);
        assertThat(least).as("bytes allocated by one compiled F16 GEMV call (scaled %s) at %d bits", scaled, VectorWidth.BITS).isZero();
    }

    /**
     * The few-token kernels: 17 tokens, so that every pass shape runs (8 + 4 + 3 + 2 for Q8_0 at 512 bits, else 4 + 4 + 4 +
     * 3 + 2); Q4_0 at 512 bits passes 8 + 5 + 4 there ({@link Q4WidePasses}), so calls of 15 (8 + 7), 6, 3 and 2 tokens follow.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"Q4_0, 1152", "Q8_0, 1152", "Q4_K, 1536", "Q5_0, 1152", "Q6_K, 1280"})
    void compiledFewTokenKernelDoesNotAllocate(GgmlType type, int cols) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        // a type's few-token kernel where no call takes it (Int8FewTokens.maxTokens 0: Q6_K below 512 bits) is not checked
        Assumptions.assumeTrue(Int8FewTokens.maxTokens(type) > 0, "no call takes this few-token kernel at this width");
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        Runnable call = fewTokenCall(type, cols, 256, 17);
        if (type == GgmlType.Q4_0 && Q4WidePasses.ON) {
            Runnable[] more = {call, fewTokenCall(type, cols, 256, 15), fewTokenCall(type, cols, 256, 6),
                    fewTokenCall(type, cols, 256, 3), fewTokenCall(type, cols, 256, 2)};
            call = () -> {
                for (Runnable r : more) r.run();
            };
        }
        long least = leastBytesPerCall(call, 300);
        assertThat(least).as("bytes allocated by one compiled %s few-token call at %d bits", type, VectorWidth.BITS).isZero();
    }

    /**
     * A shared-input call (q/k/v of a 1B layer: 1024, 256, 256 rows × 1152) through {@link FastMatMul} on a one-thread
     * pool, so that all its work runs here: one decode row (the per-token kernels in one fused loop, the input quantized
     * inline) and three (the few-token kernels, fused). Guards the fused loop's dispatch against keeping the kernels'
     * vectors boxed, which the kernel-level checks above cannot see.
     */
    @ParameterizedTest(name = "{0} tokens")
    @CsvSource({"1", "3"})
    void compiledSharedInputCallDoesNotAllocate(int n) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        int cols = 1152;
        int[] rows = {1024, 256, 256};
        WeightMatrix[] ws = new WeightMatrix[rows.length];
        float[][] outs = new float[rows.length][];
        for (int i = 0; i < rows.length; i++) {
            ws[i] = mapped(Int8MatMulTest.packed(FastMatMulTest.randomMatrix(GgmlType.Q4_0, rows[i], cols, 11 + i)));
            outs[i] = new float[2 * n * rows[i]];   // room for residual rows
        }
        Assumptions.assumeTrue(FastMatMul.kernel(ws[0], n).fusable && !QuantizedActivations.RESIDUAL, "no fused call here");
        Random rnd = new Random(6);
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        FastMatMul mm = new FastMatMul();
        try (var pool = new dev.jemma.core.tensor.ThreadPool(1)) {
            long least = leastBytesPerCall(() -> mm.matmul(ws, x, n, outs, pool), 300);
            assertThat(least).as("bytes allocated by one compiled %d-token shared-input call at %d bits", n, VectorWidth.BITS).isZero();
        }
    }
    /**
     * A one-token call over a matrix with residual rows (a Gemma 3n matrix) through {@link FastMatMul} on a one-thread pool:
     * the token and its residual row in one few-token pass where {@link FastMatMul#tokenAndResidualInOnePass} takes them
     * (else the per-token kernel twice), then the two rows summed.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"Q4_0, 2048", "Q8_0, 2048", "Q4_K, 2048"})
    void compiledTokenAndResidualCallDoesNotAllocate(GgmlType type, int cols) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        WeightMatrix w = mapped(Int8MatMulTest.packed(FastMatMulTest.randomMatrix(type, 512, cols, 17))).withResidualRows();
        Random rnd = new Random(12);
        float[] x = new float[cols], out = new float[512];
        for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextGaussian();
        FastMatMul mm = new FastMatMul();
        try (var pool = new dev.jemma.core.tensor.ThreadPool(1)) {
            long least = leastBytesPerCall(() -> mm.matmul(w, x, 1, out, pool), 300);
            assertThat(least).as("bytes allocated by one compiled %s token-and-residual call (%s) at %d bits", type,
                    FastMatMul.kernel(w, 1), VectorWidth.BITS).isZero();
        }
    }

    /**
     * The default mode's GELU gate ({@code Ops.geluGateFast}, 2 % of a 256-bit prompt step) allocates nothing once
     * compiled, after the JDK-tanh form ran the same Vector API operations first in this JVM (as in a JVM that serves
     * both modes).
     */
    @org.junit.jupiter.api.Test
    void compiledFastGeluGateDoesNotAllocate() {
        int n = 6912;
        float[] g = new float[n], u = new float[n];
        Random rnd = new Random(9);
        for (int i = 0; i < n; i++) {
            g[i] = (float) rnd.nextGaussian() * 3;
            u[i] = 1f;
        }
        float[] warm = g.clone();
        for (int i = 0; i < 3000; i++) dev.jemma.core.model.Ops.geluGateVector(warm, u, 0, n);
        long least = leastBytesPerCall(() -> dev.jemma.core.model.Ops.geluGateFast(g, u, 0, n), 2000);
        assertThat(least).as("bytes allocated by one compiled fast GELU gate call at %d bits", VectorWidth.BITS).isZero();
    }
}
