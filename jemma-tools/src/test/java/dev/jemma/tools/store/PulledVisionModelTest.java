package dev.jemma.tools.store;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.chat.ChatImage;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.engine.TokenListener;
import dev.jemma.core.store.ModelStore;
import dev.jemma.core.store.StoredModel;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A Gemma 3 vision repository laid out as llama.cpp's are (model GGUFs and an mmproj beside them) pulled from the fake
 * hub: the store fetches the projector with the model, and an engine loading the stored model by its blob sees images
 * with no --mmproj, giving HF's greedy ids.
 */
class PulledVisionModelTest {
    @TempDir
    Path home;

    @Test
    void aPulledVisionModelSeesImages() throws Exception {
        JsonNode c = MultimodalFixtures.model().get("cases").get("square"), v = c.get("variants").get("F32");
        Path model = MultimodalFixtures.file(v.get("text_gguf").asText());
        Path mmproj = MultimodalFixtures.file(v.get("mmproj_gguf").asText());
        try (FakeHub hub = new FakeHub()) {
            hub.add("ggml-org/gemma-3-vision-tiny-GGUF", "gemma-3-vision-tiny-F32.gguf", Files.readAllBytes(model));
            hub.add("ggml-org/gemma-3-vision-tiny-GGUF", "mmproj-gemma-3-vision-tiny-f32.gguf", Files.readAllBytes(mmproj));
            ModelStore store = new ModelStore(home);
            StoredModel m = new ModelPuller(store).pull("hf.co/ggml-org/gemma-3-vision-tiny-GGUF", new HubClient(hub.uri(), null), PullListener.NONE);
            assertThat(m.projector().file()).isEqualTo("mmproj-gemma-3-vision-tiny-f32.gguf");
        }
        Path stored = new ModelStore(home).resolve("hf.co/ggml-org/gemma-3-vision-tiny-GGUF");
        String content = c.get("prompt").get("content").asText().replace("<start_of_image>", "");
        ChatMessage msg = ChatMessage.user(content, List.of(ChatImage.read(MultimodalFixtures.file(c.get("images").get(0).asText()))));
        try (Engine e = Engine.load(stored, EngineOptions.builder().exact(true).threads(2).build()); Session s = e.newSession()) {
            assertThat(e.supportsImages()).isTrue();
            assertThat(e.visionFile().getFileName().toString()).startsWith("sha256-");
            var g = s.generate(List.of(msg), GenerationOptions.builder().temperature(0f).maxTokens(16).ignoreEos(true).build(), TokenListener.NONE);
            assertThat(g.promptTokens()).isEqualTo(c.get("prompt").get("n_tokens").asInt());
            assertThat(g.tokens()).containsExactly(Fixtures.ints(v.get("greedy_ids")));
        }
    }
}
