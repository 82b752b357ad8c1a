package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * One core, the 512-bit int8 GEMM with this JVM's tile setting ({@link Int8Gemm#TWELVE}: 12-token tiles, or 6 with
 * {@code -Djemma.int8Tile12=false}), in G multiply-adds per CPU second (best of 5 slices per measurement,
 * {@link F32KernelSpeed#measure}); not a test. The setting is a constant read once, so an A/B runs a JVM per setting,
 * alternated. Usage: {@code java --add-modules jdk.incubator.vector [-Djemma.int8Tile12=false] -cp
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
        String tile = Int8Gemm.TILE_TOKENS == 6 && Int8Gemm.TWELVE ? "t12" : "t" + Int8Gemm.TILE_TOKENS;
        System.out.printf("vector bits: %d, tokens per tile %d, 12-token tiles %s%n", VectorWidth.BITS, Int8Gemm.TILE_TOKENS,
                Int8Gemm.TWELVE ? "on" : "off (-Djemma.int8Tile12=false)");
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
                double g = F32KernelSpeed.measure(() -> {
                    Int8Gemm.gemm(type, p, rows, cols, xq, out, 0, pairs, s);
                    Int8KernelSpeed.sink += out[7];
                }, (double) rows * cols * tokens, seconds);
                System.out.println(String.format("round %d %-22s  %s %6.1f (%d B)", r, args[k], tile, g, F32KernelSpeed.allocated));
            }
        }
    }
}
