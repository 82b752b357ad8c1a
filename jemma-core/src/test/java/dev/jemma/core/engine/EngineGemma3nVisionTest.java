package dev.jemma.core.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.JemmaException;
import dev.jemma.core.chat.ChatImage;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.MultimodalFixtures;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Gemma 3n with an image through the public API (gemma3n-mm-tiny, case "image"): the user message with an image part is
 * rendered, expanded as Gemma3nProcessor does (boi + 256 soft tokens + eoi), encoded by MobileNet-V5 + embed_vision and
 * spliced causally; the prompt is HF's and the greedy continuation HF's, in exact and default mode.
 */
class EngineGemma3nVisionTest {
    private static final GenerationOptions GREEDY = GenerationOptions.builder().temperature(0f).maxTokens(16).ignoreEos(true).build();

    private static JsonNode imageCase() {
        return MultimodalFixtures.gemma3nCase("image");
    }

    private static Path file(String rel) {
        return MultimodalFixtures.file(rel);
    }

    private static ChatMessage message() {
        String content = imageCase().get("prompt").get("content").asText();
        String marker = "<image_soft_token>";
        assertThat(content).startsWith(marker);
        JsonNode media = MultimodalFixtures.model(MultimodalFixtures.GEMMA3N).get("media").get("square");
        return ChatMessage.user(content.substring(marker.length()), List.of(ChatImage.read(file(media.get("file").asText()))));
    }

    @ParameterizedTest(name = "exact={0}")
    @ValueSource(booleans = {true, false})
    void anImageMessageGivesHfsGreedyIds(boolean exact) {
        JsonNode c = imageCase(), v = c.get("variant");
        EngineOptions o = EngineOptions.builder().exact(exact).threads(2).mmproj(file(v.get("mmproj_gguf").asText())).build();
        try (Engine e = Engine.load(file(v.get("text_gguf").asText()), o); Session s = e.newSession()) {
            assertThat(e.supportsImages()).isTrue();
            assertThat(e.tokensPerImage()).isEqualTo(256);
            Generation g = s.generate(List.of(message()), GREEDY, TokenListener.NONE);
            assertThat(g.promptTokens()).isEqualTo(c.get("prompt").get("n_tokens").asInt());
            assertThat(g.tokens()).containsExactly(Fixtures.ints(v.get("greedy_ids")));
        }
    }

    @Test
    void theMmprojBesideTheModelIsFoundAndPanAndScanIsRefused() {
        JsonNode v = imageCase().get("variant");
        try (Engine e = Engine.load(file(v.get("text_gguf").asText()), EngineOptions.builder().threads(2).build()); Session s = e.newSession()) {
            assertThat(e.visionFile().getFileName().toString()).isEqualTo("mmproj-gemma3n-mm-tiny-F16.gguf");
            Generation g = s.chat(message(), GREEDY, TokenListener.NONE);
            assertThat(g.tokens()).containsExactly(Fixtures.ints(v.get("greedy_ids")));
        }
        assertThatThrownBy(() -> Engine.load(file(v.get("text_gguf").asText()), EngineOptions.builder().threads(2).panAndScan(true).build()).close())
                .isInstanceOf(JemmaException.class).hasMessageContaining("pan-and-scan");
    }

    @Test
    void aVisionOnlyMmprojKeepsHfsTokenLayout(@TempDir Path dir) {
        // llama.cpp's converter writes Gemma 3n mmprojs with the vision tower only: the vision ids must still start at
        // vocab_size_per_layer_input (the audio ids after them are reserved, not taken for vision)
        JsonNode v = imageCase().get("variant");
        Path visionOnly = dir.resolve("mmproj-vision-only.gguf");
        try (GgufFile f = GgufFile.open(file(v.get("mmproj_gguf").asText()))) {
            GgufWriter w = new GgufWriter().copyMetadata(f);
            for (String k : f.metadata().keySet()) if (k.startsWith("clip.audio.")) w.remove(k);
            w.putBool("clip.has_audio_encoder", false);
            for (GgufTensorInfo t : f.tensors().values()) {
                if (t.name().startsWith("a.") || t.name().startsWith("mm.a.")) continue;
                w.addTensor(t.name(), t.dims(), t.type(), o -> o.write(f.tensorData(t).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(visionOnly);
        }
        EngineOptions o = EngineOptions.builder().exact(true).threads(2).mmproj(visionOnly).build();
        try (Engine e = Engine.load(file(v.get("text_gguf").asText()), o); Session s = e.newSession()) {
            Generation g = s.generate(List.of(message()), GREEDY, TokenListener.NONE);
            assertThat(g.tokens()).containsExactly(Fixtures.ints(v.get("greedy_ids")));
        }
    }
}
