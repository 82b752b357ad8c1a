package dev.jemma.core.engine;

import dev.jemma.core.kv.KvCache;
import dev.jemma.core.sampling.TokenLogprobs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Token log-probabilities are the log-softmax of the model's own logits at each generated position (issue 22). */
class LogprobsTest {
    static Engine engine;

    @BeforeAll
    static void load() throws Exception {
        Path model = Path.of(LogprobsTest.class.getResource("/models/gemma3-tiny-Q4_0.gguf").toURI());
        engine = Engine.load(model, EngineOptions.builder().exact(true).threads(1).contextLength(128).build());
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    /** log-softmax of the logits after {@code ids}, computed independently in double precision. */
    static double[] logSoftmaxAfter(int[] ids) {
        KvCache cache = engine.newCache();
        float[] l = engine.forward(ids, 0, ids.length, cache);
        int v = engine.vocabSize();
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) max = Math.max(max, l[i]);
        double sum = 0;
        for (int i = 0; i < v; i++) sum += Math.exp(l[i] - max);
        double[] out = new double[v];
        for (int i = 0; i < v; i++) out[i] = l[i] - max - Math.log(sum);
        return out;
    }

    @Test
    void logprobsAreTheModelsLogSoftmaxAtEachPosition() {
        int[] prompt = engine.tokenizer().encode("Once upon a time");
        // sampled at a high temperature: the reported numbers must not depend on it
        GenerationOptions opts = GenerationOptions.builder().temperature(1.7f).seed(5L).maxTokens(5).ignoreEos(true).logprobs(4).build();
        List<Token> tokens = new ArrayList<>();
        try (Session s = engine.newSession()) {
            s.generate(prompt, opts, tokens::add);
        }
        int[] ctx = prompt;
        int checked = 0;
        for (Token t : tokens) {
            if (t.id() < 0) continue;
            TokenLogprobs lp = t.logprobs();
            assertThat(lp).isNotNull();
            double[] want = logSoftmaxAfter(ctx);
            assertThat((double) lp.logprob()).isCloseTo(want[t.id()], within(1e-4));
            assertThat(lp.topIds()).hasSize(4);
            for (int i = 0; i < 4; i++) {
                assertThat((double) lp.topLogprobs()[i]).isCloseTo(want[lp.topIds()[i]], within(1e-4));
                if (i > 0) assertThat(lp.topLogprobs()[i]).isLessThanOrEqualTo(lp.topLogprobs()[i - 1]);
            }
            // nothing outside the list is more likely than its last entry
            for (int id = 0; id < want.length; id++) {
                boolean listed = false;
                for (int x : lp.topIds()) listed |= x == id;
                if (!listed) assertThat(want[id]).isLessThanOrEqualTo(lp.topLogprobs()[3] + 1e-6);
            }
            int[] next = java.util.Arrays.copyOf(ctx, ctx.length + 1);
            next[ctx.length] = t.id();
            ctx = next;
            checked++;
        }
        assertThat(checked).isEqualTo(5);
    }

    @Test
    void greedyPicksTheFirstAlternativeAndNoLogprobsUnlessAsked() {
        int[] prompt = engine.tokenizer().encode("The sky is");
        List<Token> tokens = new ArrayList<>();
        try (Session s = engine.newSession()) {
            s.generate(prompt, GenerationOptions.builder().temperature(0f).maxTokens(4).ignoreEos(true).logprobs(2).build(), tokens::add);
            for (Token t : tokens) {
                if (t.id() < 0) continue;
                assertThat(t.logprobs().topIds()[0]).isEqualTo(t.id());
                assertThat(t.logprobs().logprob()).isEqualTo(t.logprobs().topLogprobs()[0]);
                assertThat(t.logprobs().logprob()).isLessThanOrEqualTo(0f);
            }
            List<Token> plain = new ArrayList<>();
            s.generate(prompt, GenerationOptions.builder().temperature(0f).maxTokens(2).build(), plain::add);
            assertThat(plain).allSatisfy(t -> assertThat(t.logprobs()).isNull());
        }
    }
}
