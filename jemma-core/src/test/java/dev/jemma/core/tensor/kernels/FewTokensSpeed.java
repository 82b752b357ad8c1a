package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Random;

/**
 * One-core speed of k-token matmuls over an interleaved copy (Q4_0, Q5_0, Q8_0, Q4_K, Q6_K), in G multiply-adds/s of thread CPU time (not
 * a test; a main): for each k, {@link Int8FewTokens} (FastMatMul with its default few-token limit) against the paths
 * before it (limit 0: {@link Int8Kernels} per token below 4 tokens, the tile GEMMs from 4), the two alternated call by
 * call in one JVM on a one-thread pool, best and median of the repetitions. Usage:
 * {@code java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes
 * dev.jemma.core.tensor.kernels.FewTokensSpeed [reps] [type:rows:cols ...]} (default Q4_0:6912:1152 Q8_0:16384:1152,
 * k = 1..8, 12, 16, 17, 24; {@code -Dks=2,4,8} for others). Add -Djemma.vectorBits=256 / 128 (with -XX:UseAVX=2 / -XX:MaxVectorSize=16) for other widths.
 */
public final class FewTokensSpeed {
    public static void main(String[] args) {
        int reps = args.length > 0 ? Integer.parseInt(args[0]) : 15;
        String[] cases = args.length > 1 ? Arrays.copyOfRange(args, 1, args.length) : new String[]{"Q4_0:6912:1152", "Q8_0:16384:1152"};
        int[] ks = Arrays.stream(System.getProperty("ks", "1,2,3,4,5,6,7,8,12,16,17,24").split(",")).mapToInt(Integer::parseInt).toArray();
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        System.out.printf("vector bits %d; G multiply-adds/s per core (thread CPU time), best / median of %d%n", VectorWidth.BITS, reps);
        try (ThreadPool pool = new ThreadPool(1)) {
            for (String c : cases) {
                String[] p = c.split(":");
                GgmlType type = GgmlType.valueOf(p[0]);
                int rows = Integer.parseInt(p[1]), cols = Integer.parseInt(p[2]);
                // as a GGUF file's rows must be (a K-quant's 1152 columns would read past the copy's end)
                if (cols % type.blockSize != 0) throw new IllegalArgumentException(c + ": " + cols + " columns are not a multiple of " + type + "'s block size " + type.blockSize);
                WeightMatrix w = packed(FastMatMulTest.randomMatrix(type, rows, cols, 1));
                FastMatMul mm = new FastMatMul();
                Random rnd = new Random(1);
                for (int k : ks) {
                    float[] x = new float[k * cols];
                    for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                    float[] out = new float[k * rows];
                    long work = (long) rows * cols * k;
                    // warm-up: enough calls, and wall time, for C2 to compile both paths (on a loaded machine it takes seconds)
                    long warm = Math.max(20, 3_000_000_000L / work), until = System.nanoTime() + 4_000_000_000L;
                    for (int i = 0; i < warm || System.nanoTime() < until; i++) {
                        FastMatMul.fewTokensMax(Int8FewTokens.MAX_TOKENS);
                        mm.matmul(w, x, k, out, pool);
                        FastMatMul.fewTokensMax(0);
                        mm.matmul(w, x, k, out, pool);
                    }
                    int calls = (int) Math.max(1, 200_000_000L / work);
                    long[][] t = new long[2][reps];
                    for (int r = 0; r < reps; r++) {
                        for (int side = 0; side < 2; side++) {
                            FastMatMul.fewTokensMax(side == 0 ? Int8FewTokens.MAX_TOKENS : 0);
                            long c0 = mx.getCurrentThreadCpuTime();
                            for (int i = 0; i < calls; i++) mm.matmul(w, x, k, out, pool);
                            t[side][r] = mx.getCurrentThreadCpuTime() - c0;
                        }
                    }
                    FastMatMul.fewTokensMax(Int8FewTokens.MAX_TOKENS);
                    double[] best = new double[2], median = new double[2];
                    for (int side = 0; side < 2; side++) {
                        Arrays.sort(t[side]);
                        best[side] = (double) work * calls / t[side][0];
                        median[side] = (double) work * calls / t[side][reps / 2];
                    }
                    System.out.printf("%s %dx%d k=%2d  new %6.1f / %6.1f   before %6.1f / %6.1f   (%.2fx)%n", type, rows, cols, k,
                            best[0], median[0], best[1], median[1], best[0] / best[1]);
                }
            }
        }
    }

    static WeightMatrix packed(WeightMatrix w) {
        MemorySegment p = Arena.global().allocate(Interleaved.byteSize(w.type(), w.rows(), w.cols()), 64);
        Interleaved.repack(w, p, 0, Interleaved.groups(w.rows()));
        return w.withInterleaved(p);
    }
}
