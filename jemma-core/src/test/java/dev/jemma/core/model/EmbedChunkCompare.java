package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * CPU seconds of one embedding call at 1 thread with the model's rows per forward ("chunk") set two ways, the two
 * models loaded side by side in one JVM and their calls alternated, so that the machine's load and the JIT's code are
 * the same for both (separate JVMs of identical code differ by ±15 % on a loaded machine). {@code jemma bench --embed}
 * sizes the chunk from the longest text (512 rows for 512-token texts); {@code jemma embed}, the server and the Java
 * API from the model's context (2048 for EmbeddingGemma). Not a test; by hand:
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) \
 *        dev.jemma.core.model.EmbedChunkCompare /work/bench/embgemma-300m-Q4_0.gguf 8x512 512,2048 [rounds 4]
 * </pre>
 */
public final class EmbedChunkCompare {
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        Path path = Path.of(args[0]);
        int n = Integer.parseInt(args[1].split("x")[0]), len = Integer.parseInt(args[1].split("x")[1]);
        int[] chunks = Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray();
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 4;
        try (ThreadPool pool = new ThreadPool(1)) {
            GgufFile[] files = new GgufFile[chunks.length];
            EmbeddingModel[] models = new EmbeddingModel[chunks.length];
            for (int i = 0; i < chunks.length; i++) {
                files[i] = GgufFile.open(path);
                models[i] = ModelLoader.loadEmbedding(files[i], new ModelLoader.Options(false, 1, chunks[i])
                        .withContextLength(Math.max(len, chunks[i])), pool, true, null);
            }
            List<int[]> batch = BenchTexts.random(new Random(BenchTexts.SEED), Tokenizer.fromGguf(files[0]), n, len);
            long[][] ns = new long[chunks.length][rounds];
            for (int round = -3; round < rounds; round++) {
                for (int j = 0; j < chunks.length; j++) {
                    int i = (j + Math.max(round, 0)) % chunks.length; // which goes first rotates round by round
                    long s = CPU.getCurrentThreadCpuTime();
                    models[i].embed(batch);
                    if (round >= 0) ns[i][round] = CPU.getCurrentThreadCpuTime() - s;
                }
            }
            for (int i = 0; i < chunks.length; i++) {
                long[] a = ns[i].clone();
                Arrays.sort(a);
                System.out.printf("%dx%d, chunk %d rows: CPU s best %.3f median %.3f; tokens per CPU s %.1f (best)%n", n, len,
                        chunks[i], a[0] / 1e9, a[rounds / 2] / 1e9, n * len / (a[0] / 1e9));
            }
            for (EmbeddingModel m : models) m.close();
        }
    }
}
