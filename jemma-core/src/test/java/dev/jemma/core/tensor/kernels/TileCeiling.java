package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * How far the f32 tile GEMM ({@link InterleavedGemm}, what serves Q8_0 / Q6_K batches below 512 bits) is from the
 * machine's f32 FMA peak, and what an int16 route would have to beat (issue 16, docs/PERFORMANCE.md "256-bit Q8_0
 * prompts"). One core, CPU time, the variants alternated round by round in one JVM. Not a test; by hand:
 * <pre>
 *   java --add-modules jdk.incubator.vector -XX:UseAVX=2 -Djemma.vectorBits=256 -cp jemma-core/target/classes:jemma-core/target/test-classes \
 *        dev.jemma.core.tensor.kernels.TileCeiling [rounds] CASE...
 * </pre>
 * Cases: {@code fma} (12 independent FMA chains on registers: the FMA pipes' rate), {@code tile6} (the 6-token tile on
 * an L1-resident decoded tile), {@code pipes} (vpmullw / vpaddd / vpsrad / vpmullw + vpaddd rates: what an int16
 * product path would run on), {@code gemm:ROWSxCOLSxTOKENS[:BLOCK]} (the Q8_0 GEMM as FastMatMul runs it, in blocks of
 * BLOCK tokens, default {@link InterleavedGemm#tokenBlock}), {@code nodecode:ROWSxCOLSxTOKENS[:BLOCK]} (the same loop
 * with only the first group's tiles decoded and reused: wrong sums, the cost of the decoder and of its weight reads).
 * The GEMM cases print G multiply-adds per CPU second and the share of the fma case's rate.
 */
public final class TileCeiling {
    static final VectorSpecies<Float> F = VectorWidth.F;
    static final VectorSpecies<Short> S = VectorWidth.S;
    static final VectorSpecies<Integer> I = VectorWidth.I;
    static volatile float sink;
    static volatile long lsink;

    public static void main(String[] args) {
        int rounds = Integer.parseInt(args[0]);
        String[] cases = java.util.Arrays.copyOfRange(args, 1, args.length);
        System.out.printf("vector bits: %d%n", VectorWidth.BITS);
        double peak = 0;
        for (int r = 0; r < rounds; r++) {
            for (String c : cases) {
                String[] p = c.split(":");
                if (p[0].equals("pipes")) {
                    pipes(r);
                    continue;
                }
                double g = switch (p[0]) {
                    case "fma" -> fma();
                    case "tile6" -> tile6();
                    case "gemm", "nodecode" -> gemm(p, p[0].equals("gemm"));
                    default -> throw new IllegalArgumentException(c);
                };
                if (p[0].equals("fma")) peak = Math.max(peak, g);
                System.out.printf("round %d %-28s %7.2f G multiply-adds/s%s%n", r, c, g,
                        peak > 0 && !p[0].equals("fma") ? String.format("  (%.0f %% of the fma case's best)", 100 * g / peak) : "");
            }
        }
    }

    /** Best of 5 timed calls (after one untimed), work units per CPU ns. */
    private static double best(Runnable call, double work) {
        var th = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        call.run();
        double best = 0;
        for (int k = 0; k < 5; k++) {
            long t0 = th.getCurrentThreadCpuTime();
            call.run();
            best = Math.max(best, work / (th.getCurrentThreadCpuTime() - t0));
        }
        return best;
    }

    private static double fma() {
        float[] src = new float[64];
        for (int i = 0; i < src.length; i++) src[i] = 1e-7f * i;
        long n = 20_000_000L;
        return best(() -> sink += fmaChains(src, n), 12.0 * n * F.length());
    }

    private static float fmaChains(float[] src, long n) {
        FloatVector w0 = FloatVector.fromArray(F, src, 0), w1 = FloatVector.fromArray(F, src, 16);
        FloatVector v0 = FloatVector.broadcast(F, src[3]), v1 = FloatVector.broadcast(F, src[5]);
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (long i = 0; i < n; i++) {
            a0 = w0.fma(v0, a0); a1 = w1.fma(v0, a1); a2 = w0.fma(v1, a2); a3 = w1.fma(v1, a3);
            a4 = w0.fma(v0, a4); a5 = w1.fma(v0, a5); a6 = w0.fma(v1, a6); a7 = w1.fma(v1, a7);
            a8 = w0.fma(v0, a8); a9 = w1.fma(v0, a9); a10 = w0.fma(v1, a10); a11 = w1.fma(v1, a11);
        }
        return VectorWidth.FV.cast(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }

    /** tile6 over one decoded 128-column tile (16 KB, in L1) and 126 tokens of 1152-column activations. */
    private static double tile6() {
        int cols = 1152, nc = InterleavedGemm.COLS, tokens = 126;
        float[] tile = new float[nc * 32 + 128], x = F32KernelSpeed.x(tokens * cols), out = new float[tokens * 32];
        float[] part = new float[InterleavedGemm.PART];
        java.util.Random rnd = new java.util.Random(3);
        for (int i = 0; i < tile.length; i++) tile[i] = rnd.nextFloat();
        int reps = 400;
        return best(() -> {
            for (int q = 0; q < reps; q++)
                for (int t = 0; t < tokens; t += 6) InterleavedGemm.tile6(tile, nc, x, t * cols, cols, out, t * 32, 32, 32, false, part);
            sink += out[5];
        }, (double) reps * tokens * 32 * nc);
    }

    private static double gemm(String[] p, boolean decode) {
        int[] d = java.util.Arrays.stream(p[1].split("x")).mapToInt(Integer::parseInt).toArray();
        int rows = d[0], cols = d[1], tokens = d[2], block = p.length > 2 ? Integer.parseInt(p[2]) : InterleavedGemm.tokenBlock(cols);
        MemorySegment w = F32KernelSpeed.packed(F32KernelSpeed.matrix(GgmlType.Q8_0, rows, cols));
        float[] x = F32KernelSpeed.x(tokens * cols), out = new float[tokens * rows];
        float[] tile = new float[InterleavedGemm.COLS * 32 + 128], part = new float[InterleavedGemm.PART];
        int groups = Interleaved.groups(rows);
        Runnable call = () -> {
            for (int t0 = 0; t0 < tokens; t0 += block) {
                int t1 = Math.min(tokens, t0 + block);
                if (decode) InterleavedGemm.gemm(GgmlType.Q8_0, w, rows, cols, x, t0, t1, out, 0, groups, tile, part);
                else withoutDecode(w, rows, cols, x, t0, t1, out, groups, tile, part);
            }
            sink += out[7];
        };
        call.run(); // compile before timing: each case builds its own matrix
        return best(call, (double) rows * cols * tokens);
    }

    /** InterleavedGemm.gemm's loop below 512 bits with the decoder run for the first group only (wrong sums). */
    private static void withoutDecode(MemorySegment w, int rows, int cols, float[] x, int t0, int t1, float[] out, int groups,
                                      float[] tile, float[] part) {
        final long gBytes = Interleaved.groupBytes(GgmlType.Q8_0, cols);
        for (int g = 0; g < groups; g++) {
            int r0 = g * Interleaved.ROWS, valid = Math.min(Interleaved.ROWS, rows - r0);
            for (int c0 = 0; c0 < cols; c0 += InterleavedGemm.COLS) {
                int nc = Math.min(InterleavedGemm.COLS, cols - c0);
                if (g == 0) InterleavedGemm.decodeQ8(w, 0, c0 / 32, nc / 32, tile);
                boolean first = c0 == 0;
                int t = t0;
                int r6 = (t1 - t0) % 6, end6 = t1 - ((r6 == 2 || r6 == 3) && t1 - t0 >= 6 + r6 ? 6 + r6 : r6);
                for (; t < end6; t += 6) InterleavedGemm.tile6(tile, nc, x, t * cols + c0, cols, out, t * rows + r0, rows, valid, first, part);
                for (; t + 4 <= t1; t += 4) InterleavedGemm.tile4(tile, nc, x, t * cols + c0, cols, out, t * rows + r0, rows, valid, first, part);
                for (; t < t1; t++) InterleavedGemm.tile1(tile, nc, x, t * cols + c0, out, t * rows + r0, valid, first, part);
            }
        }
    }

    /** Vector operations per CPU ns, 12 independent chains each (the mix: 6 vpmullw + 6 vpaddd per iteration). */
    private static void pipes(int round) {
        short[] s = new short[64];
        int[] a = new int[64];
        for (int i = 0; i < 64; i++) {
            s[i] = (short) (i | 1);
            a[i] = i;
        }
        long n = 20_000_000L;
        System.out.printf("round %d pipes: mullw %.2f, addd %.2f, sra %.2f, mullw+addd %.2f vector ops per CPU ns%n", round,
                best(() -> lsink += mullw(s, n), 12.0 * n), best(() -> lsink += addd(a, n), 12.0 * n),
                best(() -> lsink += sra(a, n), 12.0 * n), best(() -> lsink += mix(s, n), 12.0 * n));
    }

    private static long mullw(short[] a, long n) {
        ShortVector w = ShortVector.fromArray(S, a, 0), a0 = ShortVector.fromArray(S, a, 32), a1 = a0.add((short) 1), a2 = a0.add((short) 2),
                a3 = a0.add((short) 3), a4 = a0.add((short) 4), a5 = a0.add((short) 5), a6 = a0.add((short) 6), a7 = a0.add((short) 7),
                a8 = a0.add((short) 8), a9 = a0.add((short) 9), a10 = a0.add((short) 10), a11 = a0.add((short) 11);
        for (long i = 0; i < n; i++) {
            a0 = a0.mul(w); a1 = a1.mul(w); a2 = a2.mul(w); a3 = a3.mul(w); a4 = a4.mul(w); a5 = a5.mul(w);
            a6 = a6.mul(w); a7 = a7.mul(w); a8 = a8.mul(w); a9 = a9.mul(w); a10 = a10.mul(w); a11 = a11.mul(w);
        }
        return VectorWidth.SV.cast(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }

    private static long addd(int[] a, long n) {
        IntVector w = IntVector.fromArray(I, a, 0), a0 = IntVector.fromArray(I, a, 16), a1 = a0.add(1), a2 = a0.add(2), a3 = a0.add(3),
                a4 = a0.add(4), a5 = a0.add(5), a6 = a0.add(6), a7 = a0.add(7), a8 = a0.add(8), a9 = a0.add(9), a10 = a0.add(10), a11 = a0.add(11);
        for (long i = 0; i < n; i++) {
            a0 = a0.add(w); a1 = a1.add(w); a2 = a2.add(w); a3 = a3.add(w); a4 = a4.add(w); a5 = a5.add(w);
            a6 = a6.add(w); a7 = a7.add(w); a8 = a8.add(w); a9 = a9.add(w); a10 = a10.add(w); a11 = a11.add(w);
        }
        return VectorWidth.IV.cast(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }

    private static long sra(int[] a, long n) {
        IntVector a0 = IntVector.fromArray(I, a, 16), a1 = a0.add(1), a2 = a0.add(2), a3 = a0.add(3), a4 = a0.add(4), a5 = a0.add(5),
                a6 = a0.add(6), a7 = a0.add(7), a8 = a0.add(8), a9 = a0.add(9), a10 = a0.add(10), a11 = a0.add(11);
        for (long i = 0; i < n; i++) {
            a0 = a0.lanewise(VectorOperators.ASHR, 1); a1 = a1.lanewise(VectorOperators.ASHR, 1); a2 = a2.lanewise(VectorOperators.ASHR, 1);
            a3 = a3.lanewise(VectorOperators.ASHR, 1); a4 = a4.lanewise(VectorOperators.ASHR, 1); a5 = a5.lanewise(VectorOperators.ASHR, 1);
            a6 = a6.lanewise(VectorOperators.ASHR, 1); a7 = a7.lanewise(VectorOperators.ASHR, 1); a8 = a8.lanewise(VectorOperators.ASHR, 1);
            a9 = a9.lanewise(VectorOperators.ASHR, 1); a10 = a10.lanewise(VectorOperators.ASHR, 1); a11 = a11.lanewise(VectorOperators.ASHR, 1);
        }
        return VectorWidth.IV.cast(a0).add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }

    private static long mix(short[] a, long n) {
        ShortVector w = ShortVector.fromArray(S, a, 0), a0 = ShortVector.fromArray(S, a, 32), a1 = a0.add((short) 1), a2 = a0.add((short) 2),
                a3 = a0.add((short) 3), a4 = a0.add((short) 4), a5 = a0.add((short) 5);
        IntVector wi = w.reinterpretAsInts(), b0 = a0.reinterpretAsInts(), b1 = b0.add(1), b2 = b0.add(2), b3 = b0.add(3), b4 = b0.add(4), b5 = b0.add(5);
        for (long i = 0; i < n; i++) {
            a0 = a0.mul(w); a1 = a1.mul(w); a2 = a2.mul(w); a3 = a3.mul(w); a4 = a4.mul(w); a5 = a5.mul(w);
            b0 = b0.add(wi); b1 = b1.add(wi); b2 = b2.add(wi); b3 = b3.add(wi); b4 = b4.add(wi); b5 = b5.add(wi);
        }
        return VectorWidth.SV.cast(a0).add(a1).add(a2).add(a3).add(a4).add(a5).reduceLanes(VectorOperators.ADD)
                + VectorWidth.IV.cast(b0).add(b1).add(b2).add(b3).add(b4).add(b5).reduceLanes(VectorOperators.ADD);
    }
}
