package dev.jemma.core.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.JemmaException;
import dev.jemma.core.chat.ChatAudio;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Audio through the public API: a user message with a clip gives HF's greedy continuation (the prompt built, expanded
 * and tokenized as HF's Gemma3nProcessor does, the clip encoded end to end); the mmproj beside the model is found;
 * a clip stays encoded across turns; models that cannot hear and bad clips are refused with one line.
 */
class EngineAudioTest {
    private static final GenerationOptions GREEDY = GenerationOptions.builder().temperature(0f).maxTokens(16).ignoreEos(true).build();

    private static JsonNode audioCase() {
        return MultimodalFixtures.gemma3nCase("audio");
    }

    private static Path file(String rel) {
        return MultimodalFixtures.file(rel);
    }

    /** The case's message: its content without the leading marker, the clip as an audio part. */
    private static ChatMessage message(JsonNode c) {
        String content = c.get("prompt").get("content").asText();
        List<ChatAudio> clip = List.of(ChatAudio.read(file(c.get("media").get(0).asText())));
        return ChatMessage.user(content.replace(ChatMessage.AUDIO_MARKER, ""), List.of(), clip);
    }

    @ParameterizedTest(name = "exact={0}")
    @ValueSource(booleans = {true, false})
    void aClipInAMessageGivesHfsGreedyIds(boolean exact) {
        JsonNode c = audioCase(), v = c.get("variant");
        int perClip = MultimodalFixtures.model(MultimodalFixtures.GEMMA3N).get("hf_config").get("audio_soft_tokens_per_image").asInt();
        EngineOptions o = EngineOptions.builder().exact(exact).threads(2).audioTokens(perClip).build();
        try (Engine e = Engine.load(file(v.get("text_gguf").asText()), o); Session s = e.newSession()) {
            assertThat(e.supportsAudio()).isTrue();
            assertThat(e.mmprojFile().getFileName().toString()).isEqualTo("mmproj-gemma3n-mm-tiny-F16.gguf");
            Generation g = s.generate(List.of(message(c)), GREEDY, TokenListener.NONE);
            assertThat(g.promptTokens()).isEqualTo(c.get("prompt").get("n_tokens").asInt());
            assertThat(g.tokens()).containsExactly(Fixtures.ints(v.get("greedy_ids")));
        }
    }

    @Test
    void aClipStaysEncodedAcrossTurns() {
        JsonNode c = audioCase(), v = c.get("variant");
        try (Engine e = Engine.load(file(v.get("text_gguf").asText()), EngineOptions.builder().threads(2).build()); Session s = e.newSession()) {
            Generation first = s.chat(message(c), GREEDY, TokenListener.NONE);
            // the released models' 188 soft tokens per clip by default
            assertThat(first.promptTokens()).isEqualTo(c.get("prompt").get("n_tokens").asInt() - 24 + 188);
            Generation second = s.chat(ChatMessage.user("And in French?"), GREEDY, TokenListener.NONE);
            assertThat(second.reusedTokens()).isGreaterThanOrEqualTo(first.promptTokens() + first.tokens().length - 1);
            // a different clip in the same place is not taken for the cached one
            byte[] other = WavBytes.sine(16000, 300, 1.0);
            Generation fresh = s.generate(List.of(ChatMessage.user("Transcribe this audio clip.", List.of(), List.of(ChatAudio.of(other, "tone.wav")))),
                    GREEDY, TokenListener.NONE);
            assertThat(fresh.reusedTokens()).isLessThanOrEqualTo(c.get("prompt").get("soft_token_blocks").get(0).get(0).asInt());
        }
    }

    @Test
    void audioIsRefusedClearly() {
        ChatAudio wav = ChatAudio.read(file(audioCase().get("media").get(0).asText()));
        Path gemma3 = Fixtures.shared().resolve("gemma3-tiny").resolve("gemma3-tiny-F32.gguf");
        try (Engine e = Engine.load(gemma3, EngineOptions.builder().threads(2).build()); Session s = e.newSession()) {
            assertThat(e.supportsAudio()).isFalse();
            assertThatThrownBy(() -> s.generate(List.of(ChatMessage.user("hi", List.of(), List.of(wav))), GREEDY, TokenListener.NONE))
                    .isInstanceOf(JemmaException.class).hasMessageContaining("this model takes no audio");
        }
        try (Engine e = Engine.load(file(audioCase().get("variant").get("text_gguf").asText()), EngineOptions.builder().threads(2).build());
             Session s = e.newSession()) {
            for (var bad : List.of(ChatAudio.of("not audio".getBytes(), "notes.wav"), ChatAudio.of(WavBytes.silence(16000, 1.0), "quiet.wav"),
                    ChatAudio.of(WavBytes.sine(16000, 300, 31), "long.wav"))) {
                assertThatThrownBy(() -> s.generate(List.of(ChatMessage.user("hi", List.of(), List.of(bad))), GREEDY, TokenListener.NONE))
                        .isInstanceOf(JemmaException.class).hasMessageStartingWith(bad.name() + ": ").message().doesNotContain("\n");
            }
            // the session still works after a refused clip
            assertThat(s.generate(List.of(message(audioCase())), GREEDY, TokenListener.NONE).tokens()).hasSize(16);
        }
    }
}
