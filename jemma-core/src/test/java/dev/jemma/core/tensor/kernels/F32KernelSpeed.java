package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/**
 * One-core speed of the f32-activation kernels, in G multiply-adds/s (not a test; a main, so it compiles against any
 * revision whose kernels have these signatures). Usage:
 * {@code java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes
 * dev.jemma.core.tensor.kernels.F32KernelSpeed [seconds per case] [case ...]}; cases: q8gemm (InterleavedGemm Q8_0,
 * 6912 rows x 1152 columns, 64 tokens or -Dtokens=N), q6gemm (Q6_K, 1536 x 1536, 64 tokens), f16gemm (F16, 1536 x 1152, 64 tokens),
 * f16gemv (InterleavedGemm.gemvF16, 4096 x 1152, or f16gemv:ROWSxCOLS), f16gemvs (gemvF16Scaled on x · 2^112, the
 * scaling included, as FastMatMul runs it; same shapes), q4dot / q8dot / f16dot (Kernels.dot, 2048 x 1152, one token). Run
 * one case per JVM: a kernel compiled after another type ran through the same method can come out slower. Add -XX:UseAVX=2 / -XX:MaxVectorSize=16 for narrower
 * hardware, or -Djemma.vectorBits=256|128.
 */
public final class F32KernelSpeed {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static volatile float sink;
    static long allocated;

    public static void main(String[] args) {
        double seconds = args.length > 0 ? Double.parseDouble(args[0]) : 3;
        String[] cases = args.length > 1 ? java.util.Arrays.copyOfRange(args, 1, args.length)
                : new String[]{"q8gemm", "q6gemm", "f16gemv", "q4dot", "q8dot", "f16dot"};
        System.out.printf("vector bits: %s%n", widthOrUnknown());
        for (String c0 : cases) {
            // f16gemv may name its shape, ROWSxCOLS after a colon (f16gemv:262144x3840: a 12B output projection, 2 GB,
            // far beyond the caches: what the decode step reads from memory); it then also prints GB/s per CPU second
            String[] cs = c0.split(":");
            String c = cs[0];
            int[] shape = cs.length > 1 ? java.util.Arrays.stream(cs[1].split("x")).mapToInt(Integer::parseInt).toArray() : new int[]{4096, 1152};
            double g = switch (c) {
                case "q8gemm" -> gemm(GgmlType.Q8_0, 6912, 1152, Integer.getInteger("tokens", 64), seconds);
                case "q6gemm" -> gemm(GgmlType.Q6_K, 1536, 1536, 64, seconds);
                case "f16gemm" -> gemm(GgmlType.F16, 1536, 1152, 64, seconds);
                case "f16gemv" -> gemv(shape[0], shape[1], seconds, false);
                case "f16gemvs" -> gemv(shape[0], shape[1], seconds, true);
                case "q4dot" -> dot(GgmlType.Q4_0, 2048, 1152, seconds);
                case "q8dot" -> dot(GgmlType.Q8_0, 2048, 1152, seconds);
                case "f16dot" -> dot(GgmlType.F16, 2048, 1152, seconds);
                default -> throw new IllegalArgumentException(c);
            };
            System.out.printf("%-8s %7.2f G multiply-adds/s  (%d bytes allocated by the last call)%n", c0, g, allocated);
            if (c.startsWith("f16gemv")) System.out.printf("%-8s %7.2f GB/s of weights per CPU second%n", "", 2 * g);
        }
    }

    private static String widthOrUnknown() {
        try {
            return String.valueOf(Class.forName("dev.jemma.core.tensor.kernels.VectorWidth").getField("BITS").get(null));
        } catch (ReflectiveOperationException e) {
            return "(no VectorWidth: fixed 512-bit species)";
        }
    }

    static WeightMatrix matrix(GgmlType type, int rows, int cols) {
        Random rnd = new Random(1);
        long bytes = type.bytesFor(cols) * rows;
        MemorySegment seg = Arena.global().allocate(bytes + 64, 64);
        for (long i = 0; i < bytes; i++) seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
        switch (type) {
            case Q4_0, Q8_0 -> {
                for (long b = 0; b < bytes / type.typeSize; b++) seg.set(I16, b * type.typeSize, Float.floatToFloat16((rnd.nextFloat() - 0.5f) * 0.02f));
            }
            case F16 -> {
                for (long i = 0; i < bytes / 2; i++) seg.set(I16, 2 * i, Float.floatToFloat16((float) rnd.nextGaussian()));
            }
            case Q6_K -> {
                for (long b = 0; b < bytes / type.typeSize; b++) seg.set(I16, b * type.typeSize + 208, Float.floatToFloat16(rnd.nextFloat() * 0.01f));
            }
            default -> throw new IllegalArgumentException(type.toString());
        }
        return new WeightMatrix("bench", seg, type, rows, cols);
    }

    static MemorySegment packed(WeightMatrix w) {
        MemorySegment p = Arena.global().allocate(Interleaved.byteSize(w.type(), w.rows(), w.cols()), 64);
        Interleaved.repack(w, p, 0, Interleaved.groups(w.rows()));
        return p;
    }

    static float[] x(int n) {
        Random rnd = new Random(2);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    /**
     * Best of 5 windows of seconds/5 each after a warm-up of seconds/2, all in this thread's CPU time (not wall time:
     * on a shared, oversubscribed host the wall clock mostly measures the other processes).
     */
    interface Call {
        void run();
    }

    static double measure(Call call, double macsPerCall, double seconds) {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long warm = threads.getCurrentThreadCpuTime() + (long) (seconds * 1e9 / 2);
        while (threads.getCurrentThreadCpuTime() < warm) call.run();
        double best = 0;
        for (int k = 0; k < 5; k++) {
            long t0 = threads.getCurrentThreadCpuTime(), end = t0 + (long) (seconds * 1e9 / 5);
            int n = 0;
            long t;
            do {
                call.run();
                n++;
            } while ((t = threads.getCurrentThreadCpuTime()) < end);
            best = Math.max(best, n * macsPerCall / (t - t0));
        }
        // a compiled kernel allocates nothing; bytes here mean C2 left vector operations as calls (boxed vectors)
        long id = Thread.currentThread().threadId(), a0 = threads.getThreadAllocatedBytes(id);
        call.run();
        allocated = threads.getThreadAllocatedBytes(id) - a0;
        return best;
    }

    static double gemm(GgmlType type, int rows, int cols, int tokens, double seconds) {
        MemorySegment p = packed(matrix(type, rows, cols));
        float[] x = x(tokens * cols), out = new float[tokens * rows];
        float[] tile = new float[InterleavedGemm.COLS * 32 + 128], part = new float[InterleavedGemm.PART];
        int groups = Interleaved.groups(rows);
        return measure(() -> {
            InterleavedGemm.gemm(type, p, rows, cols, x, 0, tokens, out, 0, groups, tile, part);
            sink += out[7];
        }, (double) rows * cols * tokens, seconds);
    }

    static double gemv(int rows, int cols, double seconds, boolean scaled) {
        MemorySegment p = packed(matrix(GgmlType.F16, rows, cols));
        float[] x = x(cols), xs = new float[cols], out = new float[rows];
        int groups = Interleaved.groups(rows);
        return measure(scaled ? () -> {
            if (!InterleavedGemm.scaleForF16(x, cols, xs)) throw new IllegalStateException("x too large to scale");
            InterleavedGemm.gemvF16Scaled(p, 0, groups, rows, cols, xs, 0, out, 0);
            sink += out[7];
        } : () -> {
            InterleavedGemm.gemvF16(p, 0, groups, rows, cols, x, 0, out, 0);
            sink += out[7];
        }, (double) rows * cols, seconds);
    }

    static double dot(GgmlType type, int rows, int cols, double seconds) {
        WeightMatrix w = matrix(type, rows, cols);
        float[] x = x(cols), sums = new float[cols / 32];
        Kernels.blockSums(x, 0, cols, sums, 0);
        return measure(() -> {
            float s = 0;
            for (int r = 0; r < rows; r++) s += Kernels.dot(w, r, x, 0, sums, 0);
            sink += s;
        }, (double) rows * cols, seconds);
    }
}
