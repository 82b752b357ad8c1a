package dev.jemma.core.engine;

import dev.jemma.core.JemmaException;
import dev.jemma.core.chat.ChatImage;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.memory.MemoryPlan;
import dev.jemma.core.memory.WeightCopy;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An engine that will be given images (EngineOptions.images: serve, chat, run --image) plans the copy of Gemma 3n's
 * MobileNet-V5 matrices that its first image builds: the plan's total is the text plan's plus the copy, the copy the
 * first image writes has exactly the planned size, and a machine with room for the text model but not for the copy
 * refuses the load with the copy named. A text run plans (and builds) none. Mutations caught: the engine not passing
 * the copy to its plan (the total equals the text plan's), totalBytes leaving the copy out, the load not checking it.
 */
class VisionCopyPlanTest {
    @TempDir
    Path cache;

    @AfterEach
    void clear() {
        System.clearProperty("jemma.cache.dir");
        System.clearProperty("jemma.memory.available");
    }

    @Test
    void anEngineGivenImagesPlansTheCopyItsFirstImageBuilds() throws Exception {
        System.setProperty("jemma.cache.dir", cache.toString());
        Path dir = MultimodalFixtures.root().resolve("gemma3n-mm-tiny");
        Path model = dir.resolve("gemma3n-mm-tiny-F16.gguf");
        EngineOptions.Builder b = EngineOptions.builder().threads(2).contextLength(512);
        long text;
        try (Engine e = Engine.load(model, b.build())) {
            assertThat(e.memoryPlan().visionCopy()).as("a text run builds no copy").isNull();
            text = e.memoryPlan().totalBytes();
        }
        WeightCopy copy;
        try (Engine e = Engine.load(model, b.images(true).build())) {
            MemoryPlan p = e.memoryPlan();
            copy = p.visionCopy();
            assertThat(copy).isNotNull();
            assertThat(copy.present()).isFalse();
            assertThat(copy.file().getParent()).isEqualTo(cache);
            assertThat(copy.bytes()).isPositive();
            // and an image's encoding on the heap (ImageScratchPlanTest)
            assertThat(p.totalBytes()).isEqualTo(text + copy.bytes() + p.imageScratchBytes());
            // the first image builds it, at the planned size
            try (Session s = e.newSession()) {
                s.generate(List.of(ChatMessage.user("What is this?", List.of(ChatImage.read(dir.resolve("media/square-224x224.png"))))),
                        GenerationOptions.builder().temperature(0f).maxTokens(1).build(), TokenListener.NONE);
            }
            assertThat(Files.size(copy.file())).as("the copy the first image wrote").isEqualTo(copy.bytes());
        }
        try (Engine e = Engine.load(model, b.images(true).build())) {
            assertThat(e.memoryPlan().visionCopy().present()).as("built: mapped by the next run").isTrue();
            assertThat(e.memoryPlan().totalBytes()).isEqualTo(text + copy.bytes() + e.memoryPlan().imageScratchBytes());
        }
        // room for the text model, not for the copy: a text run loads, a run with images is refused, naming the copy
        System.setProperty("jemma.memory.available", String.valueOf(text + copy.bytes() / 2));
        try (Engine e = Engine.load(model, b.images(false).build())) {
            assertThat(e.memoryPlan().fits()).isTrue();
        }
        assertThatThrownBy(() -> Engine.load(model, b.images(true).build())).isInstanceOf(JemmaException.class)
                .hasMessageContaining("the vision tower's copy").hasMessageNotContaining("\n");
    }
}
