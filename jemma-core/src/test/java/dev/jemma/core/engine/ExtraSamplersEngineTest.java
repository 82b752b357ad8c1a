package dev.jemma.core.engine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Typical, Mirostat, XTC and DRY through sessions on the tiny model: DRY sees the prompt and the answer, and Mirostat's
 * state is each generation's own, so concurrent (batched) generations draw what they draw alone.
 */
class ExtraSamplersEngineTest {
    static EngineOptions options() {
        return EngineOptions.builder().exact(true).threads(2).contextLength(256).maxBatch(16).build();
    }

    /** Bigrams of {@code prompt + answer} that repeat an earlier bigram, counted at the answer's tokens. */
    static int repeatedBigrams(int[] prompt, int[] answer) {
        int[] all = new int[prompt.length + answer.length];
        System.arraycopy(prompt, 0, all, 0, prompt.length);
        System.arraycopy(answer, 0, all, prompt.length, answer.length);
        Set<Long> seen = new HashSet<>();
        int repeats = 0;
        for (int i = 1; i < all.length; i++) {
            boolean fresh = seen.add((long) all[i - 1] << 32 | all[i]);
            if (!fresh && i >= prompt.length) repeats++;
        }
        return repeats;
    }

    /**
     * Greedy with DRY at its harshest (any repeat of one token penalised by 50, no breakers) never repeats a bigram of
     * the prompt or its own answer, which plain greedy does on this model (mutation caught: DRY not given the history).
     */
    @Test
    void dryStopsTheGreedyAnswerFromRepeatingItself() throws Exception {
        try (Engine engine = Engine.load(ContinuousBatchingTest.model(), options())) {
            String prompt = "Once upon a time there was a time when once upon a time";
            GenerationOptions greedy = GenerationOptions.builder().temperature(0f).maxTokens(64).ignoreEos(true).build();
            GenerationOptions dry = greedy.toBuilder().dryMultiplier(50f).dryAllowedLength(1).drySequenceBreakers(List.of()).build();
            try (Session s = engine.newSession()) {
                int[] ids = engine.tokenizer().encode(prompt);
                Generation plain = s.complete(prompt, greedy, null);
                assertThat(repeatedBigrams(ids, plain.tokens())).as("plain greedy").isPositive();
                Generation g = s.complete(prompt, dry, null);
                assertThat(repeatedBigrams(ids, g.tokens())).as("with DRY: %s", java.util.Arrays.toString(g.tokens())).isZero();
            }
        }
    }

    /** Seeded generations with each sampler give the same tokens batched as alone. */
    @Test
    void batchedGenerationsDrawWhatTheyDrawAlone() throws Exception {
        GenerationOptions base = GenerationOptions.builder().temperature(1f).maxTokens(24).ignoreEos(true).seed(5L).build();
        List<GenerationOptions> opts = List.of(
                base.toBuilder().mirostat(2).mirostatTau(2f).mirostatEta(0.5f).build(),
                base.toBuilder().mirostat(1).mirostatTau(2f).mirostatEta(0.5f).seed(6L).build(),
                base.toBuilder().typicalP(0.5f).seed(7L).build(),
                base.toBuilder().xtcProbability(0.5f).xtcThreshold(0.05f).seed(8L).build(),
                base.toBuilder().dryMultiplier(1f).seed(9L).build(),
                base.toBuilder().mirostat(2).mirostatTau(2f).mirostatEta(0.5f).seed(10L).build());
        String prompt = "Once upon a time";
        try (Engine engine = Engine.load(ContinuousBatchingTest.model(), options())) {
            List<int[]> alone = new ArrayList<>();
            for (GenerationOptions o : opts) {
                try (Session s = engine.newSession()) {
                    alone.add(s.complete(prompt, o, null).tokens());
                }
            }
            ExecutorService ex = Executors.newFixedThreadPool(opts.size());
            List<Future<int[]>> futures = new ArrayList<>();
            for (GenerationOptions o : opts) {
                futures.add(ex.submit(() -> {
                    try (Session s = engine.newSession()) {
                        return s.complete(prompt, o, null).tokens();
                    }
                }));
            }
            for (int i = 0; i < opts.size(); i++) assertThat(futures.get(i).get()).as("%s batched", opts.get(i)).isEqualTo(alone.get(i));
            ex.shutdown();
        }
    }
}
