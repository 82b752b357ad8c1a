package dev.jemma.core.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.chat.ChatAudio;
import dev.jemma.core.chat.ChatImage;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Gemma 3n with an image and an audio clip in one conversation (gemma3n-mm-tiny, whose mmproj holds both towers): in one
 * message the prompt is the template with both of Gemma3nProcessor's expansions (images, then clips, then the text), and
 * both kinds of rows reach the model; across turns the second turn extends the first's cache and carries the second
 * medium. The fixtures hold no HF reference for both media at once.
 */
class EngineMixedMediaTest {
    private static final GenerationOptions GREEDY = GenerationOptions.builder().temperature(0f).maxTokens(12).ignoreEos(true).build();
    private static final String TEXT = "Describe what you see and hear.";

    private static Path file(String rel) {
        return MultimodalFixtures.file(rel);
    }

    private static Path model() {
        return file(MultimodalFixtures.gemma3nCase("image").get("variant").get("text_gguf").asText());
    }

    private static ChatImage image() {
        JsonNode media = MultimodalFixtures.model(MultimodalFixtures.GEMMA3N).get("media").get("square");
        return ChatImage.read(file(media.get("file").asText()));
    }

    private static ChatAudio clip() {
        return ChatAudio.read(file(MultimodalFixtures.gemma3nCase("audio").get("media").get(0).asText()));
    }

    @ParameterizedTest(name = "exact={0}")
    @ValueSource(booleans = {true, false})
    void anImageAndAClipInOneMessage(boolean exact) {
        try (Engine e = Engine.load(model(), EngineOptions.builder().exact(exact).threads(2).build()); Session s = e.newSession()) {
            assertThat(e.supportsImages()).isTrue();
            assertThat(e.supportsAudio()).isTrue();
            Generation both = s.generate(List.of(ChatMessage.user(TEXT, List.of(image()), List.of(clip()))), GREEDY, TokenListener.NONE);
            // the model's template around one message, the expansions written out here (HF: image rows, then audio rows)
            String expanded = e.renderChat(List.of(ChatMessage.user("MEDIA")), true).replace("MEDIA",
                    "\n\n<start_of_image>" + "<image_soft_token>".repeat(256) + "<end_of_image>\n\n"
                    + "\n\n<start_of_audio>" + "<audio_soft_token>".repeat(188) + "<end_of_audio>\n\n" + TEXT);
            assertThat(both.promptTokens()).isEqualTo(e.tokenizer().encodePrompt(expanded).length);
            // the markers may also be placed in the text, in any order
            Generation placed = e.newSession().generate(List.of(ChatMessage.user(
                    "Hear <audio_soft_token> and see <start_of_image>", List.of(image()), List.of(clip()))), GREEDY, TokenListener.NONE);
            assertThat(placed.tokens()).isNotEmpty();
            // both kinds of rows reach the model: the answer differs from either medium's alone
            Generation imageOnly = e.newSession().generate(List.of(ChatMessage.user(TEXT, List.of(image()))), GREEDY, TokenListener.NONE);
            Generation clipOnly = e.newSession().generate(List.of(ChatMessage.user(TEXT, List.of(), List.of(clip()))), GREEDY, TokenListener.NONE);
            assertThat(both.tokens()).isNotEqualTo(imageOnly.tokens()).isNotEqualTo(clipOnly.tokens());
        }
    }

    @ParameterizedTest(name = "image first={0}")
    @ValueSource(booleans = {true, false})
    void anImageAndAClipAcrossTurns(boolean imageFirst) {
        ChatMessage first = imageFirst ? ChatMessage.user("What is this?", List.of(image())) : ChatMessage.user("What is this?", List.of(), List.of(clip()));
        ChatMessage second = imageFirst ? ChatMessage.user("And this?", List.of(), List.of(clip())) : ChatMessage.user("And this?", List.of(image()));
        try (Engine e = Engine.load(model(), EngineOptions.builder().threads(2).build()); Session s = e.newSession()) {
            Generation a = s.chat(first, GREEDY, TokenListener.NONE);
            Generation b = s.chat(second, GREEDY, TokenListener.NONE);
            // the second turn extends the first turn's cache (its medium encoded once, its rows keyed by it)
            assertThat(b.reusedTokens()).isGreaterThanOrEqualTo(a.promptTokens() + a.tokens().length - 1);
            // and carries the second medium's expansion: the same turns with the second one's text only are shorter by
            // at least its soft tokens, and answered otherwise
            try (Session t = e.newSession()) {
                assertThat(t.chat(first, GREEDY, TokenListener.NONE).tokens()).containsExactly(a.tokens());
                Generation plain = t.chat(ChatMessage.user("And this?"), GREEDY, TokenListener.NONE);
                assertThat(b.promptTokens() - plain.promptTokens()).isGreaterThanOrEqualTo(imageFirst ? 188 : 256);
                assertThat(b.tokens()).isNotEqualTo(plain.tokens());
            }
        }
    }
}
