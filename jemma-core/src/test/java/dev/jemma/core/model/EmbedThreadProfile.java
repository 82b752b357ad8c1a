package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.PoolProfile;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * How the pool's threads share one embedding call, loop by loop ({@link PoolProfile}): per kernel call site, each
 * thread's CPU inside its share, the caller's wait at the loop's end, the workers' spin after their share, and the
 * caller's serial work before the loop. CPU time, so it means something on a shared machine. Not a test; by hand
 * (docs/PERFORMANCE.md, "How two threads share an embedding forward"):
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) \
 *        dev.jemma.core.model.EmbedThreadProfile /work/bench/embgemma-300m-Q4_0.gguf 8x64,8x512 2 [runs]
 * </pre>
 * Prints, per case, the totals (wall, each thread's CPU, with and without the probe) and the per-site table, per call
 * averaged over {@code runs} calls after warm-up.
 */
public final class EmbedThreadProfile {
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
    private static final int WARM_UP = Integer.getInteger("warmUp", 6);

    public static void main(String[] args) {
        Path path = Path.of(args[0]);
        String[] cases = args[1].split(",");
        int threads = Integer.parseInt(args[2]);
        int runs = args.length > 3 ? Integer.parseInt(args[3]) : 4;
        int longest = 0;
        for (String c : cases) longest = Math.max(longest, Integer.parseInt(c.split("x")[1]));
        try (ThreadPool pool = new ThreadPool(threads)) {
            GgufFile f = GgufFile.open(path);
            try (EmbeddingModel m = ModelLoader.loadEmbedding(f, new ModelLoader.Options(false, threads, Math.max(64, longest))
                    .withContextLength(longest), pool, true, null)) {
                Random rnd = new Random(BenchTexts.SEED);
                Tokenizer tokenizer = Tokenizer.fromGguf(f);
                for (String c : cases) {
                    int n = Integer.parseInt(c.split("x")[0]), len = Integer.parseInt(c.split("x")[1]);
                    List<int[]> batch = BenchTexts.random(rnd, tokenizer, n, len);
                    for (int w = 0; w < WARM_UP; w++) m.embed(batch);
                    long[] plain = cpuOf(pool, runs, () -> m.embed(batch));
                    PoolProfile prof = new PoolProfile(threads);
                    pool.profile(prof);
                    long[] probed = cpuOf(pool, runs, () -> {
                        prof.start();
                        m.embed(batch);
                        prof.mark("(after the last loop: end of the call)");
                    });
                    pool.profile(null);
                    System.out.printf("%n== %s, %d thread(s), %dx%d, per call (mean of %d) ==%n", path.getFileName(), threads, n, len, runs);
                    System.out.printf("plain : wall %.1f ms, CPU per thread %s ms, total %.1f ms%n", plain[0] / 1e6 / runs,
                            perThread(plain, runs), total(plain) / 1e6 / runs);
                    System.out.printf("probed: wall %.1f ms, CPU per thread %s ms, total %.1f ms%n", probed[0] / 1e6 / runs,
                            perThread(probed, runs), total(probed) / 1e6 / runs);
                    report(prof, threads, runs);
                }
            }
        }
    }

    /** {wall ns, caller CPU ns, worker 1 CPU ns, …} summed over {@code runs} calls. */
    private static long[] cpuOf(ThreadPool pool, int runs, Runnable call) {
        List<Thread> workers = pool.workers();
        long[] out = new long[2 + workers.size()];
        for (int r = 0; r < runs; r++) {
            long[] before = snapshot(workers);
            long w = System.nanoTime();
            call.run();
            out[0] += System.nanoTime() - w;
            long[] after = snapshot(workers);
            for (int i = 0; i < before.length; i++) out[1 + i] += after[i] - before[i];
        }
        return out;
    }

    private static long[] snapshot(List<Thread> workers) {
        long[] s = new long[1 + workers.size()];
        s[0] = CPU.getCurrentThreadCpuTime();
        for (int i = 0; i < workers.size(); i++) s[1 + i] = CPU.getThreadCpuTime(workers.get(i).threadId());
        return s;
    }

    private static String perThread(long[] a, int runs) {
        StringBuilder sb = new StringBuilder();
        for (int i = 1; i < a.length; i++) sb.append(i > 1 ? " / " : "").append(String.format("%.1f", a[i] / 1e6 / runs));
        return sb.toString();
    }

    private static long total(long[] a) {
        long s = 0;
        for (int i = 1; i < a.length; i++) s += a[i];
        return s;
    }

    private static void report(PoolProfile prof, int threads, int runs) {
        System.out.printf("%-100s %6s %8s", "site [items per loop]", "loops", "serial");
        for (int i = 0; i < threads; i++) System.out.printf(" %8s", "work" + i);
        System.out.printf(" %8s %8s%n", "callWait", "wrkIdle");
        long serial = 0, wait = 0, idle = 0;
        long[] work = new long[threads];
        for (Map.Entry<String, PoolProfile.Entry> en : prof.entries().entrySet()) {
            PoolProfile.Entry e = en.getValue();
            System.out.printf("%-100s %6d %8.2f", trim(en.getKey()), e.calls / runs, e.serialBefore / 1e6 / runs);
            for (int i = 0; i < threads; i++) System.out.printf(" %8.2f", e.work[i] / 1e6 / runs);
            System.out.printf(" %8.2f %8.2f%n", e.callerWait / 1e6 / runs, e.workerIdle / 1e6 / runs);
            serial += e.serialBefore;
            wait += e.callerWait;
            idle += e.workerIdle;
            for (int i = 0; i < threads; i++) work[i] += e.work[i];
        }
        System.out.printf("%-100s %6s %8.2f", "TOTAL (ms CPU per call)", "", serial / 1e6 / runs);
        for (int i = 0; i < threads; i++) System.out.printf(" %8.2f", work[i] / 1e6 / runs);
        System.out.printf(" %8.2f %8.2f%n", wait / 1e6 / runs, idle / 1e6 / runs);
    }

    private static String trim(String s) {
        return s.length() <= 100 ? s : "…" + s.substring(s.length() - 99);
    }
}
