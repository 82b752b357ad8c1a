package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * One core, the int8 GEMM with and without its 128-row quads ({@link Int8Gemm#quadTiles}), alternated round by round in
 * one JVM, in G multiply-adds per CPU second (best of 5 slices per measurement, {@link F32KernelSpeed#measure}); not a
 * test. Usage: {@code java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes
 * dev.jemma.core.tensor.kernels.Int8GemmQuadSpeed ROUNDS SECONDS TYPE:ROWSxCOLSxTOKENS ...} (e.g. {@code Q4_0:6912x1152x512
 * Q4_0:1152x6912x512}: a 1B gate/up and down projection over a 512-token prompt). Prints the bytes the last call
 * allocated (0 unless C2 boxed a vector).
 */
public final class Int8GemmQuadSpeed {
    public static void main(String[] args) {
        int rounds = Integer.parseInt(args[0]);
        double seconds = Double.parseDouble(args[1]);
        System.out.printf("vector bits: %d%n", VectorWidth.BITS);
        for (int r = 0; r < rounds; r++) {
            for (int k = 2; k < args.length; k++) {
                String[] cs = args[k].split(":");
                GgmlType type = GgmlType.valueOf(cs[0]);
                int[] d = java.util.Arrays.stream(cs[1].split("x")).mapToInt(Integer::parseInt).toArray();
                int rows = d[0], cols = d[1], tokens = d[2];
                MemorySegment p = Int8KernelSpeed.packed(type, rows, cols);
                QuantizedActivations xq = Int8KernelSpeed.activations(tokens, cols);
                float[] out = new float[tokens * rows];
                Int8Gemm.Scratch s = new Int8Gemm.Scratch();
                int pairs = Int8Gemm.pairs(rows);
                StringBuilder line = new StringBuilder(String.format("round %d %-22s", r, args[k]));
                for (boolean quads : new boolean[]{false, true}) {
                    Int8Gemm.quadTiles(quads);
                    double g = F32KernelSpeed.measure(() -> {
                        Int8Gemm.gemm(type, p, rows, cols, xq, out, 0, pairs, s);
                        Int8KernelSpeed.sink += out[7];
                    }, (double) rows * cols * tokens, seconds);
                    line.append(String.format("  %s %6.1f (%d B)", quads ? "quads" : "pairs", g, F32KernelSpeed.allocated));
                }
                System.out.println(line);
            }
        }
    }
}
