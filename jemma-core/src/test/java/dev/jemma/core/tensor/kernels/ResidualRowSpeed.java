package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;

import java.util.Arrays;
import java.util.Random;

/**
 * CPU time of one-token calls over matrices with residual rows (a Gemma 3n decode step's), from memory as in a model (not a
 * test; a main): {@code copies} distinct copies of each matrix, called in turn, so that (with enough of them) every call reads
 * its weights from DRAM, not L3. Three sides alternated round by round in one JVM: the two-row pass
 * ({@link FastMatMul#tokenAndResidualInOnePass}), the per-token kernel twice (the path before it, {@code fewTokensMax(0)}),
 * and the same matrices without residual rows (plain int8: what the residual row costs at all). Process CPU time (every
 * thread of the pool and the caller) per call, in G multiply-adds/s of the token's row (best / median of the rounds).
 * Usage: {@code java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes
 * dev.jemma.core.tensor.kernels.ResidualRowSpeed [threads] [reps] [copies] [type:rows:cols ...]} (default 2 threads, 9 reps,
 * 24 copies, Q4_0:8192:2048 Q4_0:2048:8192: E2B's FFN); -XX:UseAVX=2 -Djemma.vectorBits=256 etc. for other widths.
 */
public final class ResidualRowSpeed {
    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 9;
        int copies = args.length > 2 ? Integer.parseInt(args[2]) : 24;
        String[] cases = args.length > 3 ? Arrays.copyOfRange(args, 3, args.length) : new String[]{"Q4_0:8192:2048", "Q4_0:2048:8192"};
        System.out.printf("vector bits %d, %d threads, %d copies; G multiply-adds/s of process CPU time, best / median of %d%n",
                VectorWidth.BITS, threads, copies, reps);
        String[] names = {"two-row pass", "per-token x2", "plain int8"};
        try (ThreadPool pool = new ThreadPool(threads)) {
            for (String c : cases) {
                String[] p = c.split(":");
                GgmlType type = GgmlType.valueOf(p[0]);
                int rows = Integer.parseInt(p[1]), cols = Integer.parseInt(p[2]);
                WeightMatrix[] residual = new WeightMatrix[copies], plain = new WeightMatrix[copies];
                for (int i = 0; i < copies; i++) {
                    plain[i] = FewTokensSpeed.packed(FastMatMulTest.randomMatrix(type, rows, cols, i));
                    residual[i] = plain[i].withResidualRows();
                }
                Random rnd = new Random(1);
                float[] x = new float[cols], out = new float[rows];
                for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextGaussian();
                FastMatMul mm = new FastMatMul();
                Runnable[] sides = {
                        () -> { FastMatMul.fewTokensMax(Int8FewTokens.MAX_TOKENS); for (WeightMatrix w : residual) mm.matmul(w, x, 1, out, pool); },
                        () -> { FastMatMul.fewTokensMax(0); for (WeightMatrix w : residual) mm.matmul(w, x, 1, out, pool); },
                        () -> { FastMatMul.fewTokensMax(Int8FewTokens.MAX_TOKENS); for (WeightMatrix w : plain) mm.matmul(w, x, 1, out, pool); },
                };
                AlternatedSides.warmUp(sides, 30, 6_000_000_000L);
                int loops = Math.max(1, (int) (Long.getLong("work", 12_000_000_000L) / ((long) rows * cols * copies)));
                long[][] t = AlternatedSides.sortedCpuNanos(sides, loops, reps);
                FastMatMul.fewTokensMax(Int8FewTokens.MAX_TOKENS);
                double work = (double) rows * cols * copies * loops;
                String line = String.format("%s %dx%d", type, rows, cols) + AlternatedSides.rates(names, t, work);
                System.out.println(line);
            }
        }
    }
}
