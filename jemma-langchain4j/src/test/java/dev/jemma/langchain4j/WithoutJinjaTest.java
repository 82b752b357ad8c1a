package dev.jemma.langchain4j;

import dev.jemma.core.JemmaException;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.chat.ChatTemplate;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * This module embeds the engine without Jinjava (an optional dependency of jemma-core): Gemma files' templates
 * render with the built-in format, other templates fail with a message that says what to add.
 */
class WithoutJinjaTest {
    @Test
    void jinjavaIsNotOnTheClassPath() {
        assertThat(ChatTemplate.jinjaAvailable()).isFalse();
    }

    @Test
    void gemmaTemplatesRenderBuiltInOthersFailClearly() throws Exception {
        List<ChatMessage> chat = List.of(ChatMessage.system("Be brief."), ChatMessage.user("Hi"));
        String gemmaTemplate = "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m.role }}\\n{{ m.content }}<end_of_turn>\\n{% endfor %}";
        assertThat(ChatTemplate.jinja(gemmaTemplate, "<bos>", "<eos>").render(chat, true))
                .isEqualTo(ChatTemplate.gemma("<bos>").render(chat, true))
                .isEqualTo("<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
        assertThatThrownBy(() -> ChatTemplate.jinja("{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}", "", "").render(chat, true))
                .isInstanceOf(JemmaException.class).hasMessageContaining("Jinja engine").hasMessageContaining("jinjava");
        try (Engine e = Engine.load(JemmaChatModelTest.demoModel(), EngineOptions.builder().contextLength(64).threads(1).build())) {
            assertThat(e.chatTemplate().render(chat, true)).contains("<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>");
        }
    }

    /** FunctionGemma's template declares tools: the built-in Gemma format would drop them, so it needs Jinjava. */
    @Test
    void aFunctionGemmaModelSaysItNeedsJinjava() throws Exception {
        java.nio.file.Path fg = java.nio.file.Path.of(WithoutJinjaTest.class.getResource("/functiongemma-tiny.gguf").toURI());
        try (Engine e = Engine.load(fg, EngineOptions.builder().contextLength(64).threads(1).build())) {
            assertThat(e.chatTemplate().isBuiltIn()).isFalse();
            assertThatThrownBy(() -> e.chatTemplate().render(List.of(ChatMessage.user("Hi")), true))
                    .isInstanceOf(JemmaException.class).hasMessageContaining("Jinja engine").hasMessageContaining("jinjava");
        }
    }
}
