package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Does the int8 GEMM's speed follow where the heap put its per-worker scratch (docs/PERFORMANCE.md, "Why pp512
 * differed from one JVM to the next")? Within one JVM (one compiled kernel, the same load on the machine for all):
 * many {@link Int8Gemm.Scratch} objects, each at the address the allocator gave it, each timed in CPU time on the same
 * Q4_0 matrix and activations, rounds interleaved; then CPU per call grouped by where the decoded tile {@code w}, the
 * 16-bit sums and the f32 sums {@code acc} begin modulo 64 bytes. Not a test; by hand:
 * <pre>
 *   java --add-modules jdk.incubator.vector [-XX:UseAVX=2] -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) \
 *        dev.jemma.core.tensor.kernels.GemmAlignment [scratches] [rounds]
 * </pre>
 */
public final class GemmAlignment {
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
    static volatile float sink;

    public static void main(String[] args) throws Exception {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 48;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 12;
        int rows = 1024, cols = 1152, tokens = 64, calls = 4;
        GgmlType type = GgmlType.Q4_0;
        MemorySegment p = Int8KernelSpeed.packed(type, rows, cols);
        QuantizedActivations xq = Int8KernelSpeed.activations(tokens, cols);
        float[] out = new float[tokens * rows];
        int pairs = Int8Gemm.pairs(rows);
        List<Int8Gemm.Scratch> scratches = new ArrayList<>();
        List<Object> spacers = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Int8Gemm.Scratch s = new Int8Gemm.Scratch();
            s.acc = new float[Int8Gemm.ACC_PAD + tokens * Int8Gemm.ROWS + Int8Gemm.ACC_PAD];
            scratches.add(s);
            spacers.add(new long[i % 8]); // vary what lies between them: 8-byte steps of the next one's start
        }
        System.gc();
        System.gc(); // all in the old generation now, where only a full collection moves them
        for (int w = 0; w < 30; w++) for (Int8Gemm.Scratch s : scratches) Int8Gemm.gemm(type, p, rows, cols, xq, out, 0, pairs, s);
        String[] where = new String[count];
        for (int i = 0; i < count; i++) {
            Int8Gemm.Scratch s = scratches.get(i);
            where[i] = String.format("w %2d sums %2d acc %2d", addr(s.w), addr(s.sums), addr(s.acc));
        }
        long[][] ns = new long[count][rounds];
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < count; i++) {
                Int8Gemm.Scratch s = scratches.get(i);
                long c0 = CPU.getCurrentThreadCpuTime();
                for (int k = 0; k < calls; k++) Int8Gemm.gemm(type, p, rows, cols, xq, out, 0, pairs, s);
                ns[i][r] = (CPU.getCurrentThreadCpuTime() - c0) / calls;
                sink += out[7];
            }
        }
        for (int i = 0; i < count; i++) {
            Int8Gemm.Scratch s = scratches.get(i);
            String now = String.format("w %2d sums %2d acc %2d", addr(s.w), addr(s.sums), addr(s.acc));
            if (!now.equals(where[i])) where[i] = "moved";
        }
        System.out.printf("%d bits, Q4_0 %d x %d, %d tokens: CPU ms per call, median of %d rounds (min), per scratch%n",
                VectorWidth.BITS, rows, cols, tokens, rounds);
        Map<String, List<Double>> byW = new TreeMap<>(), bySums = new TreeMap<>(), byAcc = new TreeMap<>();
        for (int i = 0; i < count; i++) {
            long[] v = ns[i].clone();
            Arrays.sort(v);
            double med = v[rounds / 2] / 1e6;
            System.out.printf("  %-24s %7.3f (%7.3f)%n", where[i], med, v[0] / 1e6);
            if (where[i].equals("moved")) continue;
            String[] f = where[i].trim().split(" +");
            byW.computeIfAbsent("w " + f[1], k -> new ArrayList<>()).add(med);
            bySums.computeIfAbsent("sums " + f[3], k -> new ArrayList<>()).add(med);
            byAcc.computeIfAbsent("acc " + f[5], k -> new ArrayList<>()).add(med);
        }
        for (Map<String, List<Double>> m : List.of(byW, bySums, byAcc)) {
            StringBuilder sb = new StringBuilder("  by");
            m.forEach((k, v) -> sb.append(String.format("  %s: %.3f (n=%d)", k, v.stream().mapToDouble(Double::doubleValue).average().orElse(0), v.size())));
            System.out.println(sb);
        }
        if (spacers.size() < 0) System.out.println(spacers);
    }

    /** The first element's address modulo 64 (zero-based compressed oops: address = narrow oop · 8). */
    static long addr(Object array) throws ReflectiveOperationException {
        java.lang.reflect.Field uf = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
        uf.setAccessible(true);
        sun.misc.Unsafe u = (sun.misc.Unsafe) uf.get(null);
        Object[] holder = {array};
        long narrow = Integer.toUnsignedLong(u.getInt(holder, (long) u.arrayBaseOffset(Object[].class)));
        return ((narrow << 3) + u.arrayBaseOffset(array.getClass())) & 63;
    }
}
