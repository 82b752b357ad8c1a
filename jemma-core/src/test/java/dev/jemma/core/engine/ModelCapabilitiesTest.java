package dev.jemma.core.engine;

import dev.jemma.core.embed.Embedder;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The header probe (what /api/tags reports for a model not loaded) says what loading the model attaches: a projector
 * beside a Gemma 3 model adds vision, a Gemma 3n mmproj with both towers adds vision and audio, the same model files
 * alone in a folder have neither, and an embedding model only embeds.
 */
class ModelCapabilitiesTest {
    @TempDir
    Path alone;

    private static ModelCapabilities loaded(Path model) {
        try (Engine e = Engine.load(model, EngineOptions.builder().threads(1).contextLength(64).build())) {
            return ModelCapabilities.of(e);
        }
    }

    private static void probeMatchesLoad(Path model, List<String> expected) {
        ModelCapabilities probed = ModelCapabilities.probe(model);
        assertThat(probed.names()).as(model.toString()).isEqualTo(expected);
        assertThat(loaded(model)).as(model.toString()).isEqualTo(probed);
    }

    @Test
    void textModel() {
        probeMatchesLoad(Fixtures.coreResource("fixtures/gemma3-tiny/gemma3-tiny-Q8_0.gguf"), List.of("completion", "tools"));
    }

    @Test
    void gemma3WithAndWithoutItsProjector() throws Exception {
        Path model = MultimodalFixtures.root().resolve("gemma3-vision-tiny/gemma3-vision-tiny-F32.gguf");
        probeMatchesLoad(model, List.of("completion", "vision", "tools"));
        probeMatchesLoad(Files.createSymbolicLink(alone.resolve(model.getFileName()), model), List.of("completion", "tools"));
    }

    @Test
    void gemma3nWithAndWithoutItsMmproj() throws Exception {
        Path model = MultimodalFixtures.root().resolve("gemma3n-mm-tiny/gemma3n-mm-tiny-F16.gguf");
        probeMatchesLoad(model, List.of("completion", "vision", "audio", "tools"));
        probeMatchesLoad(Files.createSymbolicLink(alone.resolve(model.getFileName()), model), List.of("completion", "tools"));
    }

    @Test
    void embeddingModel() {
        Path model = Fixtures.coreResource("embedding/embgemma-tiny/embgemma-tiny-Q8_0.gguf");
        assertThat(ModelCapabilities.probe(model).names()).containsExactly("embedding");
        try (Embedder e = Embedder.load(model, EngineOptions.builder().threads(1).build())) {
            assertThat(e.isEmbeddingModel()).isTrue();
        }
    }
}
