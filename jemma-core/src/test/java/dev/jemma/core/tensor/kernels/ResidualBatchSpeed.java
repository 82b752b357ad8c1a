package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;

import java.util.Arrays;
import java.util.Random;

/**
 * CPU time of batch calls over matrices with residual rows (a Gemma 3n prompt's), not a test (a main): three sides
 * alternated round by round in one JVM through {@link FastMatMul} as a model calls it — the int8 GEMM with the residual
 * rows as extra tokens (quantizing both rows, {@code addResidual}: the path before {@link FastMatMul#f32TileForResidualRows}),
 * the f32 tile over the same copy, and the same matrix without residual rows (plain int8: Gemma 3's path). Process CPU
 * time (every pool thread and the caller) per call, in G useful multiply-adds (rows × cols × tokens) per CPU second,
 * best / median of the rounds. Usage: {@code java --add-modules jdk.incubator.vector -cp
 * jemma-core/target/classes:jemma-core/target/test-classes dev.jemma.core.tensor.kernels.ResidualBatchSpeed [threads]
 * [reps] [type:rows:cols:tokens ...]} (default 1 thread, 9 reps, Q4_0:8192:2048:128 Q4_0:2048:8192:128: E2B's FFN);
 * -XX:UseAVX=2 / -XX:MaxVectorSize=16 for the other widths; {@code -Dfew=true} compares the path FastMatMul takes (in
 * its few-token range: {@link Int8FewTokens} with 2n rows) with the f32 tile.
 */
public final class ResidualBatchSpeed {
    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 9;
        String[] cases = args.length > 2 ? Arrays.copyOfRange(args, 2, args.length)
                : new String[]{"Q4_0:8192:2048:128", "Q4_0:2048:8192:128"};
        System.out.printf("vector bits %d, %d threads; G useful multiply-adds per CPU second, best / median of %d%n",
                VectorWidth.BITS, threads, reps);
        String[] names = {"int8+residual", "f32 tile", "plain int8"};
        try (ThreadPool pool = new ThreadPool(threads)) {
            for (String c : cases) {
                String[] p = c.split(":");
                GgmlType type = GgmlType.valueOf(p[0]);
                int rows = Integer.parseInt(p[1]), cols = Integer.parseInt(p[2]), n = Integer.parseInt(p[3]);
                WeightMatrix plain = FewTokensSpeed.packed(FastMatMulTest.randomMatrix(type, rows, cols, 1));
                WeightMatrix residual = plain.withResidualRows();
                Random rnd = new Random(1);
                float[] x = new float[n * cols], out = new float[n * rows];
                for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
                FastMatMul mm = new FastMatMul();
                // -Dfew=true: calls the few-token kernels take (2n rows with residual rows) against the f32 tile with
                // those kernels off (FastMatMul.fewTokensMax(0)), for FastMatMul's few-token range
                boolean few = Boolean.getBoolean("few");
                int max = Int8FewTokens.MAX_TOKENS;
                Runnable[] sides = {
                        () -> { FastMatMul.fewTokensMax(max); FastMatMul.residualBatchesOnF32(few); mm.matmul(residual, x, n, out, pool); },
                        () -> { FastMatMul.fewTokensMax(few ? 0 : max); FastMatMul.residualBatchesOnF32(true); mm.matmul(residual, x, n, out, pool); },
                        () -> { FastMatMul.fewTokensMax(max); mm.matmul(plain, x, n, out, pool); },
                };
                FastMatMul.fewTokensMax(max);
                FastMatMul.residualBatchesOnF32(few);
                if (few) names[0] = String.valueOf(FastMatMul.kernel(residual, n)).toLowerCase() + "+residual";
                AlternatedSides.warmUp(sides, 10, 5_000_000_000L);
                int loops = Math.max(1, (int) (Long.getLong("work", 20_000_000_000L) / ((long) rows * cols * n)));
                long[][] t = AlternatedSides.sortedCpuNanos(sides, loops, reps);
                FastMatMul.fewTokensMax(max);
                FastMatMul.residualBatchesOnF32(true);
                double work = (double) rows * cols * n * loops;
                String line = String.format("%s %dx%d %d tokens", type, rows, cols, n) + AlternatedSides.rates(names, t, work);
                System.out.println(line);
            }
        }
    }
}
