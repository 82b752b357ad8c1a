package dev.jemma.core.sampling;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The sampler draws the same tokens as the sorting sampler it replaced ({@link SortingSampler}): same seed, same logits,
 * same token, step after step, over random logit vectors of several shapes (wide and narrow, one clear favourite, many
 * ties, most of the vocabulary masked) and the grid of top-k 0/1/40/64, top-p 0/0.5/0.95/1, min-p, temperatures
 * including 0, with and without penalties — through {@link Sampler#sample} and {@link Sampler#sampleAmong}.
 */
class SamplerEquivalenceTest {
    static final int[] TOP_K = {0, 1, 40, 64};
    static final float[] TOP_P = {0f, 0.5f, 0.95f, 1f};
    static final float[] MIN_P = {0f, 0.05f};
    static final float[] TEMPERATURE = {0f, 0.7f, 1f, 1.5f};

    /** Logits of one shape: 0 wide, 1 narrow, 2 a favourite, 3 six distinct values, 4 half masked, 5 all but a few masked. */
    static float[] logits(Random rnd, int vocab, int shape) {
        float[] l = new float[vocab];
        for (int i = 0; i < vocab; i++) {
            l[i] = switch (shape) {
                case 0 -> (float) rnd.nextGaussian() * 4;
                case 1 -> (float) rnd.nextGaussian() * 0.5f;
                case 2 -> (float) rnd.nextGaussian() * 2 - 4;
                case 3 -> rnd.nextInt(6);
                case 4 -> rnd.nextBoolean() ? Float.NEGATIVE_INFINITY : (float) rnd.nextGaussian() * 3;
                default -> rnd.nextInt(200) == 0 ? (float) rnd.nextGaussian() : Float.NEGATIVE_INFINITY;
            };
        }
        if (shape == 2) for (int j = 0; j < 3; j++) l[rnd.nextInt(vocab)] = 12 + rnd.nextFloat() * 3;
        return l;
    }

    static List<SamplingParams> grid(long seed) {
        List<SamplingParams> all = new ArrayList<>();
        for (int k : TOP_K) {
            for (float topP : TOP_P) {
                for (float minP : MIN_P) {
                    for (float t : TEMPERATURE) {
                        // every other setting with penalties on (history is the last tokens drawn)
                        boolean pen = (all.size() & 1) == 1;
                        all.add(new SamplingParams(t, k, topP, minP, pen ? 1.3f : 1f, 64, pen ? 0.4f : 0f, pen ? 0.1f : 0f, seed + all.size()));
                    }
                }
            }
        }
        return all;
    }

    @Test
    void drawsWhatTheSortingSamplerDraws() {
        Random rnd = new Random(21);
        int draws = 0, distinct = 0;
        for (SamplingParams params : grid(100)) {
            Sampler fast = new Sampler(params);
            SortingSampler ref = new SortingSampler(params);
            int[] history = new int[32];
            int h = 0;
            java.util.Set<Integer> seen = new java.util.HashSet<>();
            for (int step = 0; step < 12; step++) {
                int vocab = 1000 + rnd.nextInt(20000);
                float[] l = logits(rnd, vocab, step % 6);
                int a = ref.sample(l, 0, vocab, history, h);
                int b = fast.sample(l, 0, vocab, history, h);
                assertThat(b).as("%s, step %d, shape %d", params, step, step % 6).isEqualTo(a);
                assertThat(l[a]).isNotEqualTo(Float.NEGATIVE_INFINITY);
                if (h < history.length) history[h++] = a;
                seen.add(a);
                draws++;
            }
            distinct += seen.size();
        }
        // the grid draws real variety, not one token over and over
        assertThat(distinct).isGreaterThan(draws / 2);
    }

    @Test
    void drawsAmongAllowedIdsWhatTheSortingSamplerDraws() {
        Random rnd = new Random(22);
        for (SamplingParams params : grid(200)) {
            Sampler fast = new Sampler(params);
            SortingSampler ref = new SortingSampler(params);
            for (int step = 0; step < 6; step++) {
                int vocab = 2000 + rnd.nextInt(5000);
                float[] l = logits(rnd, vocab, step % 4);
                int[] ids = new int[vocab];
                int n = 0;
                double share = step % 2 == 0 ? 0.01 : 0.3;
                for (int i = 0; i < vocab; i++) if (rnd.nextDouble() < share || i == vocab / 2) ids[n++] = i;
                int[] history = {ids[0], ids[n - 1], rnd.nextInt(vocab)};
                int a = ref.sampleAmong(l, 0, vocab, ids, n, history, history.length);
                int b = fast.sampleAmong(l, 0, vocab, ids, n, history, history.length);
                assertThat(b).as("%s, step %d", params, step).isEqualTo(a);
            }
        }
    }

    /** Gemma's real vocabulary size, where the sorting sampler sorted 262 144 logits per token. */
    @Test
    void drawsTheSameOnAFullSizeVocabulary() {
        Random rnd = new Random(23);
        int vocab = 262_144;
        for (float topP : TOP_P) {
            for (float minP : MIN_P) {
                for (float t : new float[]{0.7f, 1f}) {
                    SamplingParams params = new SamplingParams(t, 0, topP, minP, 1f, 64, 0f, 0f, 7);
                    Sampler fast = new Sampler(params);
                    SortingSampler ref = new SortingSampler(params);
                    for (int step = 0; step < 3; step++) {
                        float[] l = logits(rnd, vocab, step);
                        assertThat(fast.sample(l, 0, vocab, null, 0)).as("%s, step %d", params, step).isEqualTo(ref.sample(l, 0, vocab, null, 0));
                    }
                }
            }
        }
    }

    /** A top-k at least the vocabulary's size keeps everything, as top-k 0 does. */
    @Test
    void topKBeyondTheVocabularyIsNoTopK() {
        Random rnd = new Random(24);
        for (int k : new int[]{5000, 5001, 1 << 20}) {
            SamplingParams params = new SamplingParams(1f, k, 0.9f, 0f, 1f, 64, 0f, 0f, k);
            Sampler fast = new Sampler(params);
            SortingSampler ref = new SortingSampler(params);
            for (int step = 0; step < 20; step++) {
                float[] l = logits(rnd, 5000, step % 4);
                assertThat(fast.sample(l, 0, 5000, null, 0)).isEqualTo(ref.sample(l, 0, 5000, null, 0));
            }
        }
    }
}
