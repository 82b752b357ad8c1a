package dev.jemma.core.engine;

import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.sampling.SamplerChain;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A reordered sampler chain through sessions on the tiny model: options layering, grammars, the default order. */
class SamplerChainEngineTest {
    /**
     * The chain set in a request's options wins over the engine's, and an unset one falls back to it; the default order
     * given explicitly draws what no order draws (24 seeded tokens).
     */
    @Test
    void theOrderLayersAndTheDefaultOrderChangesNothing() throws Exception {
        SamplerChain kt = SamplerChain.ofLetters("kt");
        GenerationOptions engineWide = GenerationOptions.builder().samplers(kt).build();
        assertThat(GenerationOptions.none().orElse(engineWide).samplers()).isEqualTo(kt);
        assertThat(GenerationOptions.builder().samplers(SamplerChain.DEFAULT).build().orElse(engineWide).samplers()).isEqualTo(SamplerChain.DEFAULT);
        GenerationOptions base = GenerationOptions.builder().temperature(1f).maxTokens(24).ignoreEos(true).seed(5L).build();
        try (Engine engine = Engine.load(ContinuousBatchingTest.model(), ExtraSamplersEngineTest.options()); Session s = engine.newSession()) {
            int[] plain = s.complete("Once upon a time", base, null).tokens();
            int[] explicit = s.complete("Once upon a time", base.toBuilder().samplers(SamplerChain.DEFAULT).build(), null).tokens();
            assertThat(explicit).isEqualTo(plain);
        }
    }

    /**
     * Under a grammar a reordered chain still yields only what the grammar allows (the sampler's shortcut for allowed
     * candidates declines, and the allowed-set and masked paths run the chain): 8 seeded answers, each a digit string.
     * Mutation caught: the allowed-set path running the chain over the whole row (a disallowed token, which the grammar
     * refuses).
     */
    @Test
    void aGrammarStillHolds() throws Exception {
        Grammar digits = Grammar.parse("root ::= [0-9]{3,6}");
        try (Engine engine = Engine.load(ContinuousBatchingTest.model(), ExtraSamplersEngineTest.options()); Session s = engine.newSession()) {
            for (long seed = 1; seed <= 8; seed++) {
                GenerationOptions o = GenerationOptions.builder().temperature(0.8f).topK(40).topP(0.9f).seed(seed).maxTokens(40)
                        .grammar(digits).samplers(SamplerChain.ofNames("temperature;top_p;top_k;min_p")).build();
                String text = s.generate(List.of(ChatMessage.user("A number?")), o, null).text();
                assertThat(text).as("seed %d", seed).matches("[0-9]{3,6}");
            }
        }
    }
}
