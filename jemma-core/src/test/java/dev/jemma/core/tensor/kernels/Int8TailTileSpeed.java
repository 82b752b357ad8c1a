package dev.jemma.core.tensor.kernels;

import java.util.Random;

/**
 * One core, what a batch's last tokens cost the int8 GEMM on one decoded 128-column × 64-row tile (L1-resident, as in the
 * GEMM), CPU nanoseconds per tile: a last 2 or 3 as one-token passes ({@link Int8Gemm#tile1}) and with
 * {@link Int8Gemm#tile2}, and a whole {@link Int8Gemm#tile4} for scale. Alternated within each round in one JVM (the
 * order reverses every round; best of 5 slices, {@link F32KernelSpeed#measure}); not a test. Usage: {@code java
 * --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt)
 * dev.jemma.core.tensor.kernels.Int8TailTileSpeed ROUNDS SECONDS}. Prints the bytes the last call allocated (0 unless
 * C2 boxed a vector).
 */
public final class Int8TailTileSpeed {
    private static final int REPEAT = 100;

    public static void main(String[] args) {
        int rounds = Integer.parseInt(args[0]);
        double seconds = Double.parseDouble(args[1]);
        final int nc = Int8Gemm.COLS, cols = 1152, nb = cols / 32, rows = Int8Gemm.ROWS;
        Random rnd = new Random(3);
        short[] wt = new short[nc * rows + Int8Gemm.SUMS_PAD];
        for (int i = 0; i < nc * rows; i++) wt[i] = (short) (rnd.nextInt(16) - 8);
        float[] ds = new float[nc / 32 * rows + Int8Gemm.ACC_PAD];
        for (int i = 0; i < ds.length; i++) ds[i] = rnd.nextFloat() * 0.01f;
        short[] xq = new short[12 * cols];
        for (int i = 0; i < xq.length; i++) xq[i] = (short) (rnd.nextInt(255) - 127);
        float[] xd = new float[12 * nb];
        for (int i = 0; i < xd.length; i++) xd[i] = rnd.nextFloat() * 0.05f;
        float[] acc = new float[Int8Gemm.ACC_PAD + 12 * rows + Int8Gemm.ACC_PAD];
        short[] sums = new short[Int8Gemm.SUMS_PAD + Int8Gemm.SUMS + Int8Gemm.SUMS_PAD];
        final int ao = Int8Gemm.ACC_PAD;
        String[] names = {"2 as 1+1", "2 as tile2", "3 as 1+1+1", "3 as 2+1", "4 (tile4)"};
        Runnable[] calls = {
                () -> {
                    for (int t = 0; t < 2; t++) Int8Gemm.tile1(wt, ds, nc, 32, xq, xd, t * cols, t * nb, nb, acc, ao + t * rows, sums);
                },
                () -> Int8Gemm.tile2(wt, ds, nc, 32, xq, xd, 0, 0, cols, nb, acc, ao, sums),
                () -> {
                    for (int t = 0; t < 3; t++) Int8Gemm.tile1(wt, ds, nc, 32, xq, xd, t * cols, t * nb, nb, acc, ao + t * rows, sums);
                },
                () -> {
                    Int8Gemm.tile2(wt, ds, nc, 32, xq, xd, 0, 0, cols, nb, acc, ao, sums);
                    Int8Gemm.tile1(wt, ds, nc, 32, xq, xd, 2 * cols, 2 * nb, nb, acc, ao + 2 * rows, sums);
                },
                () -> Int8Gemm.tile4(wt, ds, nc, 32, xq, xd, 0, 0, cols, nb, acc, ao, sums),
        };
        System.out.printf("vector bits: %d, one %d x %d tile, ns per call%n", VectorWidth.BITS, nc, rows);
        for (int r = 0; r < rounds; r++) {
            StringBuilder line = new StringBuilder(String.format("round %d", r));
            double[] ns = new double[names.length];
            long[] bytes = new long[names.length];
            for (int k = 0; k < names.length; k++) {
                int i = r % 2 == 0 ? k : names.length - 1 - k;
                Runnable c = calls[i];
                // REPEAT calls per measured call: the thread-CPU clock read after each measured call costs ~2 µs here,
                // as much as one of these passes
                double perNs = F32KernelSpeed.measure(() -> {
                    for (int k2 = 0; k2 < REPEAT; k2++) c.run();
                    Int8KernelSpeed.sink += acc[ao + 7];
                }, REPEAT, seconds);
                ns[i] = 1 / perNs;
                bytes[i] = F32KernelSpeed.allocated;
            }
            for (int i = 0; i < names.length; i++) line.append(String.format(" | %s %.0f (%d B)", names[i], ns[i], bytes[i]));
            System.out.println(line);
        }
    }
}
