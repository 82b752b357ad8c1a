package dev.jemma.langchain4j;

import dev.jemma.core.chat.ChatAudio;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.engine.TokenListener;
import dev.langchain4j.data.message.AudioContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link AudioContent} through the LangChain4j adapter answers what the engine answers for the same clip (Gemma 3n). */
class AudioContentTest {
    private static Path dir() {
        String f = System.getProperty("jemma.fixtures");
        Path dir = f == null ? null : Path.of(f, "multimodal", "gemma3n-mm-tiny");
        if (dir == null || !Files.isDirectory(dir)) {
            if ("1".equals(System.getenv("JEMMA_REQUIRE_FIXTURES"))) throw new AssertionError("multimodal fixtures missing at " + dir);
            Assumptions.abort("multimodal fixtures not found at " + dir);
        }
        return dir;
    }

    @Test
    void audioContentIsHeard() throws Exception {
        Path dir = dir(), model = dir.resolve("gemma3n-mm-tiny-F16.gguf"), wav = dir.resolve("media/mix-2.5s-16k.wav");
        String text = "Transcribe this audio clip.";
        String expected;
        try (Engine e = Engine.load(model, EngineOptions.builder().threads(2).build()); Session s = e.newSession()) {
            expected = s.generate(List.of(dev.jemma.core.chat.ChatMessage.user(text, List.of(), List.of(ChatAudio.read(wav)))),
                    GenerationOptions.builder().temperature(0f).maxTokens(12).build(), TokenListener.NONE).text();
        }
        try (JemmaChatModel m = JemmaChatModel.builder().modelPath(model).mmproj(dir.resolve("mmproj-gemma3n-mm-tiny-F16.gguf"))
                .threads(2).temperature(0.0).maxOutputTokens(12).build()) {
            String b64 = Base64.getEncoder().encodeToString(Files.readAllBytes(wav));
            assertThat(m.chat(UserMessage.from(AudioContent.from(b64, "audio/wav"), TextContent.from(text))).aiMessage().text()).isEqualTo(expected);
            assertThat(m.chat(UserMessage.from(AudioContent.from(wav.toUri()), TextContent.from(text))).aiMessage().text()).isEqualTo(expected);
            assertThatThrownBy(() -> m.chat(UserMessage.from(AudioContent.from(b64, "audio/mpeg"), TextContent.from(text))))
                    .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("audio/mpeg is not supported; supported audio: WAV");
            assertThatThrownBy(() -> m.chat(UserMessage.from(AudioContent.from("https://example.com/a.wav"), TextContent.from(text))))
                    .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("does not fetch https: URLs");
        }
        // a model that cannot hear: LangChain4j's exception for a missing feature
        Path gemma3 = dir.resolveSibling("gemma3-vision-tiny").resolve("gemma3-vision-tiny-F32.gguf");
        try (JemmaChatModel m = JemmaChatModel.builder().modelPath(gemma3).threads(2).maxOutputTokens(4).build()) {
            assertThatThrownBy(() -> m.chat(UserMessage.from(AudioContent.from(wav.toUri()), TextContent.from(text))))
                    .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("this model takes no audio");
        }
    }
}
