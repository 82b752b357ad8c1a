package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.PoolProfile;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Why the int8 GEMM's work grows at 2 threads (docs/PERFORMANCE.md, "Two threads in the embedding GEMMs"): one matrix
 * shape at a time, one layer's worth of loops as the model runs them — a row-wise producer writes the input (the norm),
 * the input is quantized across the pool, the GEMM runs over 64-row pairs, a row-wise consumer reads the output (the
 * residual add) — with every thread's CPU time read around its share of each loop. Configurations alternate round by
 * round in one process, so a shared machine's load falls on all of them alike; each isolates one hypothesis:
 * <ul>
 *   <li>{@code 1t}: one thread (the reference per unit of work);</li>
 *   <li>{@code 2t}: two threads as {@link FastMatMul} runs them (shared quantized input, shared output, one claim per pair);</li>
 *   <li>{@code 2t-alt}: two threads writing alternate 64-row strips of every output row (thread 0 the even pairs,
 *       thread 1 the odd ones), as the pool's single claim counter handed them out before chunks were claimed from
 *       both ends: every strip boundary a cache line both cores write;</li>
 *   <li>{@code 2t-ownq}: each thread quantizes every token itself into its own buffer (no activation line quantized
 *       by the other core), the shared quantize loop skipped;</li>
 *   <li>{@code 2t-ownout}: each thread writes its own output array (no output line the other core holds);</li>
 *   <li>{@code 2t-2chunks}: one claim per thread instead of one per pair (the claim counters);</li>
 *   <li>{@code 2t-static}: no producer and no consumer (the input never rewritten, the output never read): what is
 *       left when no line moves between the cores;</li>
 *   <li>{@code 1t+spin} / {@code 1t+stream}: one thread while another thread on the other core spins on registers or
 *       streams 64 MB (is it the other core being busy, or the memory system being shared?).</li>
 * </ul>
 * Not a test; by hand (cp.txt as for the other profiles):
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) \
 *        dev.jemma.core.tensor.kernels.GemmThreadHarness [shapes, e.g. q,kv,gateup,down] [tokens 512] [rounds 20] [configs]
 * </pre>
 * Prints per shape and configuration the median over rounds of the CPU ms per call summed over both threads, per phase,
 * and each phase's ratio to {@code 1t}.
 */
public final class GemmThreadHarness {
    private static final String[] PHASES = {"produce", "quantize", "gemm", "consume"};
    private static final Map<String, int[]> SHAPES = new LinkedHashMap<>();

    static {
        // EmbeddingGemma-300M: hidden 768, FFN 1152, 3 heads and 1 kv head of 256
        SHAPES.put("q", new int[]{768, 768});
        SHAPES.put("kv", new int[]{256, 768});
        SHAPES.put("gateup", new int[]{1152, 768});
        SHAPES.put("down", new int[]{768, 1152});
    }

    private final int rows, cols, n;
    private final WeightMatrix w;
    private final float[] src, x, out;
    private final float[][] ownOut = new float[2][];
    private final QuantizedActivations xq = new QuantizedActivations(false);
    private final QuantizedActivations[] ownQ = {new QuantizedActivations(false), new QuantizedActivations(false)};
    private final int[] ownStamp = new int[2];
    private final Int8Gemm.Scratch[] scratch = {new Int8Gemm.Scratch(), new Int8Gemm.Scratch()};
    private final double[] sink = new double[64];
    private int stamp;

    GemmThreadHarness(int rows, int cols, int n) {
        this.rows = rows;
        this.cols = cols;
        this.n = n;
        this.w = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(GgmlType.Q4_0, rows, cols, 31L * rows + cols));
        Random rnd = new Random(rows + 7L * cols);
        src = new float[n * cols];
        for (int i = 0; i < src.length; i++) src[i] = (float) rnd.nextGaussian();
        x = src.clone();
        out = new float[n * rows];
        ownOut[0] = new float[n * rows];
        ownOut[1] = new float[n * rows];
        xq.reserve(n, cols);
        xq.quantize(x, 0, n);
    }

    /** One call of configuration {@code cfg}; returns CPU ns per phase summed over the threads. */
    long[] call(String cfg, ThreadPool pool) {
        long[] r = new long[PHASES.length];
        stamp++;
        boolean flow = !cfg.equals("2t-static");
        boolean ownq = cfg.equals("2t-ownq"), ownout = cfg.equals("2t-ownout");
        boolean alt = cfg.equals("2t-alt");
        if (flow) {
            r[0] = measured(pool, n, (t0, t1, k) -> {
                // the norm: every element of the thread's rows rewritten from the residual stream
                for (int i = t0 * cols; i < t1 * cols; i++) x[i] = src[i] * 1.0001f;
            }, 8 * pool.threads());
        }
        if (!ownq) {
            xq.reserve(n, cols);
            xq.interleaveAsQuantized(); // as FastMatMul quantizes for a GEMM
            r[1] = measured(pool, n, (t0, t1, k) -> xq.quantize(x, t0, t1), 8 * pool.threads());
        }
        int pairs = Int8Gemm.pairs(rows);
        int items = pairs;
        int chunks = cfg.equals("2t-2chunks") ? 2 : items;
        r[2] = measured(pool, items, (i0, i1, k) -> {
            QuantizedActivations a = xq;
            if (ownq) {
                // each thread's own quantization, on its first item: counted in the GEMM loop's CPU
                a = ownQ[k];
                if (ownStamp[k] != stamp) {
                    a.reserve(n, cols);
                    a.quantize(x, 0, n);
                    ownStamp[k] = stamp;
                }
            }
            float[] o = ownout ? ownOut[k] : out;
            if (alt) {
                // front items (thread 0) take the even pairs, back items (thread 1) the odd ones
                for (int i = i0; i < i1; i++) {
                    int p = i < (items + 1) / 2 ? 2 * i : 2 * (items - 1 - i) + 1;
                    Int8Gemm.gemm(w.type(), w.interleaved(), rows, cols, a, o, p, p + 1, scratch[k]);
                }
            } else {
                Int8Gemm.gemm(w.type(), w.interleaved(), rows, cols, a, o, i0, i1, scratch[k]);
            }
        }, chunks);
        if (flow) {
            r[3] = measured(pool, n, (t0, t1, k) -> {
                float[] o = ownout ? ownOut[k] : out;
                // the residual add: the thread's token rows of the output read whole
                double s = 0;
                for (int i = t0 * rows; i < t1 * rows; i++) s += o[i];
                sink[k * 16] += s;
            }, 8 * pool.threads());
        }
        return r;
    }

    /**
     * One loop with every thread's CPU clock read around its share of it ({@link PoolProfile}: once per thread and loop,
     * not per chunk, so that small row-wise loops are not dominated by the reading); returns the threads' sum.
     */
    private static long measured(ThreadPool pool, int n, ThreadPool.RangeTask task, int chunks) {
        PoolProfile p = new PoolProfile(pool.threads());
        pool.profile(p);
        try {
            pool.parallelFor(n, task, chunks);
        } finally {
            pool.profile(null);
        }
        long sum = 0;
        for (PoolProfile.Entry e : p.entries().values()) sum += e.work();
        return sum;
    }

    /** A thread on the other core while a {@code 1t+…} call runs: spinning on registers, or streaming 64 MB. */
    private static final class Antagonist extends Thread {
        volatile int mode; // 0 idle (parked), 1 spin, 2 stream
        volatile boolean stop;
        double sink;

        Antagonist() {
            super("antagonist");
            setDaemon(true);
        }

        @Override
        public void run() {
            long[] big = new long[8 << 20];
            Arrays.fill(big, 1);
            double a = 1;
            while (!stop) {
                int m = mode;
                if (m == 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(200_000);
                } else if (m == 1) {
                    for (int i = 0; i < 1_000_000; i++) a = a * 1.0000001 + 1e-9;
                } else {
                    long s = 0;
                    for (int i = 0; i < big.length; i += 8) s += big[i];
                    a += s;
                }
            }
            sink = a;
        }
    }

    public static void main(String[] args) {
        String[] shapes = (args.length > 0 ? args[0] : "q,kv,gateup,down").split(",");
        int n = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        String[] cfgs = (args.length > 3 ? args[3] : "1t,2t,2t-alt,2t-ownq,2t-ownout,2t-2chunks,2t-static,1t+spin,1t+stream").split(",");
        Antagonist ant = new Antagonist();
        ant.start();
        try (ThreadPool one = new ThreadPool(1); ThreadPool two = new ThreadPool(2)) {
            for (String shape : shapes) {
                int[] rc = SHAPES.get(shape);
                GemmThreadHarness h = new GemmThreadHarness(rc[0], rc[1], n);
                Map<String, List<long[]>> res = new LinkedHashMap<>();
                for (String c : cfgs) res.put(c, new ArrayList<>());
                for (int round = -3; round < rounds; round++) {
                    // a different order each round: no configuration always follows the same one
                    List<String> order = new ArrayList<>(List.of(cfgs));
                    java.util.Collections.rotate(order, Math.floorMod(round, cfgs.length));
                    for (String c : order) {
                        boolean single = c.startsWith("1t");
                        ant.mode = c.equals("1t+spin") ? 1 : c.equals("1t+stream") ? 2 : 0;
                        long[] r = null;
                        for (int rep = 0; rep < 3; rep++) {
                            long[] one3 = h.call(c, single ? one : two);
                            if (r == null) r = one3;
                            else for (int p = 0; p < r.length; p++) r[p] += one3[p];
                        }
                        ant.mode = 0;
                        two.rest();
                        if (round >= 0) res.get(c).add(r);
                    }
                }
                System.out.printf("%n== %s: %d x %d, %d tokens, Q4_0, median of %d rounds of 3 calls; CPU ms per call, all threads ==%n",
                        shape, rc[0], rc[1], n, rounds);
                System.out.printf("%-11s", "config");
                for (String p : PHASES) System.out.printf(" %9s %6s", p, "×1t");
                System.out.printf(" %9s%n", "gemm min");
                double[] base = null;
                for (String c : cfgs) {
                    double[] med = new double[PHASES.length];
                    for (int p = 0; p < PHASES.length; p++) {
                        final int pp = p;
                        double[] v = res.get(c).stream().mapToDouble(a -> a[pp] / 3e6).sorted().toArray();
                        med[p] = v[v.length / 2];
                    }
                    double min = res.get(c).stream().mapToDouble(a -> a[2] / 3e6).min().orElse(0);
                    if (base == null) base = med;
                    System.out.printf("%-11s", c);
                    for (int p = 0; p < PHASES.length; p++) System.out.printf(" %9.3f %6.2f", med[p], base[p] > 0 ? med[p] / base[p] : 0);
                    System.out.printf(" %9.3f%n", min);
                }
            }
        } finally {
            ant.stop = true;
        }
    }
}
