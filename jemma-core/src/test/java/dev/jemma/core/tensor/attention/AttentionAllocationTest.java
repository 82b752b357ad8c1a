package dev.jemma.core.tensor.attention;

import dev.jemma.core.tensor.ThreadPool;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.management.ManagementFactory;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Once compiled, the attention work items ({@link Attention#attendGroup}: score tiles, softmax, value tiles) allocate
 * nothing, at whatever width the build runs this class (512, 256 and 128 bits): a Vector API operation C2 leaves as a
 * call boxes its vectors, which no result shows. The transposed score tiles keep their partial sums in 16
 * accumulators and add them into the score rows block by block; written through a helper method taking a vector, that
 * helper was not inlined and every block allocated (found with this shape in {@link AttentionItemHarness}).
 */
class AttentionAllocationTest {
    @ParameterizedTest(name = "{0}, transposed keys {1}")
    @CsvSource({"sliding, true", "global, true", "sliding, false", "causal, false"})
    void compiledItemsDoNotAllocate(String layer, boolean transposed) {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        Assumptions.assumeTrue(!transposed || Attention.TRANSPOSED, "transposed keys are used at 512 bits only");
        // EmbeddingGemma's shape: 3 query heads per KV head of 256, one 512-token text, items of 4 tokens
        final int heads = 3, kvHeads = 1, headDim = 256, n = 512, qDim = heads * headDim, kvDim = kvHeads * headDim;
        Random rnd = new Random(3);
        float[] q = new float[n * qDim], k = new float[n * kvDim], v = new float[n * kvDim], out = new float[n * qDim];
        for (float[] a : new float[][]{q, k, v}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian() * 0.2f;
        Visibility vis = switch (layer) {
            case "sliding" -> Visibility.symmetric(256);
            case "causal" -> Visibility.CAUSAL;
            default -> Visibility.BIDIRECTIONAL;
        };
        TransposedKeys kt = new TransposedKeys();
        try (ThreadPool pool = new ThreadPool(1)) {
            kt.build(pool, k, n, kvHeads, headDim);
        }
        Attention.Scratch scratch = new Attention.Scratch();
        int tb = Attention.tokenBlock(heads / kvHeads);
        Runnable call = () -> {
            for (int t = 0; t < n; t += tb) {
                int tokens = Math.min(tb, n - t), off = t * qDim;
                Attention.attendGroup(vis, q, off, qDim, heads, t, tokens, n - 1, KvView.none(), k, v, 0, 0, kvDim, 0,
                        headDim, scratch, out, off, transposed ? kt : null);
            }
        };
        long id = Thread.currentThread().threadId(), least = Long.MAX_VALUE;
        long deadline = System.nanoTime() + 90_000_000_000L;
        // until one call allocates nothing (C2 has compiled the items by then) or 90 s pass on a loaded machine
        while (least > 0 && System.nanoTime() < deadline) {
            for (int i = 0; i < 10; i++) call.run();
            long before = threads.getThreadAllocatedBytes(id);
            call.run();
            least = Math.min(least, threads.getThreadAllocatedBytes(id) - before);
        }
        assertThat(least).as("bytes allocated by one compiled pass over a 512-token text's attention items").isZero();
    }
}
