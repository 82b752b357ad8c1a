package dev.jemma.core.engine;

import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.sampling.SamplerChain;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
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

    @TempDir
    Path dir;

    /**
     * A file's {@code general.sampling.sequence} is its default order, as llama.cpp reads it: a name Jemma lacks is left
     * out with a warning (the model still loads), and the request's own order wins. Mutation caught: the key not read.
     */
    @Test
    void theFilesSequenceIsItsDefaultOrder() throws Exception {
        Path src = ContinuousBatchingTest.model(), out = dir.resolve("seq.gguf");
        try (GgufFile f = GgufFile.open(src)) {
            GgufWriter w = new GgufWriter().copyMetadata(f).putString("general.sampling.sequence", "top_k;infill;temperature");
            for (GgufTensorInfo t : f.tensors().values()) {
                w.addTensor(t.name(), t.dims(), t.type(), o -> o.write(f.tensorData(t).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(out);
        }
        try (Engine engine = Engine.load(out, ExtraSamplersEngineTest.options())) {
            assertThat(engine.defaults().samplers()).isEqualTo(SamplerChain.ofLetters("kt"));
            assertThat(engine.warnings()).contains("general.sampling.sequence: sampler 'infill' is not one Jemma has; left out");
            GenerationOptions mine = GenerationOptions.builder().samplers(SamplerChain.ofLetters("tk")).build().orElse(engine.defaults());
            assertThat(mine.sampling().samplers()).isEqualTo(SamplerChain.ofLetters("tk"));
        }
        assertThat(Engine.fileSamplers("bogus;", new java.util.ArrayList<>())).isNull();
    }
}
