package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/**
 * One-core speed of the int8-activation kernels, in G multiply-adds/s per CPU second (not a test; a main, like
 * {@link F32KernelSpeed}, whose timing rule it uses). Usage:
 * {@code java --add-modules jdk.incubator.vector [-XX:UseAVX=2 | -XX:MaxVectorSize=16] -cp
 * jemma-core/target/classes:jemma-core/target/test-classes dev.jemma.core.tensor.kernels.Int8KernelSpeed
 * [seconds per case] [case ...]}; cases: single-token {@code q4tok} / {@code q8tok} / {@code q5tok} ({@link Int8Kernels}, 2048 × 1152),
 * {@code q4ktok} / {@code q5ktok} / {@code q6ktok} ({@link KQuantKernels}, 2048 × 1536), or another shape as
 * {@code q5tok:ROWSxCOLS} (e.g. {@code q5tok:6912x1152}, a 1B gate projection; also prints µs per call); batches {@code q4gemm}
 * ({@link Int8Gemm}, 6912 × 1152, 64 tokens; Q8_0 batches no longer run on it) and {@code q8f32gemm} ({@link InterleavedGemm}'s f32 tile on the same
 * Q8_0 matrix, what Q8_0 batches ran on before). Run one case per JVM (a kernel compiled after another type ran through
 * the same method can come out slower).
 */
public final class Int8KernelSpeed {
    static volatile float sink;

    public static void main(String[] args) {
        try {
            run(args);
        } catch (IllegalArgumentException e) { // a bad case or shape: one line, not a stack trace
            System.err.println("Int8KernelSpeed: " + e.getMessage());
            System.exit(2);
        }
    }

    private static void run(String[] args) {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3;
        String[] cases = args.length > 1 ? java.util.Arrays.copyOfRange(args, 1, args.length)
                : new String[]{"q4tok", "q8tok", "q5tok", "q4ktok", "q5ktok", "q6ktok", "q4gemm", "q8f32gemm"};
        System.out.printf("vector bits: %d%n", VectorWidth.BITS);
        for (String c : cases) {
            // a single-token case may name its shape, ROWSxCOLS after a colon (q5tok:6912x1152: 1152 columns in, 6912 rows out)
            String[] cs = c.split(":");
            int[] shape = cs.length > 1 && !cs[0].equals("gemm") ? dims(c, cs[1], 2) : null;
            int r = shape != null ? shape[0] : 2048, k = shape != null ? shape[1] : cs[0].endsWith("ktok") ? 1536 : 1152;
            double g = switch (cs[0]) {
                case "q4tok" -> token(GgmlType.Q4_0, r, k, seconds);
                case "q8tok" -> token(GgmlType.Q8_0, r, k, seconds);
                case "q5tok" -> token(GgmlType.Q5_0, r, k, seconds);
                case "q5ktok" -> token(GgmlType.Q5_K, r, k, seconds);
                case "q4ktok" -> token(GgmlType.Q4_K, r, k, seconds);
                case "q6ktok" -> token(GgmlType.Q6_K, r, k, seconds);
                case "q4gemm" -> gemm(GgmlType.Q4_0, 6912, 1152, 64, seconds);
                case "q8f32gemm" -> F32KernelSpeed.gemm(GgmlType.Q8_0, 6912, 1152, 64, seconds);
                // gemm:TYPE:ROWSxCOLSxTOKENS — the batch kernel FastMatMul picks for TYPE (Int8Gemm or the f32 tile GEMM, the
                // latter in InterleavedGemm.tokenBlock(cols) blocks as FastMatMul runs it), e.g. gemm:Q5_0:6912x1152x512
                case "gemm" -> {
                    if (cs.length != 3) throw new IllegalArgumentException(c + ": expected gemm:TYPE:ROWSxCOLSxTOKENS");
                    yield batch(type(c, cs[1]), cs[2], seconds);
                }
                default -> throw new IllegalArgumentException(c + ": unknown case (q4tok q8tok q5tok q4ktok q5ktok q6ktok q4gemm q8f32gemm gemm:TYPE:RxCxT)");
            };
            System.out.printf("%-10s %7.2f G multiply-adds/s  (%d bytes allocated by the last call)%n", c, g, F32KernelSpeed.allocated);
            if (shape != null) {
                System.out.printf("%-10s %7.1f µs per call (CPU)%n", "", (double) r * k / g / 1e3);
                // bytes of the interleaved copy per weight: what a single-token step streams from memory
                GgmlType t = switch (cs[0]) {
                    case "q4tok" -> GgmlType.Q4_0; case "q8tok" -> GgmlType.Q8_0; case "q5tok" -> GgmlType.Q5_0;
                    case "q4ktok" -> GgmlType.Q4_K; case "q5ktok" -> GgmlType.Q5_K; case "q6ktok" -> GgmlType.Q6_K;
                    default -> null;
                };
                if (t != null) System.out.printf("%-10s %7.2f GB/s of the copy per CPU second%n", "", g * Interleaved.byteSize(t, r, k) / ((double) r * k));
            }
        }
    }

    /** One batch call over a ROWSxCOLSxTOKENS shape on the kernel FastMatMul takes for the type; prints µs per call. */
    static double batch(GgmlType type, String shape, double seconds) {
        int[] d = dims(type + ":" + shape, shape, 3);
        int rows = d[0], cols = d[1], tokens = d[2];
        MemorySegment p = packed(type, rows, cols);
        float[] out = new float[tokens * rows];
        double g;
        if (Int8Gemm.supports(type)) {
            QuantizedActivations xq = activations(tokens, cols);
            Int8Gemm.Scratch s = new Int8Gemm.Scratch();
            int pairs = Int8Gemm.pairs(rows);
            g = F32KernelSpeed.measure(() -> {
                Int8Gemm.gemm(type, p, rows, cols, xq, out, 0, pairs, s);
                sink += out[7];
            }, (double) rows * cols * tokens, seconds);
        } else {
            float[] x = F32KernelSpeed.x(tokens * cols);
            float[] tile = new float[InterleavedGemm.COLS * 32 + 128], part = new float[InterleavedGemm.PART];
            int groups = Interleaved.groups(rows);
            g = F32KernelSpeed.measure(() -> {
                int block = InterleavedGemm.tokenBlock(cols);
                for (int t0 = 0; t0 < tokens; t0 += block) {
                    InterleavedGemm.gemm(type, p, rows, cols, x, t0, Math.min(tokens, t0 + block), out, 0, groups, tile, part);
                }
                sink += out[7];
            }, (double) rows * cols * tokens, seconds);
        }
        System.out.printf("%-10s %7.1f ms per call (CPU), %s %s%n", "", (double) rows * cols * tokens / g / 1e6, type, shape);
        return g;
    }

    /** The {@code n} positive sizes of an {@code AxB[xC]} shape, or an exception naming the case. */
    static int[] dims(String c, String shape, int n) {
        String[] parts = shape.split("x");
        if (parts.length != n) throw new IllegalArgumentException(c + ": expected " + (n == 2 ? "ROWSxCOLS" : "ROWSxCOLSxTOKENS"));
        int[] d = new int[n];
        for (int i = 0; i < n; i++) {
            try {
                d[i] = Integer.parseInt(parts[i]);
            } catch (NumberFormatException e) {
                d[i] = 0;
            }
            if (d[i] <= 0) throw new IllegalArgumentException(c + ": '" + parts[i] + "' is not a positive size");
        }
        return d;
    }

    static GgmlType type(String c, String name) {
        try {
            return GgmlType.valueOf(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(c + ": unknown type " + name);
        }
    }

    static MemorySegment packed(GgmlType type, int rows, int cols) {
        // a row is whole blocks of the type (256 columns for K-quants, 32 otherwise): checked here, before the repack
        // would run past the matrix
        if (cols % type.blockSize != 0) {
            throw new IllegalArgumentException(type + ": " + rows + "x" + cols + " has " + cols + " columns, not a multiple of the "
                    + type + " block of " + type.blockSize);
        }
        if (!Interleaved.supports(type, cols)) throw new IllegalArgumentException(type + ": no interleaved copy for this type");
        WeightMatrix w = FastMatMulTest.randomMatrix(type, rows, cols, 1);
        MemorySegment p = Arena.global().allocate(Interleaved.byteSize(type, rows, cols), 64);
        Interleaved.repack(w, p, 0, Interleaved.groups(rows));
        return p;
    }

    static QuantizedActivations activations(int tokens, int cols) {
        Random rnd = new Random(2);
        float[] x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        QuantizedActivations xq = new QuantizedActivations(false);
        xq.reserve(tokens, cols);
        xq.quantize(x, 0, tokens);
        return xq;
    }

    static double token(GgmlType type, int rows, int cols, double seconds) {
        MemorySegment p = packed(type, rows, cols);
        QuantizedActivations xq = activations(1, cols);
        float[] out = new float[rows];
        int nb = cols / 32, groups = Interleaved.groups(rows);
        return F32KernelSpeed.measure(() -> {
            switch (type) {
                case Q4_0 -> Int8Kernels.q4(p, 0, groups, rows, nb, xq, 0, out);
                case Q8_0 -> Int8Kernels.q8(p, 0, groups, rows, nb, xq, 0, out);
                case Q5_0 -> Int8Kernels.q5(p, 0, groups, rows, nb, xq, 0, out);
                case Q5_K -> KQuantKernels.q5k(p, 0, groups, rows, nb, xq, 0, out);
                case Q4_K -> KQuantKernels.q4k(p, 0, groups, rows, nb, xq, 0, out);
                default -> KQuantKernels.q6k(p, 0, groups, rows, nb, xq, 0, out);
            }
            sink += out[7];
        }, (double) rows * cols, seconds);
    }

    static double gemm(GgmlType type, int rows, int cols, int tokens, double seconds) {
        MemorySegment p = packed(type, rows, cols);
        QuantizedActivations xq = activations(tokens, cols);
        float[] out = new float[tokens * rows];
        Int8Gemm.Scratch s = new Int8Gemm.Scratch();
        int pairs = Int8Gemm.pairs(rows);
        return F32KernelSpeed.measure(() -> {
            Int8Gemm.gemm(type, p, rows, cols, xq, out, 0, pairs, s);
            sink += out[7];
        }, (double) rows * cols * tokens, seconds);
    }
}
