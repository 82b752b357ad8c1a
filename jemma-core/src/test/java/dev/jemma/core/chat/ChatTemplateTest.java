package dev.jemma.core.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Renderings identical to Hugging Face's apply_chat_template (fixtures/chat-template.json). */
class ChatTemplateTest {
    static JsonNode fixture() throws Exception {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream("/tokenizer/chat-template.json")) {
            return new ObjectMapper().readTree(in);
        }
    }

    static List<ChatMessage> messages(JsonNode c) {
        List<ChatMessage> l = new ArrayList<>();
        for (JsonNode m : c.get("messages")) l.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        return l;
    }

    static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }

    static Path resource(String name) throws Exception {
        return Path.of(ChatTemplateTest.class.getResource(name).toURI());
    }

    @Test
    void jinjaTemplateAndBuiltInMatchFixtureRenderings() throws Exception {
        JsonNode f = fixture();
        ChatTemplate jinja = ChatTemplate.jinja(f.get("chat_template").asText(), "<bos>", "<eos>");
        ChatTemplate builtIn = ChatTemplate.gemma("<bos>");
        int n = 0;
        for (JsonNode c : f.get("cases")) {
            boolean gen = c.get("add_generation_prompt").asBoolean();
            String want = c.get("rendered").asText();
            assertThat(jinja.render(messages(c), gen)).as(c.get("name").asText()).isEqualTo(want);
            assertThat(builtIn.render(messages(c), gen)).as(c.get("name").asText()).isEqualTo(want);
            n++;
        }
        assertThat(n).isGreaterThanOrEqualTo(3);
        // without Jinjava on the class path this template would render with the built-in format (verified equal above)
        assertThat(ChatTemplate.gemmaFormat(f.get("chat_template").asText())).isTrue();
        assertThat(ChatTemplate.gemmaFormat("{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}")).isFalse();
    }

    @Test
    void aToolResultThatIsJsonRendersAsTextWithGemmasTemplate() throws Exception {
        // found by the chat-gemma fuzz campaign: handed over as a mapping, Gemma 3's template refused it ("Invalid content
        // type") while the built-in format rendered it; a client's tool result is text, and Gemma's template takes text
        ChatTemplate jinja = ChatTemplate.jinja(fixture().get("chat_template").asText(), "<bos>", "<eos>");
        List<ChatMessage> conversation = List.of(new ChatMessage("user", "Weather in Paris?"),
                new ChatMessage("tool", " {\"temperature\": 21, \"unit\": \"C\"} "));
        String want = "<bos><start_of_turn>user\nWeather in Paris?<end_of_turn>\n"
                + "<start_of_turn>tool\n{\"temperature\": 21, \"unit\": \"C\"}<end_of_turn>\n<start_of_turn>model\n";
        assertThat(jinja.render(conversation, true)).isEqualTo(want);
        assertThat(ChatTemplate.gemma("<bos>").render(conversation, true)).isEqualTo(want);
    }

    @Test
    void templateSyntaxInAMessageStaysText() throws Exception {
        // found by the chat-gemma fuzz campaign: Jinjava re-interpreted an expression's output that looked like a template
        // ("nested interpretation"), so a user could run template code — {{ 7*7 }} became 49 — or make the render fail
        ChatTemplate jinja = ChatTemplate.jinja(fixture().get("chat_template").asText(), "<bos>", "<eos>");
        for (String content : List.of("{{ 7*7 }}", "{% for m in messages %}{{ m }}{% endfor %}", "{{{{{{ x", "{{ raise_exception('no') }}")) {
            List<ChatMessage> conversation = List.of(new ChatMessage("user", content));
            String want = "<bos><start_of_turn>user\n" + content + "<end_of_turn>\n<start_of_turn>model\n";
            assertThat(jinja.render(conversation, true)).as(content).isEqualTo(want);
            assertThat(ChatTemplate.gemma("<bos>").render(conversation, true)).as(content).isEqualTo(want);
        }
    }

    @Test
    void aTemplateSyntaxErrorIsOnePrintableLine() {
        // found by the gguf-bytes fuzz campaign: Jinjava quotes the template's source in its errors, raw file bytes included
        String source = "{%- if x -%}\u001b[2J" + "\u0000".repeat(5000);
        assertThatThrownBy(() -> ChatTemplate.jinja(source, "<bos>", "<eos>").render(List.of(new ChatMessage("user", "hi")), true))
                .isInstanceOf(dev.jemma.core.JemmaException.class)
                .satisfies(e -> {
                    assertThat(e.getMessage()).startsWith("chat template: ").doesNotContain("\u001b", "\u0000", "\n");
                    assertThat(e.getMessage().length()).isLessThan(400);
                });
    }

    @Test
    void templateFromGgufAndTokenIds() throws Exception {
        JsonNode f = fixture();
        try (GgufFile vocab = GgufFile.open(resource("/tokenizer/gemma3-vocab.gguf"));
             GgufFile tiny = GgufFile.open(resource("/models/gemma3-tiny-Q4_0.gguf"))) {
            Tokenizer big = Tokenizer.fromGguf(vocab), small = Tokenizer.fromGguf(tiny);
            ChatTemplate tb = ChatTemplate.fromGguf(vocab, big.piece(big.bosId()), big.piece(big.eosId()));
            ChatTemplate ts = ChatTemplate.fromGguf(tiny, small.piece(small.bosId()), small.piece(small.eosId()));
            assertThat(tb.isBuiltIn()).isFalse();
            for (JsonNode c : f.get("cases")) {
                boolean gen = c.get("add_generation_prompt").asBoolean();
                String want = c.get("rendered").asText();
                assertThat(tb.render(messages(c), gen)).isEqualTo(want);
                assertThat(ts.render(messages(c), gen)).isEqualTo(want);
                if (c.has("ids_gemma3_tokenizer")) assertThat(big.encode(want, false)).isEqualTo(ints(c.get("ids_gemma3_tokenizer")));
                if (c.has("ids_small_tokenizer")) assertThat(small.encode(want, false)).isEqualTo(ints(c.get("ids_small_tokenizer")));
            }
        }
    }

    @Test
    void nonAlternatingRolesAreAClearError() throws Exception {
        ChatTemplate jinja = ChatTemplate.jinja(fixture().get("chat_template").asText(), "<bos>", "<eos>");
        List<ChatMessage> bad = List.of(ChatMessage.user("a"), ChatMessage.user("b"));
        assertThatThrownBy(() -> jinja.render(bad, true)).isInstanceOf(JemmaException.class).hasMessageContaining("alternate");
        assertThatThrownBy(() -> ChatTemplate.gemma("<bos>").render(bad, true)).isInstanceOf(JemmaException.class).hasMessageContaining("alternate");
    }

    @Test
    void aBrokenExpressionInsideNestedLoopsStopsTheRenderAtOnce() {
        // found by the chat-template fuzz campaign: Jinjava recorded the error and rendered on through 40^5 iterations
        String loops = "{% for a in messages %}".repeat(5) + "{{ a[ }}" + "{% endfor %}".repeat(5);
        List<ChatMessage> forty = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) forty.add(i % 2 == 0 ? ChatMessage.user("q" + i) : ChatMessage.assistant("a" + i));
        ChatTemplate t = ChatTemplate.jinja(loops, "<bos>", "<eos>");
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(60),
                () -> assertThatThrownBy(() -> t.render(forty, true)).isInstanceOf(JemmaException.class).hasMessageStartingWith("chat template:"));
    }

    @Test
    void aRenderThatRunsTooLongIsStopped() {
        // Jinjava caps range() (1,000 here), so nest four: 10^12 iterations
        String endless = "{% for a in range(1000) %}".repeat(4) + "{% if a == 1 %}{% endif %}" + "{% endfor %}".repeat(4);
        JinjaRenderer r = new JinjaRenderer(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(500));
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(60),
                () -> assertThatThrownBy(() -> r.render(endless, new java.util.HashMap<>()))
                        .isInstanceOf(JemmaException.class).hasMessageContaining("too long"));
        // and the renderer works again afterwards
        assertThat(r.render("{{ 1 + 1 }}", new java.util.HashMap<>())).isEqualTo("2");
    }
}
