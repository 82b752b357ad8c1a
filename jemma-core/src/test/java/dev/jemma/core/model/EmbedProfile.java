package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * CPU seconds of one embedding call (texts × tokens of random ids, {@link BenchTexts}: the batch {@code jemma bench --embed} times) at 1
 * thread, where the caller's thread does all the work, so its CPU time is the call's whatever else the machine runs.
 * Not a test; run by hand to compare changes on a shared machine (docs/PERFORMANCE.md, "Embeddings"):
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) \
 *        dev.jemma.core.model.EmbedProfile /work/bench/embgemma-300m-Q4_0.gguf 8x64,8x512 [runs] [exact]
 * </pre>
 * {@code -Dchunk=N} sets the rows per forward (default: the longest text's tokens, as {@code jemma bench --embed}).
 * Prints, per case, the best and median CPU seconds of {@code runs} calls after warm-up calls, and tokens per CPU second.
 */
public final class EmbedProfile {
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
    /** Untimed calls per case first: C2 compiles the forward's methods over the first few (more for short calls). */
    private static final int WARM_UP = Integer.getInteger("warmUp", 6);

    public static void main(String[] args) {
        Path path = Path.of(args[0]);
        String[] cases = args[1].split(",");
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        boolean exact = args.length > 3 && args[3].equals("exact");
        int longest = 0;
        for (String c : cases) longest = Math.max(longest, Integer.parseInt(c.split("x")[1]));
        try (ThreadPool pool = new ThreadPool(1)) {
            GgufFile f = GgufFile.open(path);
            // -Dchunk=N: rows per forward (default the longest text, as jemma bench --embed sizes it)
            int chunk = Integer.getInteger("chunk", Math.max(64, longest));
            try (EmbeddingModel m = ModelLoader.loadEmbedding(f, new ModelLoader.Options(exact, 1, chunk)
                    .withContextLength(longest), pool, true, null)) {
                Random rnd = new Random(BenchTexts.SEED);
                Tokenizer tokenizer = Tokenizer.fromGguf(f);
                for (String c : cases) {
                    int n = Integer.parseInt(c.split("x")[0]), len = Integer.parseInt(c.split("x")[1]);
                    List<int[]> batch = BenchTexts.random(rnd, tokenizer, n, len);
                    for (int w = 0; w < WARM_UP; w++) m.embed(batch);
                    long[] ns = new long[runs];
                    for (int r = 0; r < runs; r++) {
                        long s = CPU.getCurrentThreadCpuTime();
                        m.embed(batch);
                        ns[r] = CPU.getCurrentThreadCpuTime() - s;
                    }
                    java.util.Arrays.sort(ns);
                    double best = ns[0] / 1e9, median = ns[runs / 2] / 1e9;
                    System.out.printf("%s %s %dx%d: CPU s best %.3f median %.3f; tokens per CPU s %.1f (best) %.1f (median)%n",
                            path.getFileName(), exact ? "exact" : "default", n, len, best, median, n * len / best, n * len / median);
                }
            }
        }
    }
}
