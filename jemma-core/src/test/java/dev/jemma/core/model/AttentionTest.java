package dev.jemma.core.model;

import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.ThreadPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The grouped, register-tiled attention against the per-head reference {@link Attention#attend}. */
class AttentionTest {
    private static ThreadPool pool;

    @BeforeAll
    static void start() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    /**
     * {@code cached} positions already in the cache (a ring of {@code window} slots for a sliding layer, so it wraps
     * once cached exceeds the window), then a batch of {@code batch} tokens attending over cache and batch.
     */
    @ParameterizedTest(name = "heads {0}/{1}, headDim {2}, window {3}, cached {4}, batch {5}")
    @CsvSource({
            // heads, kvHeads, headDim, window, cached, batch
            "4, 1, 256, 0, 0, 37",       // Gemma 3 1B shape, prefill from empty, full attention
            "4, 1, 256, 16, 0, 37",      // sliding window shorter than the batch
            "4, 1, 256, 16, 40, 9",      // ring cache wrapped, keys from cache and batch
            "4, 1, 256, 0, 23, 1",       // decoding one token (the heads are split across threads)
            "8, 4, 256, 12, 30, 5",      // Gemma 3 4B grouping
            "2, 1, 256, 0, 5, 11",
            "1, 1, 256, 7, 13, 6",       // no grouping
            "8, 1, 256, 0, 3, 3",        // a group of 8 heads spans two row tiles
            "6, 2, 48, 10, 25, 7",       // head size not a multiple of the vector (nor of four vectors)
            "4, 2, 32, 0, 17, 13",
            "3, 1, 20, 5, 9, 4",         // three rows per token: row tiles straddle tokens
            "2, 2, 8, 0, 4, 3",          // head shorter than a vector
            "4, 1, 256, 0, 8300, 2",     // a range long enough to be streamed in first (DRAM_RANGE_FLOATS)
    })
    void matchesPerHeadAttention(int heads, int kvHeads, int headDim, int window, int cached, int batch) {
        int kvDim = kvHeads * headDim, qDim = heads * headDim, ctx = cached + batch + 3;
        int capacity = window > 0 ? window : ctx;
        Random rnd = new Random(31L * heads + 7L * headDim + window + 101L * cached + batch);
        KvCache cache = new KvCache(new int[]{capacity}, new int[]{kvDim}, new int[]{0}, ctx);
        for (int p = 0; p < cached; p++) cache.put(0, p, random(rnd, kvDim), 0, random(rnd, kvDim), 0);
        cache.advance(cached);
        float[] q = random(rnd, batch * qDim), bk = random(rnd, batch * kvDim), bv = random(rnd, batch * kvDim);

        float[] expected = reference(q, batch, cached, heads, kvHeads, headDim, window, cache, 0, bk, bv);
        float[] actual = new float[batch * qDim];
        Attention.attendBatch(pool, Attention.scratch(pool.threads()), q, actual, batch, cached, heads, kvHeads,
                headDim, window, cache, 0, bk, bv);
        assertClose(actual, expected);
    }

    /** Gemma 3n: a layer reading another layer's cache through {@code source}, over a ring that has wrapped. */
    @Test
    void readsASharedRingCache() {
        int heads = 8, kvHeads = 2, headDim = 256, window = 6, cached = 20, batch = 10;
        int kvDim = kvHeads * headDim, ctx = 64;
        Random rnd = new Random(5);
        KvCache cache = new KvCache(new int[]{window, window}, new int[]{kvDim, kvDim}, new int[]{0, 0}, ctx);
        for (int p = 0; p < cached; p++) cache.put(0, p, random(rnd, kvDim), 0, random(rnd, kvDim), 0);
        cache.advance(cached);
        float[] q = random(rnd, batch * heads * headDim), bk = random(rnd, batch * kvDim), bv = random(rnd, batch * kvDim);

        float[] expected = reference(q, batch, cached, heads, kvHeads, headDim, window, cache, 1, bk, bv);
        float[] actual = new float[expected.length];
        Attention.attendBatch(pool, Attention.scratch(pool.threads()), q, actual, batch, cached, heads, kvHeads,
                headDim, window, cache, 1, bk, bv);
        assertClose(actual, expected);
    }

    /** Scratch reused across calls of different shapes (as the models do layer after layer) must not leak state. */
    @Test
    void reusesScratchAcrossShapes() {
        Attention.Scratch[] scratch = Attention.scratch(pool.threads());
        int heads = 4, kvHeads = 1, headDim = 64, kvDim = headDim, ctx = 80;
        Random rnd = new Random(9);
        KvCache cache = new KvCache(new int[]{ctx}, new int[]{kvDim}, new int[]{0}, ctx);
        for (int[] shape : new int[][]{{0, 40}, {40, 1}, {41, 20}, {61, 2}}) {
            int start = shape[0], batch = shape[1];
            float[] q = random(rnd, batch * heads * headDim), bk = random(rnd, batch * kvDim), bv = random(rnd, batch * kvDim);
            float[] expected = reference(q, batch, start, heads, kvHeads, headDim, 0, cache, 0, bk, bv);
            float[] actual = new float[expected.length];
            Attention.attendBatch(pool, scratch, q, actual, batch, start, heads, kvHeads, headDim, 0, cache, 0, bk, bv);
            assertClose(actual, expected);
            for (int t = 0; t < batch; t++) cache.put(0, start + t, bk, t * kvDim, bv, t * kvDim);
            cache.advance(batch);
        }
    }

    private static float[] reference(float[] q, int batch, int start, int heads, int kvHeads, int headDim, int window,
                                     KvCache cache, int layer, float[] bk, float[] bv) {
        int qDim = heads * headDim, group = heads / kvHeads;
        float[] out = new float[batch * qDim];
        float[] scores = new float[start + batch];
        for (int t = 0; t < batch; t++) {
            for (int h = 0; h < heads; h++) {
                Attention.attend(q, t * qDim + h * headDim, start + t, window, cache, layer, bk, bv, start,
                        kvHeads * headDim, h / group, headDim, scores, out, t * qDim + h * headDim);
            }
        }
        return out;
    }

    private static void assertClose(float[] actual, float[] expected) {
        for (int i = 0; i < expected.length; i++) {
            // outputs are convex combinations of O(1) values; only the summation order differs
            assertThat(actual[i]).as("element %d", i).isCloseTo(expected[i], within(2e-5f));
        }
    }

    private static float[] random(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }
}
