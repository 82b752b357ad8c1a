package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.PoolProfile;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * An embedding call's CPU at 2 threads against 1 thread, per kernel call site, the two alternating call by call in one
 * process (the model loaded once per pool), so that a shared machine's load, the JIT's code and the heap's layout are
 * the same for both — comparing separate runs, each its own JVM at its own time, is what once read the GEMMs' work as
 * growing 1.2–1.3× at 2 threads (docs/PERFORMANCE.md, "Two threads in the embedding GEMMs"). Per site: each thread's
 * CPU inside its share of the loop ({@link PoolProfile}), summed over the threads; then the spin at loop ends and the
 * caller's serial work between loops, which only the 2-thread call has. Not a test; by hand:
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) \
 *        dev.jemma.core.model.EmbedThreadCompare /work/bench/embgemma-300m-Q4_0.gguf 1x512 [pairs 6]
 * </pre>
 */
public final class EmbedThreadCompare {
    /**
     * Untimed rounds first ({@code -DwarmUp=N}, default 2): a 64-token call needs ~20 before C2 has compiled its
     * per-layer and per-loop methods (docs/PERFORMANCE.md, "One text of 64 tokens on two threads").
     */
    private static final int WARM_UP = Integer.getInteger("warmUp", 2);

    public static void main(String[] args) {
        Path path = Path.of(args[0]);
        int n = Integer.parseInt(args[1].split("x")[0]), len = Integer.parseInt(args[1].split("x")[1]);
        int pairs = args.length > 2 ? Integer.parseInt(args[2]) : 6;
        try (ThreadPool one = new ThreadPool(1); ThreadPool two = new ThreadPool(2)) {
            GgufFile f1 = GgufFile.open(path), f2 = GgufFile.open(path);
            try (EmbeddingModel m1 = ModelLoader.loadEmbedding(f1, new ModelLoader.Options(false, 1, Math.max(64, len))
                    .withContextLength(len), one, true, null);
                 EmbeddingModel m2 = ModelLoader.loadEmbedding(f2, new ModelLoader.Options(false, 2, Math.max(64, len))
                         .withContextLength(len), two, true, null)) {
                List<int[]> batch = BenchTexts.random(new Random(BenchTexts.SEED), Tokenizer.fromGguf(f1), n, len);
                PoolProfile[] prof = {new PoolProfile(1), new PoolProfile(2)};
                for (int round = -WARM_UP; round < pairs; round++) {
                    for (int k = 0; k < 2; k++) {
                        int c = (k + round) & 1; // which goes first alternates round by round
                        ThreadPool pool = c == 0 ? one : two;
                        EmbeddingModel m = c == 0 ? m1 : m2;
                        if (round >= 0) {
                            pool.profile(prof[c]);
                            prof[c].start();
                        }
                        m.embed(batch);
                        if (round >= 0) {
                            prof[c].mark("(end of the call)");
                            pool.profile(null);
                        }
                        two.rest();
                    }
                }
                report(path, n, len, pairs, prof);
            }
        }
    }

    /** Per call site (the kernel and the model line), work CPU per call at 1 and 2 threads and their ratio. */
    private static void report(Path path, int n, int len, int pairs, PoolProfile[] prof) {
        System.out.printf("%n== %s, %dx%d, mean of %d calls each, alternating; CPU ms per call, all threads ==%n",
                path.getFileName(), n, len, pairs);
        Map<String, double[]> rows = new TreeMap<>();
        double[] spin = new double[2], serial = new double[2];
        for (int c = 0; c < 2; c++) {
            for (Map.Entry<String, PoolProfile.Entry> e : prof[c].entries().entrySet()) {
                PoolProfile.Entry v = e.getValue();
                rows.computeIfAbsent(site(e.getKey()), k -> new double[2])[c] += v.work() / 1e6 / pairs;
                spin[c] += (v.callerWait + v.workerIdle) / 1e6 / pairs;
                serial[c] += v.serialBefore / 1e6 / pairs;
            }
        }
        System.out.printf("%-96s %9s %9s %6s%n", "site (work inside the loops)", "1t", "2t", "2t/1t");
        double[] total = new double[2], small = new double[2];
        for (Map.Entry<String, double[]> e : rows.entrySet()) {
            double[] v = e.getValue();
            total[0] += v[0];
            total[1] += v[1];
            if (v[0] < 1) { // sites under 1 ms per call: one line
                small[0] += v[0];
                small[1] += v[1];
                continue;
            }
            String s = e.getKey().length() <= 96 ? e.getKey() : e.getKey().substring(0, 40) + "…" + e.getKey().substring(e.getKey().length() - 55);
            System.out.printf("%-96s %9.2f %9.2f %6.2f%n", s, v[0], v[1], v[1] / v[0]);
        }
        System.out.printf("%-96s %9.2f %9.2f %6.2f%n", "(sites under 1 ms per call)", small[0], small[1], small[1] / small[0]);
        System.out.printf("%-96s %9.2f %9.2f %6.2f%n", "work, all sites", total[0], total[1], total[1] / total[0]);
        System.out.printf("%-96s %9.2f %9.2f%n", "spin at loop ends (caller's wait + worker's idle)", spin[0], spin[1]);
        System.out.printf("%-96s %9.2f %9.2f%n", "serial (the caller alone between loops)", serial[0], serial[1]);
        double all0 = total[0] + spin[0] + serial[0], all1 = total[1] + spin[1] + serial[1];
        System.out.printf("%-96s %9.2f %9.2f %6.2f%n", "total CPU per call", all0, all1, all1 / all0);
    }

    /** The label without the pool's own frames. */
    private static String site(String label) {
        return label.replace("PoolProfile.label < ", "").replace("ThreadPool.profiledFor < ", "")
                .replace("ThreadPool.parallelFor < ", "").replace("FastMatMul$Call.matmul < ", "").replace("FastMatMul.matmul < ", "");
    }
}
