package dev.jemma.core.model;

import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.PoolProfile;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.FastMatMul;
import dev.jemma.core.tensor.kernels.VectorWidth;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * CPU time per single-token decode step (issue 16, docs/PERFORMANCE.md "Single-token decode after the merges"): the
 * steps of {@code jemma bench MODEL -p 0 -n N} (random ids, seed 42, one token per forward from an empty cache), in one
 * JVM, with configurations switched at run time and alternated run by run, so that every configuration sees the same
 * machine load and the same JIT state. Per run it takes the process's CPU time (every pool thread, spinning included),
 * the caller's and the workers' CPU and the wall time; per configuration it prints the median and mean of the runs.
 * Configurations: {@code gated} (FastMatMul's gated-FFN loop on every token count), {@code gated:G} (the same with G
 * groups of gate and up per unit where both take the per-token GEMV; 0: the build's choice, the GEMV's chunk),, {@code ungated}
 * ({@code FastMatMul.gatedLoops(false)}: gate/up, activation, down as before serve19), {@code default} (whatever the
 * build chooses). With {@code -Dprofile=true} each configuration's last run is traced by {@link PoolProfile}: pool loops
 * per token and, per call site, work / wait / serial CPU. Not a test; by hand:
 * <pre>
 *   java --add-modules jdk.incubator.vector [-XX:UseAVX=2 -Djemma.vectorBits=256] \
 *        -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) \
 *        dev.jemma.core.model.DecodeCost /work/bench/gemma3-1b-Q4_0.gguf THREADS TOKENS ROUNDS gated,ungated
 * </pre>
 */
public final class DecodeCost {
    private static final com.sun.management.ThreadMXBean CPU =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** The build's default of {@link FastMatMul#gatedGemvGroups(int)}. */
    private static final int GEMV_GROUPS = FastMatMul.gatedGemvGroups(0);

    public static void main(String[] args) {
        FastMatMul.gatedGemvGroups(GEMV_GROUPS);
        if (args.length != 5) {
            System.err.println("usage: DecodeCost MODEL.gguf THREADS TOKENS ROUNDS CONFIGS   (CONFIGS e.g. gated,ungated)");
            System.exit(2);
        }
        Path path = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]), tokens = Integer.parseInt(args[2]), rounds = Integer.parseInt(args[3]);
        String[] configs = args[4].split(",");
        boolean gatedDefault = FastMatMul.gatedLoops(true);
        FastMatMul.gatedLoops(gatedDefault);
        try (ThreadPool pool = new ThreadPool(threads);
             LanguageModel m = ModelLoader.load(path, new ModelLoader.Options(false, threads, 1), pool)) {
            int vocab = m.config().vocabSize();
            Random rnd = new Random(42);
            int[] ids = new int[tokens];
            for (int i = 0; i < ids.length; i++) ids[i] = rnd.nextInt(vocab);
            KvCache cache = m.newCache(tokens);
            Runnable body = () -> {
                cache.clear();
                for (int i = 0; i < tokens; i++) m.forward(ids, i, 1, cache, false);
            };
            List<Thread> workers = pool.workers();
            long[] tids = new long[1 + workers.size()];
            tids[0] = Thread.currentThread().threadId();
            for (int i = 0; i < workers.size(); i++) tids[1 + i] = workers.get(i).threadId();
            // warm-up: every configuration until the JIT is quiet (its kernels and loops compiled)
            var jit = ManagementFactory.getCompilationMXBean();
            for (int w = 0; w < 40; w++) {
                long j0 = jit.getTotalCompilationTime();
                for (String c : configs) {
                    set(c, gatedDefault);
                    body.run();
                }
                if (w >= 4 && jit.getTotalCompilationTime() == j0) break;
            }
            double[][] proc = new double[configs.length][rounds], caller = new double[configs.length][rounds],
                    work = new double[configs.length][rounds], wall = new double[configs.length][rounds];
            long[] alloc = new long[configs.length];
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < configs.length; k++) {
                    // alternate the order round by round: neither configuration always runs right after the other
                    int c = (r & 1) == 0 ? k : configs.length - 1 - k;
                    set(configs[c], gatedDefault);
                    long[] t0 = CPU.getThreadCpuTime(tids), a0 = CPU.getThreadAllocatedBytes(tids);
                    long p0 = processCpu(), w0 = System.nanoTime();
                    body.run();
                    long w1 = System.nanoTime(), p1 = processCpu();
                    long[] t1 = CPU.getThreadCpuTime(tids), a1 = CPU.getThreadAllocatedBytes(tids);
                    proc[c][r] = (p1 - p0) / 1e6 / tokens;
                    wall[c][r] = (w1 - w0) / 1e6 / tokens;
                    caller[c][r] = (t1[0] - t0[0]) / 1e6 / tokens;
                    long ws = 0;
                    for (int i = 1; i < tids.length; i++) ws += t1[i] - t0[i];
                    work[c][r] = ws / 1e6 / tokens;
                    for (int i = 0; i < tids.length; i++) alloc[c] += a1[i] - a0[i];
                }
            }
            System.out.printf("bits %d, threads %d, %d tokens per run, %d rounds, load %.2f%n", VectorWidth.BITS, threads,
                    tokens, rounds, ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
            System.out.println("config      | process CPU ms/token median (mean) | caller | workers | wall ms/token median | alloc B/token");
            for (int c = 0; c < configs.length; c++) {
                System.out.printf("%-11s | %7.3f (%7.3f) | %7.3f | %7.3f | %7.3f | %.0f%n", configs[c], median(proc[c]), mean(proc[c]),
                        median(caller[c]), median(work[c]), median(wall[c]), (double) alloc[c] / rounds / tokens);
            }
            System.out.println("per round, process CPU ms/token: ");
            for (int c = 0; c < configs.length; c++) {
                StringBuilder sb = new StringBuilder(String.format("  %-11s", configs[c]));
                for (double v : proc[c]) sb.append(String.format(" %.2f", v));
                System.out.println(sb);
            }
            int wins = 0;
            if (configs.length == 2) {
                for (int r = 0; r < rounds; r++) if (proc[0][r] < proc[1][r]) wins++;
                System.out.printf("%s below %s in %d of %d rounds%n", configs[0], configs[1], wins, rounds);
            }
            if (Boolean.getBoolean("profile")) {
                for (String c : configs) {
                    set(c, gatedDefault);
                    profile(pool, threads, body, c, tokens);
                }
            }
        } finally {
            FastMatMul.gatedLoops(gatedDefault);
        }
    }

    private static void set(String config, boolean gatedDefault) {
        if (config.startsWith("gated:")) { // the gated loop with G groups of gate and up per unit on the GEMV
            FastMatMul.gatedLoops(true);
            FastMatMul.gatedGemvGroups(Integer.parseInt(config.substring(6)));
            return;
        }
        FastMatMul.gatedGemvGroups(GEMV_GROUPS);
        switch (config) {
            case "gated" -> FastMatMul.gatedLoops(true);
            case "ungated" -> FastMatMul.gatedLoops(false);
            case "default" -> FastMatMul.gatedLoops(gatedDefault);
            default -> throw new IllegalArgumentException("unknown configuration " + config + " (gated, ungated, default)");
        }
    }

    /** One traced run: pool loops per token and per call site its CPU, in µs per token. */
    private static void profile(ThreadPool pool, int threads, Runnable body, String config, int tokens) {
        PoolProfile p = new PoolProfile(threads);
        pool.profile(p);
        p.start();
        body.run();
        p.mark("(after the last loop)");
        pool.profile(null);
        long loops = 0, work = 0, wait = 0, idle = 0, serial = 0;
        List<Map.Entry<String, PoolProfile.Entry>> es = new ArrayList<>(p.entries().entrySet());
        es.sort((a, b) -> Long.compare(b.getValue().work() + b.getValue().callerWait + b.getValue().serialBefore,
                a.getValue().work() + a.getValue().callerWait + a.getValue().serialBefore));
        System.out.printf("%n[%s] per token, µs of CPU: work (caller/workers) | caller wait | worker idle | serial before | loops%n", config);
        for (var en : es) {
            PoolProfile.Entry e = en.getValue();
            if (!en.getKey().startsWith("(")) loops += e.calls;
            work += e.work();
            wait += e.callerWait;
            idle += e.workerIdle;
            serial += e.serialBefore;
            System.out.printf("  %8.1f (%s) | %7.1f | %7.1f | %7.1f | %5.1f  %s%n", e.work() / 1e3 / tokens,
                    Arrays.stream(e.work).mapToObj(v -> String.format("%.1f", v / 1e3 / tokens)).reduce((a, b) -> a + "/" + b).orElse(""),
                    e.callerWait / 1e3 / tokens, e.workerIdle / 1e3 / tokens, e.serialBefore / 1e3 / tokens,
                    (double) e.calls / tokens, en.getKey());
        }
        System.out.printf("[%s] total per token: loops %.1f, work %.1f µs, caller wait %.1f, worker idle %.1f, serial %.1f%n",
                config, (double) loops / tokens, work / 1e3 / tokens, wait / 1e3 / tokens, idle / 1e3 / tokens, serial / 1e3 / tokens);
    }

    private static long processCpu() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double mean(double[] v) {
        double s = 0;
        for (double d : v) s += d;
        return s / v.length;
    }
}
