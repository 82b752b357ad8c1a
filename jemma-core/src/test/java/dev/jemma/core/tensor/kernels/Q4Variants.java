package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.jemma.core.tensor.kernels.Int8Kernels.*;
import static dev.jemma.core.tensor.kernels.VectorWidth.F16_MAGIC;
import static dev.jemma.core.tensor.kernels.VectorWidth.FV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SV;

/**
 * The Q4_0 single-token kernel ({@link Int8Kernels#q4}) against variants of it, in one JVM, slice by slice of CPU time in
 * turn (so that every variant sees the same machine load and JIT state), best and median G multiply-adds per CPU second
 * over the rounds, and each variant's max |Δ| from the current kernel (docs/PERFORMANCE.md "Where a 12B token goes").
 * Not a test. Variants: {@code base} (the current kernel), {@code old} (the kernel before branch big16: one 16-bit block
 * sum per slice, i.e. one dependency chain of 32 adds per block), {@code shift} (no masks: v, v>>>4, v>>>8, v>>>12 times
 * activations folded as y1 = x1 − 16·x0 … so the wrapped sums are the same: measured no faster), {@code nobc} (two
 * broadcasts per block instead of 32: wrong results, the bound of what cheaper activation broadcasts could give). Also
 * {@code f16base ROWS COLS SECONDS} / {@code f16touch ROWS COLS SECONDS AHEAD}: {@link InterleavedGemm#gemvF16} alone,
 * and with one int read AHEAD bytes further on per 128 bytes (a software prefetch: measured slower), and {@code f16read ROWS
 * COLS SECONDS}: the same segment only read (512-bit loads into four sums, the bandwidth probe's loop in Java). Usage:
 * <pre>
 *   java --add-modules jdk.incubator.vector [-XX:UseAVX=2 -Djemma.vectorBits=256] -cp jemma-core/target/classes:\
 *        jemma-core/target/test-classes dev.jemma.core.tensor.kernels.Q4Variants old,base,nobc 2048 3840 0.3 9
 * </pre>
 */
public final class Q4Variants {
    static volatile int touchSink;

    public static void main(String[] args) {
        if (args[0].startsWith("f16")) {
            f16(args);
            return;
        }
        int rows = Integer.parseInt(args[1]), cols = Integer.parseInt(args[2]);
        String v = args[0];
        MemorySegment p = Int8KernelSpeed.packed(GgmlType.Q4_0, rows, cols);
        QuantizedActivations xq = Int8KernelSpeed.activations(1, cols);
        int nb = cols / 32, groups = Interleaved.groups(rows);
        float[] out = new float[rows], ref = new float[rows];
        Int8Kernels.q4(p, 0, groups, rows, nb, xq, 0, ref);
        short[] xb = new short[cols * 32];
        short[] y = new short[cols];
        for (int b = 0; b < nb; b++) {
            for (int qd = 0; qd < 8; qd++) {
                int j = 32 * b + 2 * qd;
                short x0 = xq.q[j], x1 = xq.q[j + 16], x2 = xq.q[j + 1], x3 = xq.q[j + 17];
                y[32 * b + 4 * qd] = x0;
                y[32 * b + 4 * qd + 1] = (short) (x1 - 16 * x0);
                y[32 * b + 4 * qd + 2] = (short) (x2 - 16 * x1);
                y[32 * b + 4 * qd + 3] = (short) (x3 - 16 * x2);
            }
        }
        for (int c = 0; c < cols; c++) for (int l = 0; l < 32; l++) xb[32 * c + l] = xq.q[c];
        String[] vs = v.split(",");
        F32KernelSpeed.Call[] calls = new F32KernelSpeed.Call[vs.length];
        for (int i = 0; i < vs.length; i++) {
            calls[i] = switch (vs[i]) {
                case "old" -> () -> { if (!PAIRS) oldQ4(p, 0, groups, rows, nb, xq.q, xq.d, xq.q4Bias, 0, 0, out, 0);
                                      else oldQ4Pairs(p, 0, groups, rows, nb, xq.q, xq.d, xq.q4Bias, 0, 0, out, 0); };
                case "base" -> () -> Int8Kernels.q4(p, 0, groups, rows, nb, xq, 0, out);
                case "shift" -> () -> shift(p, 0, groups, rows, nb, y, xq.d, xq.q4Bias, out);
                case "nobc" -> () -> nobc(p, 0, groups, rows, nb, xq.q, xq.d, xq.q4Bias, out);
                default -> throw new IllegalArgumentException(vs[i]);
            };
        }
        alternate(vs, calls, (double) rows * cols, Double.parseDouble(args[3]), Integer.parseInt(args.length > 4 ? args[4] : "9"));
        for (int i = 0; i < vs.length; i++) {
            java.util.Arrays.fill(out, 0f);
            calls[i].run();
            float maxd = 0;
            for (int r = 0; r < rows; r++) maxd = Math.max(maxd, Math.abs(out[r] - ref[r]));
            System.out.printf("  %s max|d| vs base %g%n", vs[i], maxd);
        }
    }

    /** Variants in turn, slice by slice of CPU time, {@code rounds} rounds: best and median G MAC/s per CPU second each. */
    static void alternate(String[] names, F32KernelSpeed.Call[] calls, double macs, double seconds, int rounds) {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        double[][] g = new double[calls.length][rounds];
        for (int r = -2; r < rounds; r++) { // two warm-up rounds
            for (int i = 0; i < calls.length; i++) {
                long t0 = threads.getCurrentThreadCpuTime(), end = t0 + (long) (seconds * 1e9), t;
                int n = 0;
                do {
                    calls[i].run();
                    n++;
                } while ((t = threads.getCurrentThreadCpuTime()) < end);
                if (r >= 0) g[i][r] = n * macs / (t - t0);
            }
        }
        for (int i = 0; i < calls.length; i++) {
            double[] s = g[i].clone();
            java.util.Arrays.sort(s);
            System.out.printf("%-8s best %6.2f median %6.2f G MAC/s per CPU second (%s)%n", names[i], s[s.length - 1], s[s.length / 2],
                    java.util.Arrays.toString(java.util.Arrays.stream(g[i]).map(d -> Math.round(d * 10) / 10.0).toArray()));
        }
    }

    static void f16(String[] args) {
        int rows = Integer.parseInt(args[1]), cols = Integer.parseInt(args[2]);
        int ahead = args.length > 4 ? Integer.parseInt(args[4]) : 0;
        MemorySegment p = Int8KernelSpeed.packed(GgmlType.F16, rows, cols);
        float[] x = F32KernelSpeed.x(cols), out = new float[rows], ref = new float[rows];
        int groups = Interleaved.groups(rows);
        InterleavedGemm.gemvF16(p, 0, groups, rows, cols, x, 0, ref, 0);
        F32KernelSpeed.Call call = switch (args[0]) {
            case "f16base" -> () -> InterleavedGemm.gemvF16(p, 0, groups, rows, cols, x, 0, out, 0);
            case "f16read" -> () -> read(p, out);
            default -> () -> f16Touch(p, 0, groups, rows, cols, x, 0, out, 0, ahead);
        };
        double g = F32KernelSpeed.measure(call, (double) rows * cols, Double.parseDouble(args[3]));
        float maxd = 0;
        for (int i = 0; i < rows; i++) maxd = Math.max(maxd, Math.abs(out[i] - ref[i]));
        System.out.printf("%s ahead %d %dx%d: %.2f G MAC/s, %.2f GB/s per CPU s, alloc %d, max|d| %g%n", args[0], ahead, rows, cols, g,
                2 * g, F32KernelSpeed.allocated, maxd);
    }

    /** The plain streaming read of a segment in Java (512-bit loads, four sums): the probe's loop, for comparison. */
    static void read(MemorySegment w, float[] out) {
        jdk.incubator.vector.LongVector a = jdk.incubator.vector.LongVector.zero(jdk.incubator.vector.LongVector.SPECIES_512), b = a, c = a, d = a;
        var L8 = jdk.incubator.vector.LongVector.SPECIES_512;
        long n = w.byteSize() & ~255L;
        for (long i = 0; i < n; i += 256) {
            a = jdk.incubator.vector.LongVector.fromMemorySegment(L8, w, i, LE).add(a);
            b = jdk.incubator.vector.LongVector.fromMemorySegment(L8, w, i + 64, LE).add(b);
            c = jdk.incubator.vector.LongVector.fromMemorySegment(L8, w, i + 128, LE).add(c);
            d = jdk.incubator.vector.LongVector.fromMemorySegment(L8, w, i + 192, LE).add(d);
        }
        out[0] = ((jdk.incubator.vector.LongVector) a).add(b).add(((jdk.incubator.vector.LongVector) c).add(d)).reduceLanes(VectorOperators.ADD);
    }

    /** gemvF16x512 with one int read {@code ahead} bytes further on every 128 bytes: a software prefetch. */
    static void f16Touch(MemorySegment w, int g0, int g1, int rows, int cols, float[] x, int xo, float[] out, int o, int ahead) {
        final int nb = cols / 32;
        final long gBytes = (long) nb * Interleaved.F16_TILE, limit = w.byteSize() - 4;
        int sink = 0;
        for (int g = g0; g < g1; g++) {
            FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F), a1 = FloatVector.zero(F), b1 = FloatVector.zero(F);
            final long base = g * gBytes;
            for (int c = 0; c < cols; c += 2) {
                long t = base + (long) (c >> 5) * Interleaved.F16_TILE + 64L * (c & 31);
                sink += w.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, Math.min(t + ahead, limit));
                IntVector i0 = (IntVector) ShortVector.fromMemorySegment(SH, w, t, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i1 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 32, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i2 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 64, LE).convertShape(VectorOperators.S2I, I, 0);
                IntVector i3 = (IntVector) ShortVector.fromMemorySegment(SH, w, t + 96, LE).convertShape(VectorOperators.S2I, I, 0);
                FloatVector w0 = i0.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector w1 = i1.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector w2 = i2.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector w3 = i3.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector v0 = FloatVector.broadcast(F, x[xo + c]);
                FloatVector v1 = FloatVector.broadcast(F, x[xo + c + 1]);
                a0 = w0.fma(v0, a0);
                b0 = w1.fma(v0, b0);
                a1 = w2.fma(v1, a1);
                b1 = w3.fma(v1, b1);
            }
            int r0 = g * Interleaved.ROWS, oo = o + r0;
            FloatVector lo = FV.cast(a0).add(a1), hi = FV.cast(b0).add(b1);
            if (rows - r0 >= 32) {
                lo.intoArray(out, oo);
                hi.intoArray(out, oo + 16);
            } else {
                lo.intoArray(out, oo, F.indexInRange(0, rows - r0));
                hi.intoArray(out, oo + 16, F.indexInRange(16, rows - r0));
            }
        }
        touchSink = sink;
    }

    /** No masks: v, v>>>4, v>>>8, v>>>12 times activations folded so the wrapped 16-bit sums are the same. */
    static void shift(MemorySegment w, int g0, int g1, int rows, int nb, short[] y, float[] xd, short[] bias, float[] out) {
        final long gBytes = (long) nb * Interleaved.Q4_TILE;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = r0;
            FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
            for (int b = 0; b < nb; b++) {
                long tile = g + (long) b * Interleaved.Q4_TILE;
                int xo = 32 * b;
                ShortVector acc = ShortVector.broadcast(S, bias[b]);
                for (int qd = 0; qd < 8; qd++) {
                    ShortVector v = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * qd, LE);
                    int j = xo + 4 * qd;
                    acc = (v.mul(y[j])).add(acc);
                    acc = (v.lanewise(VectorOperators.LSHR, 4).mul(y[j + 1])).add(acc);
                    acc = (v.lanewise(VectorOperators.LSHR, 8).mul(y[j + 2])).add(acc);
                    acc = (v.lanewise(VectorOperators.LSHR, 12).mul(y[j + 3])).add(acc);
                }
                ShortVector h = ShortVector.fromMemorySegment(S, w, tile, LE);
                FloatVector d0 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                        .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector d1 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                        .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector a0 = (FloatVector) SV.cast(acc).convertShape(VectorOperators.S2F, F, 0);
                FloatVector a1 = (FloatVector) SV.cast(acc).convertShape(VectorOperators.S2F, F, 1);
                float dx = xd[b];
                s0 = a0.mul(d0).fma(FloatVector.broadcast(F, dx), s0);
                s1 = a1.mul(d1).fma(FloatVector.broadcast(F, dx), s1);
            }
            if (rows - r0 >= 32) {
                FV.cast(s0).intoArray(out, o);
                FV.cast(s1).intoArray(out, o + 16);
            } else {
                FV.cast(s0).intoArray(out, o, F.indexInRange(0, rows - r0));
                FV.cast(s1).intoArray(out, o + 16, F.indexInRange(16, rows - r0));
            }
        }
    }

    // the kernels of main before branch big16 (one 16-bit block sum per slice), for comparison
    static void oldQ4(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] bias, int xt, int dt,
                           float[] out, int ot) {
        final long gBytes = (long) nb * Interleaved.Q4_TILE;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            // slices of L rows (one vector of 16-bit lanes): every per-row field of a tile lies at +2·l0
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += L) {
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
                for (int b = 0; b < nb; b++) {
                    long tile = g + (long) b * Interleaved.Q4_TILE + 2 * l0;
                    int xo = xt + 32 * b;
                    ShortVector acc = ShortVector.broadcast(S, bias[dt + b]);
                    for (int qd = 0; qd < 8; qd++) {
                        ShortVector v = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * qd, LE);
                        int j = xo + 2 * qd;
                        ShortVector n0 = v.and((short) 0xF);
                        ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                        ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                        ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12);
                        // x.add(acc), never acc.add(x), and SV.cast / FV.cast on loop-carried vectors below: a method called
                        // on a loop-carried vector can be compiled as a boxing virtual call (VectorWidth.SV says why)
                        acc = (n0.mul(xq[j])).add(acc);
                        acc = (n1.mul(xq[j + 16])).add(acc);
                        acc = (n2.mul(xq[j + 1])).add(acc);
                        acc = (n3.mul(xq[j + 17])).add(acc);
                    }
                    // conversions are written out in place: wrapping convertShape in a small helper method made C2's code for
                    // this loop ~2.4x slower (measured), as did interleaving them with the multiply-adds
                    ShortVector h = ShortVector.fromMemorySegment(S, w, tile, LE);
                    FloatVector d0 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC); // f16 -> f32 in place: see q5
                    FloatVector d1 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector a0 = (FloatVector) SV.cast(acc).convertShape(VectorOperators.S2F, F, 0);
                    FloatVector a1 = (FloatVector) SV.cast(acc).convertShape(VectorOperators.S2F, F, 1);
                    float dx = xd[dt + b];
                    s0 = a0.mul(d0).fma(FloatVector.broadcast(F, dx), s0);
                    s1 = a1.mul(d1).fma(FloatVector.broadcast(F, dx), s1);
                }
                // stored here, not through a helper: a call C2 declines to inline (node budget) forces the accumulators to be
                // boxed, and it then allocates a vector per block (measured: ~1.7 GB/s of garbage, 2x slower decode)
                if (rows - r0 >= 32) {
                    FV.cast(s0).intoArray(out, o + l0);
                    FV.cast(s1).intoArray(out, o + l0 + L / 2);
                } else {
                    FV.cast(s0).intoArray(out, o + l0, F.indexInRange(l0, rows - r0));
                    FV.cast(s1).intoArray(out, o + l0 + L / 2, F.indexInRange(l0 + L / 2, rows - r0));
                }
            }
        }
    }

    static void oldQ4Pairs(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] bias, int xt,
                                int dt, float[] out, int ot) {
        final long gBytes = (long) nb * Interleaved.Q4_TILE;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = ot + r0;
            for (int l0 = 0; l0 < Interleaved.ROWS; l0 += 2 * L) {
                FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F), u0 = FloatVector.zero(F), u1 = FloatVector.zero(F);
                for (int b = 0; b < nb; b++) {
                    long tile = g + (long) b * Interleaved.Q4_TILE + 2 * l0;
                    int xo = xt + 32 * b;
                    ShortVector acc = ShortVector.broadcast(S, bias[dt + b]), acd = acc;
                    for (int qd = 0; qd < 8; qd++) {
                        ShortVector v = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * qd, LE);
                        ShortVector e = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * qd + 2 * L, LE);
                        int j = xo + 2 * qd;
                        short x0 = xq[j], x1 = xq[j + 16], x2 = xq[j + 1], x3 = xq[j + 17];
                        acc = (v.and((short) 0xF).mul(x0)).add(acc);
                        acd = (e.and((short) 0xF).mul(x0)).add(acd);
                        acc = (v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(x1)).add(acc);
                        acd = (e.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(x1)).add(acd);
                        acc = (v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(x2)).add(acc);
                        acd = (e.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(x2)).add(acd);
                        acc = (v.lanewise(VectorOperators.LSHR, 12).mul(x3)).add(acc);
                        acd = (e.lanewise(VectorOperators.LSHR, 12).mul(x3)).add(acd);
                    }
                    // in place, as in q4 (helpers would box)
                    FloatVector dx = FloatVector.broadcast(F, xd[dt + b]);
                    ShortVector h = ShortVector.fromMemorySegment(S, w, tile, LE);
                    FloatVector d0 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector d1 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    s0 = ((FloatVector) SV.cast(acc).convertShape(VectorOperators.S2F, F, 0)).mul(d0).fma(dx, s0);
                    s1 = ((FloatVector) SV.cast(acc).convertShape(VectorOperators.S2F, F, 1)).mul(d1).fma(dx, s1);
                    ShortVector k = ShortVector.fromMemorySegment(S, w, tile + 2 * L, LE);
                    FloatVector e0 = ((IntVector) k.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    FloatVector e1 = ((IntVector) k.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                            .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                    u0 = ((FloatVector) SV.cast(acd).convertShape(VectorOperators.S2F, F, 0)).mul(e0).fma(dx, u0);
                    u1 = ((FloatVector) SV.cast(acd).convertShape(VectorOperators.S2F, F, 1)).mul(e1).fma(dx, u1);
                }
                if (rows - r0 >= 32) { // in place: see q4
                    FV.cast(s0).intoArray(out, o + l0);
                    FV.cast(s1).intoArray(out, o + l0 + L / 2);
                    FV.cast(u0).intoArray(out, o + l0 + L);
                    FV.cast(u1).intoArray(out, o + l0 + L + L / 2);
                } else {
                    FV.cast(s0).intoArray(out, o + l0, F.indexInRange(l0, rows - r0));
                    FV.cast(s1).intoArray(out, o + l0 + L / 2, F.indexInRange(l0 + L / 2, rows - r0));
                    FV.cast(u0).intoArray(out, o + l0 + L, F.indexInRange(l0 + L, rows - r0));
                    FV.cast(u1).intoArray(out, o + l0 + L + L / 2, F.indexInRange(l0 + L + L / 2, rows - r0));
                }
            }
        }
    }

    /** Timing bound only (wrong results): the activations of the first column of each block for all columns. */
    static void nobc(MemorySegment w, int g0, int g1, int rows, int nb, short[] xq, float[] xd, short[] bias, float[] out) {
        final long gBytes = (long) nb * Interleaved.Q4_TILE;
        for (int gi = g0; gi < g1; gi++) {
            final long g = gi * gBytes;
            final int r0 = gi * Interleaved.ROWS, o = r0;
            FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
            for (int b = 0; b < nb; b++) {
                long tile = g + (long) b * Interleaved.Q4_TILE;
                int xo = 32 * b;
                ShortVector acc = ShortVector.broadcast(S, bias[b]);
                ShortVector x0 = ShortVector.broadcast(S, xq[xo]), x1 = ShortVector.broadcast(S, xq[xo + 1]);
                for (int qd = 0; qd < 8; qd++) {
                    ShortVector v = ShortVector.fromMemorySegment(S, w, tile + 64 + 64L * qd, LE);
                    ShortVector n0 = v.and((short) 0xF);
                    ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);
                    ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);
                    ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12);
                    acc = (n0.mul(x0)).add(acc);
                    acc = (n1.mul(x1)).add(acc);
                    acc = (n2.mul(x0)).add(acc);
                    acc = (n3.mul(x1)).add(acc);
                }
                ShortVector h = ShortVector.fromMemorySegment(S, w, tile, LE);
                FloatVector d0 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                        .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector d1 = ((IntVector) h.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                        .and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
                FloatVector a0 = (FloatVector) SV.cast(acc).convertShape(VectorOperators.S2F, F, 0);
                FloatVector a1 = (FloatVector) SV.cast(acc).convertShape(VectorOperators.S2F, F, 1);
                float dx = xd[b];
                s0 = a0.mul(d0).fma(FloatVector.broadcast(F, dx), s0);
                s1 = a1.mul(d1).fma(FloatVector.broadcast(F, dx), s1);
            }
            if (rows - r0 >= 32) {
                FV.cast(s0).intoArray(out, o);
                FV.cast(s1).intoArray(out, o + 16);
            } else {
                FV.cast(s0).intoArray(out, o, F.indexInRange(0, rows - r0));
                FV.cast(s1).intoArray(out, o + 16, F.indexInRange(16, rows - r0));
            }
        }
    }
}
