package dev.jemma.jmh;

import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.Batch;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.FastMatMul;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * What one continuous-batching step costs (docs/PERFORMANCE.md, "Serving"): {@code forward(Batch)} over D decode rows
 * (each on its own cache) plus an optional P-token prompt chunk, on one compute thread, in thread CPU time — which a
 * shared machine disturbs far less than wall time. Prints the minimum and median over the repetitions.
 * <pre>
 *   mvn -Pjmh -pl jemma-jmh -am package -DskipTests
 *   java --add-modules jdk.incubator.vector -cp jemma-jmh/target/jemma-benchmarks.jar dev.jemma.jmh.BatchedStepCost \
 *       /work/bench/gemma3-1b-Q4_0.gguf 10 1,2,3,4,8,3+16,3+64,0+64
 * </pre>
 * A case is {@code D} or {@code D+P}. Caches hold {@value #CONTEXT} random tokens and are cut back after each step.
 * With a fourth argument {@code few-tokens}, every case runs twice, step by step alternated: with the few-token kernels
 * ({@code Int8FewTokens}, FastMatMul's default) and without them (the paths before: per-token kernels below 4 rows, the
 * tile GEMMs from 4), so that both see the same machine load.
 */
public final class BatchedStepCost {
    static final int CONTEXT = 64;
    static final int WARMUP = 6;

    public static void main(String[] args) throws Exception {
        if (args.length != 3 && !(args.length == 4 && args[3].equals("few-tokens"))) {
            System.err.println("usage: BatchedStepCost MODEL.gguf REPS CASES [few-tokens]   (CASES e.g. 1,4,8,3+16)");
            System.exit(2);
        }
        Path model = Path.of(args[0]);
        int reps = Integer.parseInt(args[1]);
        String[] cases = args[2].split(",");
        boolean compare = args.length == 4;
        int fewDefault = FastMatMul.fewTokensMax();
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        int threads = Integer.getInteger("threads", 1);
        if (threads > 1 || Boolean.getBoolean("interleave")) {
            interleaved(model, reps, cases, threads);
            return;
        }
        try (ThreadPool pool = new ThreadPool(1);
             LanguageModel m = ModelLoader.load(model, new ModelLoader.Options(false, 1, 512), pool)) {
            int vocab = m.config().vocabSize();
            Random rnd = new Random(1);
            List<KvCache> caches = prefilledCaches(m, cases, rnd);
            int maxDecode = caches.size() - 1;
            for (String c : cases) {
                String[] parts = c.split("\\+");
                int decode = Integer.parseInt(parts[0]), chunk = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
                int sides = compare ? 2 : 1;
                long[][] t = new long[sides][reps];
                // warm-up steps: a case's kernels (a new token count) must be compiled by C2 before its steps count
                for (int r = -WARMUP; r < reps; r++) {
                    for (int side = 0; side < sides; side++) {
                        FastMatMul.fewTokensMax(side == 0 ? fewDefault : 0);
                        Batch.Builder b = Batch.builder();
                        for (int i = 0; i < decode; i++) b.token(caches.get(i), rnd.nextInt(10, vocab), true);
                        if (chunk > 0) b.tokens(caches.get(maxDecode), randomTokens(rnd, chunk, vocab), 0, chunk, false);
                        Batch batch = b.build();
                        long c0 = mx.getCurrentThreadCpuTime();
                        m.forward(batch);
                        long c1 = mx.getCurrentThreadCpuTime();
                        if (r >= 0) t[side][r] = c1 - c0;
                        for (KvCache k : caches) k.truncate(CONTEXT);
                    }
                }
                FastMatMul.fewTokensMax(fewDefault);
                for (int side = 0; side < sides; side++) {
                    Arrays.sort(t[side]);
                    String label = !compare ? "" : side == 0 ? " (few-token kernels)" : " (without)";
                    System.out.printf("%-8s CPU ms per step: min %7.1f  median %7.1f%s%n", c, t[side][0] / 1e6, t[side][reps / 2] / 1e6, label);
                }
            }
        }
    }

    /**
     * {@code -Dthreads=N} (or {@code -Dinterleave=true}): the cases alternate step by step (each repetition runs every
     * case once), so all see the same machine load, on a pool of N threads; per case the least and the median wall time
     * and CPU of all the pool's threads (the caller's and the workers', ThreadMXBean). The least wall time of many
     * alternated steps is the nearest a loaded machine gets to a quiet one's.
     */
    private static void interleaved(Path model, int reps, String[] cases, int threads) throws Exception {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        try (ThreadPool pool = new ThreadPool(threads);
             LanguageModel m = ModelLoader.load(model, new ModelLoader.Options(false, threads, 512), pool)) {
            int vocab = m.config().vocabSize();
            Random rnd = new Random(1);
            List<KvCache> caches = prefilledCaches(m, cases, rnd);
            int maxDecode = caches.size() - 1;
            List<Long> ids = new ArrayList<>();
            ids.add(Thread.currentThread().threadId());
            for (Thread t : Thread.getAllStackTraces().keySet()) if (t.getName().startsWith("jemma-worker-")) ids.add(t.threadId());
            long[][] wall = new long[cases.length][reps], cpu = new long[cases.length][reps];
            for (int r = -WARMUP; r < reps; r++) {
                for (int ci = 0; ci < cases.length; ci++) {
                    String[] parts = cases[ci].split("\\+");
                    int decode = Integer.parseInt(parts[0]), chunk = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
                    Batch.Builder b = Batch.builder();
                    for (int i = 0; i < decode; i++) b.token(caches.get(i), rnd.nextInt(10, vocab), true);
                    if (chunk > 0) b.tokens(caches.get(maxDecode), randomTokens(rnd, chunk, vocab), 0, chunk, false);
                    Batch batch = b.build();
                    long c0 = 0, c1 = 0;
                    for (long id : ids) c0 += mx.getThreadCpuTime(id);
                    long w0 = System.nanoTime();
                    m.forward(batch);
                    long w1 = System.nanoTime();
                    pool.rest();   // as the scheduler does after every step
                    for (long id : ids) c1 += mx.getThreadCpuTime(id);
                    if (r >= 0) {
                        wall[ci][r] = w1 - w0;
                        cpu[ci][r] = c1 - c0;
                    }
                    for (KvCache k : caches) k.truncate(CONTEXT);
                }
            }
            for (int ci = 0; ci < cases.length; ci++) {
                Arrays.sort(wall[ci]);
                Arrays.sort(cpu[ci]);
                System.out.printf("%-8s %d threads: wall ms min %7.1f median %7.1f; CPU ms min %7.1f median %7.1f%n", cases[ci], threads,
                        wall[ci][0] / 1e6, wall[ci][reps / 2] / 1e6, cpu[ci][0] / 1e6, cpu[ci][reps / 2] / 1e6);
            }
        }
    }

    /**
     * One cache per decode row of the longest case plus one for the prompt chunk, each holding {@link #CONTEXT} random
     * tokens already (so decode rows attend over a realistic context); the last one takes the chunk.
     */
    private static List<KvCache> prefilledCaches(LanguageModel m, String[] cases, Random rnd) {
        int vocab = m.config().vocabSize(), maxDecode = 0;
        for (String c : cases) maxDecode = Math.max(maxDecode, Integer.parseInt(c.split("\\+")[0]));
        List<KvCache> caches = new ArrayList<>();
        for (int i = 0; i <= maxDecode; i++) {
            KvCache c = m.newCache(4096);
            m.forward(randomTokens(rnd, CONTEXT, vocab), 0, CONTEXT, c, false);
            caches.add(c);
        }
        return caches;
    }

    private static int[] randomTokens(Random rnd, int n, int vocab) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rnd.nextInt(10, vocab);
        return t;
    }
}
