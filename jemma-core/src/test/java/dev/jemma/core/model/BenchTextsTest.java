package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BenchTextsTest {
    private static Tokenizer tokenizer(String resource) throws Exception {
        try (GgufFile f = GgufFile.open(Path.of(BenchTextsTest.class.getResource(resource).toURI()))) {
            return Tokenizer.fromGguf(f);
        }
    }

    @Test
    void textsStartWithBosEndWithEosAndHoldNoOtherControlToken() throws Exception {
        Tokenizer tok = tokenizer("/tokenizer/gemma3-vocab.gguf");
        List<int[]> batch = BenchTexts.random(new Random(BenchTexts.SEED), tok, 8, 64);
        assertThat(batch).hasSize(8);
        for (int[] t : batch) {
            assertThat(t).hasSize(64);
            assertThat(t[0]).isEqualTo(tok.bosId());
            assertThat(t[63]).isEqualTo(tok.eosId());
            for (int j = 1; j < 63; j++) {
                assertThat(t[j]).isBetween(0, tok.vocabSize() - 1);
                assertThat(tok.isControl(t[j])).as("id %d at %d is a control token", t[j], j).isFalse();
                assertThat(t[j]).isNotIn(tok.bosId(), tok.eosId());
            }
        }
        // the texts differ from each other, and the same seed draws the same batch
        assertThat(batch.get(0)).isNotEqualTo(batch.get(1));
        List<int[]> again = BenchTexts.random(new Random(BenchTexts.SEED), tok, 8, 64);
        for (int i = 0; i < 8; i++) assertThat(again.get(i)).containsExactly(batch.get(i));
    }

    @Test
    void aOneTokenTextIsItsBosAndAnEmptyBatchIsRefused() throws Exception {
        Tokenizer tok = tokenizer("/models/gemma3-tiny-Q4_0.gguf");
        assertThat(BenchTexts.random(new Random(1), tok, 3, 1)).allSatisfy(t -> assertThat(t).containsExactly(tok.bosId()));
        assertThatThrownBy(() -> BenchTexts.random(new Random(1), tok, 0, 8)).hasMessageContaining("0 × 8");
    }
}
