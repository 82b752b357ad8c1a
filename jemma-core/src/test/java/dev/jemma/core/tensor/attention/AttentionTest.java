package dev.jemma.core.tensor.attention;

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

/**
 * The grouped, register-tiled attention against the per-head reference {@link Attention#attendOne}, and every
 * {@link Visibility} against a naive masked softmax written from the definitions.
 */
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
            "3, 1, 256, 0, 0, 45",       // EmbeddingGemma's grouping: items of 4 tokens (12 rows), a partial last item
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
        Attention.attend(pool, Attention.scratch(pool.threads()), Visibility.causal(window), KvView.ring(cache, 0), q, actual,
                0, batch, cached, heads, kvHeads, headDim, bk, bv);
        assertClose(actual, expected);
        // the models' path: from 16 rows on, the call's keys are scored from a transposed copy
        assertClose(viaRuns(Visibility.causal(window), KvView.ring(cache, 0), q, 0, batch, cached, heads, kvHeads, headDim,
                bk, bv), expected);
    }

    /** {@link Attention#attend(ThreadPool, Attention.Scratch[], Attention.Runs, float[], float[], int, int, int, float[], float[])} with one sequence. */
    private static float[] viaRuns(Visibility vis, KvView kv, float[] q, int row0, int batch, int start, int heads,
                                   int kvHeads, int headDim, float[] bk, float[] bv) {
        Attention.Runs runs = new Attention.Runs();
        runs.add(vis, kv, row0, batch, start);
        float[] out = new float[q.length];
        Attention.attend(pool, Attention.scratch(pool.threads()), runs, q, out, heads, kvHeads, headDim, bk, bv);
        return out;
    }

    /**
     * Several texts in one encoder call, as EmbeddingGemma runs them: long ones (≥ 16 rows: scored from the transposed
     * keys, at every alignment of their first row against the vector) and short ones (row-major) side by side, against
     * each text attended alone by the per-head reference; head sizes a multiple of the vector and not.
     */
    @ParameterizedTest(name = "heads {0}/{1}, headDim {2}, window {3}")
    @CsvSource({
            "3, 1, 256, 0",
            "3, 1, 256, 5",
            "4, 1, 72, 0",
            "8, 2, 48, 9",
            "2, 2, 20, 3",
    })
    void encoderRunsMatchEachTextAlone(int heads, int kvHeads, int headDim, int window) {
        int[] lengths = {17, 5, 40, 16, 1, 33, 70};
        int kvDim = kvHeads * headDim, qDim = heads * headDim, group = heads / kvHeads, rows = 0;
        for (int n : lengths) rows += n;
        Random rnd = new Random(17L * heads + headDim + window);
        float[] q = random(rnd, rows * qDim), k = random(rnd, rows * kvDim), v = random(rnd, rows * kvDim);
        Visibility vis = window == 0 ? Visibility.BIDIRECTIONAL : Visibility.symmetric(window);
        Attention.Runs runs = new Attention.Runs();
        float[] expected = new float[rows * qDim];
        float[] scores = new float[rows];
        int row0 = 0;
        for (int n : lengths) {
            runs.add(vis, KvView.none(), row0, n, 0);
            float[] tk = java.util.Arrays.copyOfRange(k, row0 * kvDim, (row0 + n) * kvDim);
            float[] tv = java.util.Arrays.copyOfRange(v, row0 * kvDim, (row0 + n) * kvDim);
            for (int t = 0; t < n; t++) {
                for (int h = 0; h < heads; h++) {
                    int o = (row0 + t) * qDim + h * headDim;
                    Attention.attendOne(vis, q, o, t, n - 1, KvView.none(), tk, tv, 0, kvDim, h / group, headDim, scores,
                            expected, o);
                }
            }
            row0 += n;
        }
        float[] actual = new float[expected.length];
        Attention.attend(pool, Attention.scratch(pool.threads()), runs, q, actual, heads, kvHeads, headDim, k, v);
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
        Attention.attend(pool, Attention.scratch(pool.threads()), Visibility.sliding(window), KvView.shared(cache, 1), q,
                actual, 0, batch, cached, heads, kvHeads, headDim, bk, bv);
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
            Attention.attend(pool, scratch, Visibility.CAUSAL, KvView.ring(cache, 0), q, actual, 0, batch, start, heads,
                    kvHeads, headDim, bk, bv);
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
        Visibility vis = Visibility.causal(window);
        for (int t = 0; t < batch; t++) {
            for (int h = 0; h < heads; h++) {
                Attention.attendOne(vis, q, t * qDim + h * headDim, start + t, start + batch - 1, new KvView(cache, layer),
                        bk, bv, start, kvHeads * headDim, h / group, headDim, scores, out, t * qDim + h * headDim);
            }
        }
        return out;
    }

    /** A query-key mask straight from each visibility's definition (not from {@link Visibility#first}/{@code last}). */
    interface Mask {
        boolean sees(int pos, int key);
    }

    static Mask spans(Mask base, int[] starts, int[] ends) {
        return (p, j) -> {
            if (base.sees(p, j)) return true;
            for (int i = 0; i < starts.length; i++) {
                if (p >= starts[i] && p <= ends[i] && j >= starts[i] && j <= ends[i]) return true;
            }
            return false;
        };
    }

    /**
     * Every visibility, with and without a cache before the call (none: an encoder over the call alone), against a
     * masked softmax over all keys.
     */
    @ParameterizedTest(name = "{0}, cached {1}, batch {2}, heads {3}/{4}, headDim {5}")
    @CsvSource({
            "causal, 0, 37, 4, 1, 64",
            "causal, 11, 20, 8, 2, 48",
            "sliding, 0, 37, 4, 1, 64",
            "sliding, 25, 13, 4, 2, 32",
            "symmetric, 0, 37, 4, 1, 64",
            "symmetric, 20, 19, 6, 2, 48",
            "bidirectional, 0, 29, 4, 1, 64",
            "bidirectional, 0, 5, 2, 2, 20",
            "symmetric, 0, 42, 3, 1, 64",  // EmbeddingGemma: 3 heads per KV head, sliding layers see both sides
            "spans, 0, 40, 4, 1, 64",
            "spans, 6, 34, 8, 4, 32",
            "sliding-spans, 0, 40, 4, 1, 64",
            "sliding-spans, 6, 34, 4, 2, 32",
    })
    void eachVisibilityMatchesAMaskedSoftmax(String kind, int cached, int batch, int heads, int kvHeads, int headDim) {
        int w = 7;
        int[] starts = {cached + 3, cached + 20}, ends = {cached + 14, cached + 31};
        Mask causal = (p, j) -> j <= p, sliding = (p, j) -> j <= p && p - j < w;
        Visibility vis;
        Mask mask;
        switch (kind) {
            case "causal" -> { vis = Visibility.CAUSAL; mask = causal; }
            case "sliding" -> { vis = Visibility.sliding(w); mask = sliding; }
            case "symmetric" -> { vis = Visibility.symmetric(w); mask = (p, j) -> Math.abs(p - j) < w; }
            case "bidirectional" -> { vis = Visibility.BIDIRECTIONAL; mask = (p, j) -> true; }
            case "spans" -> { vis = Visibility.CAUSAL.withSpans(starts, ends); mask = spans(causal, starts, ends); }
            case "sliding-spans" -> { vis = Visibility.sliding(w).withSpans(starts, ends); mask = spans(sliding, starts, ends); }
            default -> throw new IllegalArgumentException(kind);
        }
        int kvDim = kvHeads * headDim, qDim = heads * headDim, ctx = cached + batch;
        int capacity = kind.startsWith("sliding") || kind.equals("symmetric") ? w : ctx;
        Random rnd = new Random(kind.hashCode() + 13L * cached + batch);
        KvCache cache = new KvCache(new int[]{capacity}, new int[]{kvDim}, new int[]{0}, ctx);
        float[] allK = random(rnd, ctx * kvDim), allV = random(rnd, ctx * kvDim);
        for (int p = 0; p < cached; p++) cache.put(0, p, allK, p * kvDim, allV, p * kvDim);
        cache.advance(cached);
        // the call's rows sit after two unrelated rows in the buffers (row0 = 2): a sequence's run in a larger batch
        int row0 = 2;
        float[] q = random(rnd, (row0 + batch) * qDim);
        float[] bk = new float[(row0 + batch) * kvDim], bv = new float[(row0 + batch) * kvDim];
        System.arraycopy(allK, cached * kvDim, bk, row0 * kvDim, batch * kvDim);
        System.arraycopy(allV, cached * kvDim, bv, row0 * kvDim, batch * kvDim);

        float[] expected = new float[(row0 + batch) * qDim];
        int end = cached + batch - 1, group = heads / kvHeads;
        for (int t = 0; t < batch; t++) {
            int p = cached + t;
            for (int h = 0; h < heads; h++) {
                int qo = (row0 + t) * qDim + h * headDim, kvo = (h / group) * headDim;
                double max = Double.NEGATIVE_INFINITY;
                double[] sc = new double[end + 1];
                for (int j = 0; j <= end; j++) {
                    if (!mask.sees(p, j)) continue;
                    double d = 0;
                    for (int e = 0; e < headDim; e++) d += (double) q[qo + e] * allK[j * kvDim + kvo + e];
                    sc[j] = d;
                    max = Math.max(max, d);
                }
                double sum = 0;
                for (int j = 0; j <= end; j++) if (mask.sees(p, j)) sum += Math.exp(sc[j] - max);
                for (int j = 0; j <= end; j++) {
                    if (!mask.sees(p, j)) continue;
                    double pr = Math.exp(sc[j] - max) / sum;
                    for (int e = 0; e < headDim; e++) expected[qo + e] += (float) (pr * allV[j * kvDim + kvo + e]);
                }
            }
        }
        float[] actual = new float[expected.length];
        KvView kv = cached == 0 ? KvView.none() : KvView.ring(cache, 0);
        Attention.attend(pool, Attention.scratch(pool.threads()), vis, kv, q, actual, row0, batch, cached, heads, kvHeads,
                headDim, bk, bv);
        assertClose(actual, expected, 1e-4f);
        // rows before row0 are not the sequence's: compare its rows only
        float[] runs = viaRuns(vis, kv, q, row0, batch, cached, heads, kvHeads, headDim, bk, bv);
        java.util.Arrays.fill(runs, 0, row0 * qDim, 0f);
        assertClose(runs, expected, 1e-4f);
    }

    @Test
    void itemsFillWholeRowTiles() {
        // tokens per item × heads per KV head: 16 rows where that is a multiple of 4, else the most below it that is
        assertThat(Attention.tokenBlock(1)).isEqualTo(16);
        assertThat(Attention.tokenBlock(2)).isEqualTo(8);
        assertThat(Attention.tokenBlock(3)).isEqualTo(4);
        assertThat(Attention.tokenBlock(4)).isEqualTo(4);
        assertThat(Attention.tokenBlock(8)).isEqualTo(2);
        assertThat(Attention.tokenBlock(16)).isEqualTo(1);
        assertThat(Attention.tokenBlock(5)).as("no multiple of 4 below 16 rows: as many as fit").isEqualTo(3);
        assertThat(Attention.tokenBlock(32)).isEqualTo(1);
    }

    @Test
    void visibilityIntervals() {
        assertThat(Visibility.CAUSAL.first(9)).isZero();
        assertThat(Visibility.CAUSAL.last(9, 20)).isEqualTo(9);
        assertThat(Visibility.sliding(4).first(9)).isEqualTo(6);
        assertThat(Visibility.symmetric(4).last(9, 20)).isEqualTo(12);
        assertThat(Visibility.symmetric(4).last(9, 10)).isEqualTo(10);
        assertThat(Visibility.BIDIRECTIONAL.last(0, 20)).isEqualTo(20);
        Visibility img = Visibility.sliding(3).withSpans(new int[]{5}, new int[]{12});
        assertThat(img.first(11)).isEqualTo(5);
        assertThat(img.last(6, 30)).isEqualTo(12);
        assertThat(img.first(14)).isEqualTo(12);
        assertThat(img.last(14, 30)).isEqualTo(14);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Visibility.CAUSAL.withSpans(new int[]{5, 8}, new int[]{9, 12}))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static void assertClose(float[] actual, float[] expected) {
        assertClose(actual, expected, 2e-5f);
    }

    private static void assertClose(float[] actual, float[] expected, float tolerance) {
        for (int i = 0; i < expected.length; i++) {
            // outputs are convex combinations of O(1) values; only the summation order differs
            assertThat(actual[i]).as("element %d", i).isCloseTo(expected[i], within(tolerance));
        }
    }

    private static float[] random(Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }
}
