package dev.jemma.core.sampling;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.IntPredicate;

import static org.assertj.core.api.Assertions.assertThat;

/** Checking candidates one by one draws exactly what masking the vocabulary first draws. */
class SamplerAllowedTest {
    @Test
    void checkedSamplingEqualsMaskedSampling() {
        Random rnd = new Random(3);
        int vocab = 5000;
        for (SamplingParams params : new SamplingParams[]{
                new SamplingParams(1f, 64, 0.95f, 0f, 1f, 64, 0f, 0f, 11),
                new SamplingParams(0.7f, 40, 1f, 0.05f, 1.1f, 64, 0.2f, 0.1f, 12),
                new SamplingParams(0f, 64, 0.95f, 0f, 1f, 64, 0f, 0f, 13)}) {
            Sampler checked = new Sampler(params), masked = new Sampler(params);
            int decided = 0;
            for (int step = 0; step < 400; step++) {
                float[] logits = new float[vocab];
                for (int i = 0; i < vocab; i++) logits[i] = (float) rnd.nextGaussian() * 3;
                // allowed sets from permissive (most tokens) to strict (a handful)
                double share = step % 4 == 0 ? 0.002 : step % 4 == 1 ? 0.05 : step % 4 == 2 ? 0.5 : 0.97;
                boolean[] ok = new boolean[vocab];
                for (int i = 0; i < vocab; i++) ok[i] = rnd.nextDouble() < share;
                ok[rnd.nextInt(vocab)] = true;
                int[] history = {rnd.nextInt(vocab), rnd.nextInt(vocab)};
                IntPredicate allowed = id -> ok[id];
                float[] copy = logits.clone();
                int a = checked.sampleAllowed(logits, 0, vocab, history, 2, allowed);
                for (int i = 0; i < vocab; i++) if (!ok[i]) copy[i] = Float.NEGATIVE_INFINITY;
                if (a < 0) {
                    // undecided: the caller masks and samples; the checked sampler drew nothing yet
                    a = checked.sample(copy, 0, vocab, history, 2);
                } else {
                    decided++;
                }
                int b = masked.sample(copy, 0, vocab, history, 2);
                assertThat(a).as("step %d", step).isEqualTo(b);
                assertThat(ok[a]).isTrue();
            }
            assertThat(decided).isGreaterThan(100);
        }
    }
}
