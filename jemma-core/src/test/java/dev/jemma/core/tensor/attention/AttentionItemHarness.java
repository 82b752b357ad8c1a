package dev.jemma.core.tensor.attention;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.Random;

/**
 * CPU per query row of one attention work item ({@link Attention#attendGroup}) as a function of the tokens per item, on
 * EmbeddingGemma's shape (3 query heads per KV head of 256, one 512-token text, the sliding layers' ±256 window and the
 * global layers' full span), the item sizes alternating call by call in one thread so that a shared machine's load and
 * the JIT's code are the same for all of them. It measures what {@link Attention#tokenBlock} decides: 5 tokens (15 rows,
 * the last 4-row tile a clamped copy) against 4 (12 rows, three whole tiles). Not a test; by hand:
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes \
 *        dev.jemma.core.tensor.attention.AttentionItemHarness [rounds 40] [tokens per item 5,4]
 * </pre>
 * Prints, per item size, the median and best CPU ns per query row over the rounds (each round: every item of the text).
 * A third argument {@code rm,t} also alternates the score pass: row-major tiles ({@code rm}) against the transposed
 * keys the models use from 16 rows on ({@code t}, {@link TransposedKeys}, built once outside the timing).
 */
public final class AttentionItemHarness {
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        int[] tbs = Arrays.stream((args.length > 1 ? args[1] : "5,4").split(",")).mapToInt(Integer::parseInt).toArray();
        String[] modes = (args.length > 2 ? args[2] : "rm").split(",");
        // every (tokens per item, score form) pair is one "size" below
        int[] sizes = new int[tbs.length * modes.length];
        boolean[] transposed = new boolean[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            sizes[i] = tbs[i / modes.length];
            transposed[i] = modes[i % modes.length].equals("t");
        }
        final int heads = 3, kvHeads = 1, headDim = 256, n = 512, qDim = heads * headDim, kvDim = kvHeads * headDim;
        Random rnd = new Random(42);
        float[] q = new float[n * qDim], k = new float[n * kvDim], v = new float[n * kvDim], out = new float[n * qDim];
        for (float[] a : new float[][]{q, k, v}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian() * 0.2f;
        Visibility[] layers = {Visibility.symmetric(256), Visibility.BIDIRECTIONAL};
        String[] names = {"sliding ±256", "global"};
        Attention.Scratch scratch = new Attention.Scratch();
        TransposedKeys kt = new TransposedKeys();
        try (dev.jemma.core.tensor.ThreadPool pool = new dev.jemma.core.tensor.ThreadPool(1)) {
            kt.build(pool, k, n, kvHeads, headDim);
        }
        long[][][] ns = new long[layers.length][sizes.length][rounds];
        for (int round = -5; round < rounds; round++) {
            for (int li = 0; li < layers.length; li++) {
                for (int j = 0; j < sizes.length; j++) {
                    int si = (j + Math.max(round, 0)) % sizes.length; // which size goes first rotates round by round
                    int tb = sizes[si];
                    long t0 = CPU.getCurrentThreadCpuTime();
                    for (int t = 0; t < n; t += tb) {
                        int tokens = Math.min(tb, n - t), off = t * qDim;
                        Attention.attendGroup(layers[li], q, off, qDim, heads, t, tokens, n - 1, KvView.none(), k, v, 0, 0,
                                kvDim, 0, headDim, scratch, out, off, transposed[si] ? kt : null);
                    }
                    if (round >= 0) ns[li][si][round] = CPU.getCurrentThreadCpuTime() - t0;
                }
            }
        }
        System.out.printf("attention items over one 512-token text, 3 heads / 1 KV head of 256; CPU ns per query row (%d rounds)%n", rounds);
        for (int li = 0; li < layers.length; li++) {
            for (int si = 0; si < sizes.length; si++) {
                long[] a = ns[li][si].clone();
                Arrays.sort(a);
                System.out.printf("%-13s %2d tokens per item (%2d rows), %-10s: median %8.1f  best %8.1f%n", names[li], sizes[si],
                        sizes[si] * heads, transposed[si] ? "transposed" : "row-major", a[a.length / 2] / (double) (n * heads), a[0] / (double) (n * heads));
            }
        }
        System.out.println("(sink " + out[7] + ")");
    }
}
