package dev.jemma.langchain4j;

import dev.jemma.core.chat.ChatImage;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.engine.TokenListener;
import dev.langchain4j.data.message.ImageContent;
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

/** {@link ImageContent} through the LangChain4j adapter answers what the engine answers for the same image message. */
class ImageContentTest {
    private static Path dir() {
        String f = System.getProperty("jemma.fixtures");
        Path dir = f == null ? null : Path.of(f, "multimodal", "gemma3-vision-tiny");
        if (dir == null || !Files.isDirectory(dir)) {
            if ("1".equals(System.getenv("JEMMA_REQUIRE_FIXTURES"))) throw new AssertionError("multimodal fixtures missing at " + dir);
            Assumptions.abort("multimodal fixtures not found at " + dir);
        }
        return dir;
    }

    @Test
    void imageContentIsSeen() throws Exception {
        Path dir = dir(), model = dir.resolve("gemma3-vision-tiny-F32.gguf"), png = dir.resolve("media/square-224x224.png");
        String text = "Describe this picture in one short sentence.";
        String expected;
        try (Engine e = Engine.load(model, EngineOptions.builder().threads(2).build()); Session s = e.newSession()) {
            expected = s.generate(List.of(dev.jemma.core.chat.ChatMessage.user(text, List.of(ChatImage.read(png)))),
                    GenerationOptions.builder().temperature(0f).maxTokens(12).build(), TokenListener.NONE).text();
        }
        try (JemmaChatModel m = JemmaChatModel.builder().modelPath(model).mmproj(dir.resolve("mmproj-gemma3-vision-tiny-F32.gguf"))
                .threads(2).temperature(0.0).maxOutputTokens(12).build()) {
            String b64 = Base64.getEncoder().encodeToString(Files.readAllBytes(png));
            var answer = m.chat(UserMessage.from(ImageContent.from(b64, "image/png"), TextContent.from(text)));
            assertThat(answer.aiMessage().text()).isEqualTo(expected);
            var fromFile = m.chat(UserMessage.from(ImageContent.from(png.toUri()), TextContent.from(text)));
            assertThat(fromFile.aiMessage().text()).isEqualTo(expected);
            assertThatThrownBy(() -> m.chat(UserMessage.from(ImageContent.from("https://example.com/cat.png"), TextContent.from(text))))
                    .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("does not fetch https: URLs");
        }
    }

    @Test
    void gemma3nSeesImageContentToo() throws Exception {
        Path dir = dir().resolveSibling("gemma3n-mm-tiny"), model = dir.resolve("gemma3n-mm-tiny-F16.gguf"), png = dir.resolve("media/square-224x224.png");
        String text = "What is in the image?";
        String expected;
        try (Engine e = Engine.load(model, EngineOptions.builder().threads(2).build()); Session s = e.newSession()) {
            expected = s.generate(List.of(dev.jemma.core.chat.ChatMessage.user(text, List.of(ChatImage.read(png)))),
                    GenerationOptions.builder().temperature(0f).maxTokens(12).build(), TokenListener.NONE).text();
        }
        try (JemmaChatModel m = JemmaChatModel.builder().modelPath(model).mmproj(dir.resolve("mmproj-gemma3n-mm-tiny-F16.gguf"))
                .threads(2).temperature(0.0).maxOutputTokens(12).build()) {
            String b64 = Base64.getEncoder().encodeToString(Files.readAllBytes(png));
            var answer = m.chat(UserMessage.from(ImageContent.from(b64, "image/png"), TextContent.from(text)));
            assertThat(answer.aiMessage().text()).isEqualTo(expected);
        }
    }
}
