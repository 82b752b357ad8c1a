package dev.jemma.core.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A model whose folder holds only the other generation's mmproj (a Gemma 3 model beside a Gemma 3n mmproj, and the
 * reverse) loads text only, with one warning line naming the file it left alone.
 */
class MismatchedMmprojTest {
    @TempDir
    Path dir;

    private static Path gemma3Text() {
        JsonNode v = MultimodalFixtures.model().get("cases").get("square").get("variants").get("F32");
        return MultimodalFixtures.file(v.get("text_gguf").asText());
    }

    private static Path gemma3Mmproj() {
        JsonNode v = MultimodalFixtures.model().get("cases").get("square").get("variants").get("F32");
        return MultimodalFixtures.file(v.get("mmproj_gguf").asText());
    }

    private static JsonNode gemma3n() {
        return MultimodalFixtures.gemma3nCase("image").get("variant");
    }

    /** The model and the mmproj, linked into a folder of their own (the mmproj the only mmproj*.gguf there). */
    private Path folder(Path model, Path mmproj) throws IOException {
        Path m = Files.createSymbolicLink(dir.resolve("model.gguf"), model.toAbsolutePath());
        Files.createSymbolicLink(dir.resolve("mmproj-other.gguf"), mmproj.toAbsolutePath());
        return m;
    }

    private static void answers(Engine e) {
        try (Session s = e.newSession()) {
            Generation g = s.generate(java.util.List.of(dev.jemma.core.chat.ChatMessage.user("Hello")),
                    GenerationOptions.builder().temperature(0f).maxTokens(2).ignoreEos(true).build(), TokenListener.NONE);
            assertThat(g.tokens()).hasSize(2);
        }
    }

    @Test
    void gemma3BesideAGemma3nMmprojRunsTextOnly() throws IOException {
        Path model = folder(gemma3Text(), MultimodalFixtures.file(gemma3n().get("mmproj_gguf").asText()));
        try (Engine e = Engine.load(model, EngineOptions.builder().threads(1).exact(true).build())) {
            assertThat(e.supportsImages()).isFalse();
            assertThat(e.warnings()).singleElement().asString()
                    .contains("mmproj-other.gguf", "Gemma 3n mmproj, not Gemma 3's", "text only").doesNotContain("\n");
            answers(e);
        }
        assertThat(ModelCapabilities.probe(model).names()).doesNotContain("vision");
    }

    @Test
    void gemma3nBesideAGemma3MmprojRunsTextOnly() throws IOException {
        Path model = folder(MultimodalFixtures.file(gemma3n().get("text_gguf").asText()), gemma3Mmproj());
        try (Engine e = Engine.load(model, EngineOptions.builder().threads(1).exact(true).build())) {
            assertThat(e.supportsImages()).isFalse();
            assertThat(e.supportsAudio()).isFalse();
            assertThat(e.mmprojFile()).isNull();
            assertThat(e.warnings()).singleElement().asString()
                    .contains("mmproj-other.gguf", "Gemma 3 projector (gemma3), not Gemma 3n's", "text only").doesNotContain("\n");
            answers(e);
        }
        assertThat(ModelCapabilities.probe(model).names()).doesNotContain("vision", "audio");
    }

    @Test
    void aMatchingMmprojBesideTheModelWarnsNothing() throws IOException {
        JsonNode v = gemma3n();
        Path model = folder(MultimodalFixtures.file(v.get("text_gguf").asText()), MultimodalFixtures.file(v.get("mmproj_gguf").asText()));
        try (Engine e = Engine.load(model, EngineOptions.builder().threads(1).exact(true).build())) {
            assertThat(e.supportsImages()).isTrue();
            assertThat(e.supportsAudio()).isTrue();
            assertThat(e.warnings()).isEmpty();
        }
    }
}
