package dev.jemma.core.sampling;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.IntPredicate;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The grammar's shortcuts draw exactly what masking the vocabulary first draws: checking candidates one by one
 * ({@link Sampler#sampleAllowed}) and sampling among the allowed ids ({@link Sampler#sampleAmong}), step by step from
 * the same random stream, with penalties, top-k/top-p/min-p, greedy, no top-k, and tied logits.
 */
class SamplerAllowedTest {
    static final SamplingParams[] PARAMS = {
            new SamplingParams(1f, 64, 0.95f, 0f, 1f, 64, 0f, 0f, 11),
            new SamplingParams(0.7f, 40, 1f, 0.05f, 1.1f, 64, 0.2f, 0.1f, 12),
            new SamplingParams(0f, 64, 0.95f, 0f, 1f, 64, 0f, 0f, 13),
            new SamplingParams(1f, 0, 0.9f, 0f, 1.3f, 64, 0f, 0f, 14),
            new SamplingParams(1.5f, 3, 1f, 0f, 1f, 64, 0f, 0f, 15)};

    private static float[] logits(Random rnd, int vocab, boolean ties) {
        float[] l = new float[vocab];
        // ties: a handful of distinct values, so the k-th candidate usually ties with others
        for (int i = 0; i < vocab; i++) l[i] = ties ? rnd.nextInt(6) : (float) rnd.nextGaussian() * 3;
        return l;
    }

    @Test
    void checkedAndAllowedSetSamplingEqualMaskedSampling() {
        Random rnd = new Random(3);
        int vocab = 5000;
        for (SamplingParams params : PARAMS) {
            Sampler checked = new Sampler(params), among = new Sampler(params), masked = new Sampler(params);
            int decided = 0;
            for (int step = 0; step < 400; step++) {
                float[] logits = logits(rnd, vocab, step % 5 == 4);
                // allowed sets from strict (a handful) to permissive (most tokens)
                double share = step % 4 == 0 ? 0.002 : step % 4 == 1 ? 0.05 : step % 4 == 2 ? 0.5 : 0.97;
                boolean[] ok = new boolean[vocab];
                for (int i = 0; i < vocab; i++) ok[i] = rnd.nextDouble() < share;
                ok[rnd.nextInt(vocab)] = true;
                int[] ids = new int[vocab];
                int n = 0;
                for (int i = 0; i < vocab; i++) if (ok[i]) ids[n++] = i;
                int[] history = {rnd.nextInt(vocab), rnd.nextInt(vocab), ids[0], ids[n - 1], ids[n / 2]};
                IntPredicate allowed = id -> ok[id];
                float[] copy = logits.clone();
                for (int i = 0; i < vocab; i++) if (!ok[i]) copy[i] = Float.NEGATIVE_INFINITY;
                int b = masked.sample(copy, 0, vocab, history, history.length);

                int a = checked.sampleAllowed(logits, 0, vocab, history, history.length, allowed);
                if (a < 0) {
                    // undecided: the caller masks and samples; the checked sampler drew nothing yet
                    a = checked.sample(copy.clone(), 0, vocab, history, history.length);
                } else {
                    decided++;
                }
                assertThat(a).as("checked, step %d", step).isEqualTo(b);
                assertThat(among.sampleAmong(logits, 0, vocab, ids, n, history, history.length)).as("among, step %d", step).isEqualTo(b);
                assertThat(ok[b]).isTrue();
            }
            if (params.greedy() || params.topK() > 0) assertThat(decided).isGreaterThan(100);
        }
    }

    /** Equal logits: every path takes the lower id first (the k-th candidate is not left to the heap's order). */
    @Test
    void tiesGoToTheLowerId() {
        float[] l = new float[300];
        java.util.Arrays.fill(l, 1f);
        Sampler greedy = new Sampler(new SamplingParams(0f, 64, 1f, 0f, 1f, 64, 0f, 0f, 1));
        assertThat(greedy.sample(l, 0, 300, null, 0)).isZero();
        assertThat(greedy.sampleAllowed(l, 0, 300, null, 0, id -> id > 7)).isEqualTo(8);
        assertThat(greedy.sampleAmong(l, 0, 300, new int[]{9, 20, 299}, 3, null, 0)).isEqualTo(9);
        // top-k 1 at temperature 1: only the first of the tied tokens is a candidate
        Sampler top1 = new Sampler(new SamplingParams(1f, 1, 1f, 0f, 1f, 64, 0f, 0f, 2));
        for (int i = 0; i < 20; i++) {
            assertThat(top1.sample(l, 0, 300, null, 0)).isZero();
            assertThat(top1.sampleAllowed(l, 0, 300, null, 0, id -> id % 50 == 49)).isEqualTo(49);
            assertThat(top1.sampleAmong(l, 0, 300, new int[]{3, 4}, 2, null, 0)).isEqualTo(3);
        }
    }
}
