package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * One core, the 512-bit int8 GEMM with 6- and 12-token tiles ({@link Int8Gemm#twelveTokenTiles}), alternated within each
 * round in one JVM (the order flips every round), in G multiply-adds per CPU second (best of 5 slices per measurement,
 * {@link F32KernelSpeed#measure}); not a test. Usage: {@code java --add-modules jdk.incubator.vector -cp
 * jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) dev.jemma.core.tensor.kernels.Int8GemmTileSpeed
 * ROUNDS SECONDS TYPE:ROWSxCOLSxTOKENS ...} (e.g. {@code Q4_0:6912x1152x512 Q4_0:1152x6912x512}: a 1B gate/up and down
 * projection over a 512-token prompt). Prints the bytes the last call allocated (0 unless C2 boxed a vector).
 */
public final class Int8GemmTileSpeed {
    public static void main(String[] args) {
        if (args.length < 3) {
            System.err.println("usage: Int8GemmTileSpeed ROUNDS SECONDS TYPE:ROWSxCOLSxTOKENS ...");
            System.exit(2);
        }
        int rounds = Integer.parseInt(args[0]);
        double seconds = Double.parseDouble(args[1]);
        System.out.printf("vector bits: %d, tokens per tile %d%n", VectorWidth.BITS, Int8Gemm.TILE_TOKENS);
        for (int r = 0; r < rounds; r++) {
            for (int k = 2; k < args.length; k++) {
                String[] cs = args[k].split(":");
                GgmlType type = GgmlType.valueOf(cs[0]);
                int[] d = Int8KernelSpeed.dims(args[k], cs[1], 3);
                int rows = d[0], cols = d[1], tokens = d[2];
                MemorySegment p = Int8KernelSpeed.packed(type, rows, cols);
                QuantizedActivations xq = Int8KernelSpeed.activations(tokens, cols);
                float[] out = new float[tokens * rows];
                Int8Gemm.Scratch s = new Int8Gemm.Scratch();
                int pairs = Int8Gemm.pairs(rows);
                StringBuilder line = new StringBuilder(String.format("round %d %-22s", r, args[k]));
                boolean[] order = r % 2 == 0 ? new boolean[]{false, true} : new boolean[]{true, false};
                for (boolean twelve : order) {
                    Int8Gemm.twelveTokenTiles(twelve);
                    double g = F32KernelSpeed.measure(() -> {
                        Int8Gemm.gemm(type, p, rows, cols, xq, out, 0, pairs, s);
                        Int8KernelSpeed.sink += out[7];
                    }, (double) rows * cols * tokens, seconds);
                    line.append(String.format("  %s %6.1f (%d B)", twelve ? "t12" : "t6", g, F32KernelSpeed.allocated));
                }
                System.out.println(line);
            }
        }
        Int8Gemm.twelveTokenTiles(true);
    }
}
