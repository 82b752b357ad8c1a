package dev.jemma.core.engine;

import dev.jemma.core.JemmaException;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.chat.ConversationFitter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * History trimming is linear in the conversation (issue 22, finding 2: a 2,000-message chat took 170 s of CPU because
 * the whole conversation was re-rendered and re-tokenized after each dropped message) and keeps what the old
 * drop-one-pair-and-retry loop kept.
 */
class ConversationFitterTest {
    static Engine engine;

    @BeforeAll
    static void load() throws Exception {
        Path model = Path.of(ConversationFitterTest.class.getResource("/models/gemma3-tiny-Q4_0.gguf").toURI());
        engine = Engine.load(model, EngineOptions.builder().threads(1).contextLength(1024).build());
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    /** Counts the work: characters rendered and tokenized. */
    static final class Counting implements ConversationFitter.Codec {
        final ConversationFitter.Codec inner = engine.promptCodec();
        long renderedChars, encodedChars, renders, encodes;

        @Override
        public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
            renders++;
            String r = inner.render(messages, addGenerationPrompt);
            renderedChars += r.length();
            return r;
        }

        @Override
        public int[] encode(String rendered) {
            encodes++;
            encodedChars += rendered.length();
            return inner.encode(rendered);
        }

        @Override
        public int contentTokens(String content) {
            encodes++;
            encodedChars += content.length();
            return inner.contentTokens(content);
        }

        @Override
        public long minTokens(String text) {
            return inner.minTokens(text);
        }
    }

    static List<ChatMessage> conversation(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<ChatMessage> m = new ArrayList<>();
        m.add(ChatMessage.system("You are terse."));
        for (int i = 0; i < n; i++) {
            String text = "message " + i + " " + "lorem ipsum dolor ".repeat(1 + r.nextInt(3));
            m.add(i % 2 == 0 ? ChatMessage.user(text) : ChatMessage.assistant(text));
        }
        if (m.getLast().role().equals("assistant")) m.add(ChatMessage.user("and now?"));
        return m;
    }

    @Test
    void thousandsOfMessagesCostWhatTheKeptTurnsCost() {
        for (int n : new int[]{2000, 5000}) {
            List<ChatMessage> msgs = conversation(n, n);
            long totalChars = msgs.stream().mapToLong(m -> m.content().length()).sum();
            Counting c = new Counting();
            ConversationFitter.Fitted f = ConversationFitter.fit(msgs, 1024, 256, c, () -> false);
            assertThat(f.tokens().length).isLessThanOrEqualTo(1024 - 256);
            assertThat(f.messages().size()).isBetween(3, 200);
            // the old loop rendered and tokenized ~n/2 times the whole conversation: O(n²) characters; now the
            // work is a few renderings of the kept turns plus one look at each kept message
            assertThat(c.renders).isLessThanOrEqualTo(12);
            assertThat(c.encodedChars).as("characters tokenized for %d messages of %d chars", n, totalChars)
                    .isLessThan(8L * f.rendered().length() + 2000);
            assertThat(c.renderedChars).isLessThan(8L * f.rendered().length() + 2000);
        }
    }

    @Test
    void keepsWhatTheQuadraticLoopKept() {
        for (long seed = 1; seed <= 6; seed++) {
            List<ChatMessage> msgs = conversation(10 + (int) seed * 7, seed);
            for (int ctx : new int[]{128, 256, 512}) {
                int reserve = Math.min(ctx / 4, 256);
                List<ChatMessage> want = reference(msgs, ctx, reserve);
                ConversationFitter.Fitted f = ConversationFitter.fit(msgs, ctx, reserve, engine.promptCodec(), () -> false);
                assertThat(f.messages()).as("seed %d ctx %d", seed, ctx).isEqualTo(want);
                assertThat(f.tokens()).isEqualTo(engine.tokenizer().encodePrompt(engine.renderPrompt(want, true)));
            }
        }
    }

    /** The old loop: render everything, drop the oldest turn (and an assistant after it), repeat. */
    static List<ChatMessage> reference(List<ChatMessage> msgs, int ctx, int reserve) {
        List<ChatMessage> m = new ArrayList<>(msgs);
        while (true) {
            int n = engine.tokenizer().encodePrompt(engine.renderPrompt(m, true)).length;
            int sys = !m.isEmpty() && m.getFirst().role().equals("system") ? 1 : 0;
            if (n + reserve <= ctx || m.size() - sys <= 1) return m;
            m.remove(sys);
            if (m.size() > sys + 1 && m.get(sys).role().equals("assistant")) m.remove(sys);
        }
    }

    @Test
    void aHugeLastMessageIsRefusedWithoutTokenizingIt() {
        List<ChatMessage> msgs = List.of(ChatMessage.user("hello"), ChatMessage.assistant("hi"), ChatMessage.user("x".repeat(7 << 20)));
        Counting c = new Counting();
        assertThatThrownBy(() -> ConversationFitter.fit(msgs, 1024, 256, c, () -> false))
                .isInstanceOf(JemmaException.class).hasMessageContaining("context holds 1024");
        assertThat(c.encodes).isZero();
    }

    @Test
    void cancellationStopsTheWalk() {
        List<ChatMessage> msgs = conversation(3000, 7);
        Counting c = new Counting();
        assertThatThrownBy(() -> ConversationFitter.fit(msgs, 1024, 256, c, () -> true)).isInstanceOf(CancellationException.class);
        assertThat(c.encodes).isLessThanOrEqualTo(1);
    }

    @Test
    void sessionGenerateTrimsALongHistoryLinearly() {
        List<ChatMessage> msgs = conversation(5000, 3);
        long t0 = System.nanoTime();
        try (Session s = engine.newSession()) {
            Generation g = s.generate(msgs, GenerationOptions.builder().temperature(0f).maxTokens(2).build(), null);
            assertThat(g.promptTokens()).isBetween(10, 1024 - 256);
        }
        // a generous guard (the quadratic loop took minutes); the bound on work is the test above
        assertThat((System.nanoTime() - t0) / 1e9).isLessThan(60);
    }
}
