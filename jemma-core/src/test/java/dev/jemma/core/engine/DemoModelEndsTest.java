package dev.jemma.core.engine;

import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.chat.ChatMessage;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bundled demo model is a base model trained on chapters that each start with BOS: it never writes
 * {@code <end_of_turn>}, but it writes BOS where a chapter ends. Generation stops there, so a chat answer ends instead
 * of running on into the next "chapter" until the context is full.
 */
class DemoModelEndsTest {
    private static final Path DEMO = Fixtures.demoModel();

    @Test
    void aGeneratedBosEndsTheAnswer() {
        Assumptions.assumeTrue(Files.isRegularFile(DEMO), "the demo model is not beside this checkout: " + DEMO.toAbsolutePath());
        try (Engine e = Engine.load(DEMO, EngineOptions.builder().threads(1).build())) {
            int bos = e.tokenizer().bosId();
            assertThat(e.tokenizer().stopIds()).contains(bos).contains(e.tokenizer().endOfTurnIds());
            int ended = 0;
            // the web page's default sampling (temperature 0.7, no token limit; 1000 here to keep the test short)
            for (long seed = 1; seed <= 8 && ended == 0; seed++) {
                GenerationOptions o = GenerationOptions.builder().temperature(0.7f).seed(seed).maxTokens(1000).build();
                int[] last = {-1};
                try (Session s = e.newSession()) {
                    // sees every chosen token, the one that stops generation included; masks nothing
                    s.setTokenFilter(new TokenFilter() {
                        public void mask(float[] logits, int vocab) {
                        }

                        public void accept(int id) {
                            last[0] = id;
                        }
                    });
                    Generation g = s.generate(List.of(ChatMessage.user("Hello, who are you?")), o, TokenListener.NONE);
                    if (g.stopReason() != StopReason.END_OF_TURN) continue;
                    ended++;
                    assertThat(last[0]).as("seed %d: what ended the answer", seed).isEqualTo(bos);
                    assertThat(indexOf(g.tokens(), bos)).isNegative();
                    assertThat(g.text()).isNotBlank();
                }
            }
            // most answers end within 1000 tokens (the first BOS came at 57 to 1997 in ten seeds, six of them within 1000)
            assertThat(ended).as("an answer among 8 seeds that ended by itself").isPositive();
        }
    }

    private static int indexOf(int[] a, int v) {
        for (int i = 0; i < a.length; i++) if (a[i] == v) return i;
        return -1;
    }
}
