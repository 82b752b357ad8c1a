package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.attention.Attention;
import dev.jemma.core.tokenizer.Tokenizer;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * CPU seconds of a whole forward at 1 thread with {@link Attention#forms} switched call by call in one JVM: the
 * transposed score tiles and six-row value tiles (the default at 512 bits) against the row-major 4 × 4 tiles, each
 * form's calls interleaved with the other's so that the machine's load and the JIT's code are alike for both. An
 * embedding file runs {@code texts x tokens} as {@code jemma bench --embed} does; a text model runs one prompt of
 * {@code tokens} (pp). Not a test; by hand:
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) \
 *        dev.jemma.core.model.AttentionFormCompare /work/bench/embgemma-300m-Q4_0.gguf 1x512 [rounds 6]
 *   … AttentionFormCompare /work/bench/gemma3-1b-Q4_0.gguf 1x512 [rounds]
 * </pre>
 */
public final class AttentionFormCompare {
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[0]);
        int n = Integer.parseInt(args[1].split("x")[0]), len = Integer.parseInt(args[1].split("x")[1]);
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 6;
        String[] names = {"transposed + 6-row values", "row-major 4x4 tiles"};
        boolean[][] forms = {{true, true}, {false, false}};
        long[][] ns = new long[forms.length][rounds];
        try (ThreadPool pool = new ThreadPool(1)) {
            GgufFile f = GgufFile.open(path);
            Runnable call;
            AutoCloseable model;
            if (!ModelLoader.requireSupported(f).equals(GemmaEmbeddingArchitecture.NAME)) {
                LanguageModel m = ModelLoader.load(f, new ModelLoader.Options(false, 1, len), pool, true);
                int[] ids = new Random(42).ints(len, 0, m.config().vocabSize()).toArray();
                KvCache cache = m.newCache(len);
                call = () -> {
                    cache.clear();
                    m.forward(ids, 0, len, cache, false);
                };
                model = m;
            } else {
                EmbeddingModel m = ModelLoader.loadEmbedding(f, new ModelLoader.Options(false, 1, Math.max(64, len))
                        .withContextLength(len), pool, true, null);
                List<int[]> batch = BenchTexts.random(new Random(BenchTexts.SEED), Tokenizer.fromGguf(f), n, len);
                call = () -> m.embed(batch);
                model = m;
            }
            for (int round = -3; round < rounds; round++) {
                for (int j = 0; j < forms.length; j++) {
                    int i = (j + Math.max(round, 0)) % forms.length; // which goes first rotates round by round
                    Attention.forms(forms[i][0], forms[i][1]);
                    long s = CPU.getCurrentThreadCpuTime();
                    call.run();
                    if (round >= 0) ns[i][round] = CPU.getCurrentThreadCpuTime() - s;
                }
            }
            Attention.forms(true, true);
            model.close();
        }
        for (int i = 0; i < forms.length; i++) {
            long[] a = ns[i].clone();
            Arrays.sort(a);
            System.out.printf("%s %s, %s: CPU s best %.3f median %.3f (%d calls)%n", path.getFileName(), args[1], names[i],
                    a[0] / 1e9, a[rounds / 2] / 1e9, rounds);
        }
    }
}
