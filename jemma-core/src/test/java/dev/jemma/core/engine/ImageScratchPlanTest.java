package dev.jemma.core.engine;

import dev.jemma.core.JemmaException;
import dev.jemma.core.memory.MemoryPlan;
import dev.jemma.core.testing.MultimodalFixtures;
import dev.jemma.core.vision.ImageEncoder;
import dev.jemma.core.tensor.MatMul;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An engine that will be given images plans the Java heap one image's encoding holds (the encoder's
 * {@code scratchBytes}: SigLIP's or MobileNet-V5's activations, one image at a time under the engine's lock) beside the
 * text model's heap: the with-images plan's heap is the text plan's plus that scratch, and a JVM whose heap has room for
 * the text model but not for an encoding refuses the load with one line naming it, where a text run loads. Mutations
 * caught: heapNeeded leaving the image scratch out (the squeezed load goes through), the engine planning images with a
 * scratch of 0 (the heap equals the text plan's).
 */
class ImageScratchPlanTest {
    @TempDir
    Path cache;

    @AfterEach
    void clear() {
        System.clearProperty("jemma.cache.dir");
        System.clearProperty("jemma.memory.heap");
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma3-vision-tiny/gemma3-vision-tiny-Q8_0.gguf", "gemma3n-mm-tiny/gemma3n-mm-tiny-F16.gguf"})
    void anEngineGivenImagesPlansAnImagesEncodingOnTheHeap(String file) throws Exception {
        System.setProperty("jemma.cache.dir", cache.toString());
        Path model = MultimodalFixtures.root().resolve(file);
        // Gemma 3's tower is given (two mmproj files lie beside it); Gemma 3n's is found beside the model
        Path mmproj = file.startsWith("gemma3-") ? model.resolveSibling("mmproj-gemma3-vision-tiny-F16.gguf") : null;
        EngineOptions.Builder b = EngineOptions.builder().threads(1).contextLength(512).mmproj(mmproj);
        MemoryPlan text, images;
        long expected;
        try (Engine e = Engine.load(model, b.build())) {
            text = e.memoryPlan();
        }
        try (Engine e = Engine.load(model, b.images(true).build())) {
            images = e.memoryPlan();
            expected = e.vision().encoder.scratchBytes();
        }
        assertThat(text.imageScratchBytes()).as("a text run encodes no image").isZero();
        assertThat(expected).isPositive();
        if (file.startsWith("gemma3-")) {
            // Gemma 3's SigLIP: the estimate is the tower's, from its config
            try (ImageEncoder enc = ImageEncoder.open(mmproj, MatMul.EXACT)) {
                assertThat(expected).isEqualTo(enc.scratchBytes());
            }
        }
        assertThat(images.imageScratchBytes()).isEqualTo(expected);
        assertThat(images.heapNeeded()).isEqualTo(text.heapNeeded() + expected);
        assertThat(images.totalBytes()).isEqualTo(text.totalBytes() + images.visionCopyBytes() + expected);

        // a heap with room for the text model, not for an encoding: a text run loads, a run with images is refused
        System.setProperty("jemma.memory.heap", String.valueOf(text.heapNeeded() + expected / 2));
        try (Engine e = Engine.load(model, b.images(false).build())) {
            assertThat(e.memoryPlan().fits()).isTrue();
        }
        assertThatThrownBy(() -> Engine.load(model, b.images(true).build()).close()).isInstanceOf(JemmaException.class)
                .hasMessageContaining("an image's encoding").hasMessageContaining("of Java heap").hasMessageNotContaining("\n");
    }
}
