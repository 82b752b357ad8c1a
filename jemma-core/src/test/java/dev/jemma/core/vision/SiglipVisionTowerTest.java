package dev.jemma.core.vision;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.JemmaException;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.FastMatMul;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static dev.jemma.core.testing.MultimodalFixtures.maxAbs;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * SigLIP tower and Gemma 3 projector against HF's outputs for the fixtures' pixel values, on the mmproj file each
 * reference was computed from (F32 variant: the F32 mmproj; quantized variants: the F16 mmproj).
 */
class SiglipVisionTowerTest {
    private static final ThreadPool POOL = new ThreadPool(2);

    @AfterAll
    static void close() {
        POOL.close();
    }

    static List<String> cases() {
        return MultimodalFixtures.caseVariants();
    }

    @ParameterizedTest(name = "{0} exact")
    @MethodSource("cases")
    void exactModeMatchesHf(String cv) {
        check(cv, MatMul.EXACT);
    }

    @ParameterizedTest(name = "{0} default")
    @MethodSource("cases")
    void defaultModeMatchesHf(String cv) {
        // the default kernels keep f32 activations and decode weights exactly for the tower's F32/F16 matrices:
        // they are held to the exact tolerances too
        check(cv, new FastMatMul());
    }

    private void check(String cv, MatMul mm) {
        JsonNode c = MultimodalFixtures.caseNode(cv), v = MultimodalFixtures.variant(cv);
        JsonNode exact = MultimodalFixtures.tolerances().get("exact_f32_mode").get("gemma3");
        float[] pixels = MultimodalFixtures.f32(c.get("pixel_values").get("file").asText());
        float[] refTower = MultimodalFixtures.f32(v.get("vision_tower_output").get("file").asText());
        float[] refEmbd = MultimodalFixtures.f32(v.get("image_embeddings").get("file").asText());
        try (ImageEncoder enc = ImageEncoder.open(MultimodalFixtures.file(v.get("mmproj_gguf").asText()), mm)) {
            VisionConfig vc = enc.config();
            int images = c.get("pixel_values").get("shape").get(0).asInt();
            int px = 3 * vc.imageSize() * vc.imageSize(), towerN = vc.patches() * vc.hidden(), embdN = vc.tokensPerImage() * vc.textDim();
            assertThat(refTower.length).isEqualTo(images * towerN);
            assertThat(refEmbd.length).isEqualTo(images * embdN);
            for (int i = 0; i < images; i++) {
                float[] tower = enc.towerOutput(pixels, i * px, POOL);
                float[] embd = enc.project(tower, POOL);
                double dt = maxAbs(Arrays.copyOfRange(refTower, i * towerN, (i + 1) * towerN), tower);
                double de = maxAbs(Arrays.copyOfRange(refEmbd, i * embdN, (i + 1) * embdN), embd);
                assertThat(dt).as(cv + " image " + i + " tower max|d|").isLessThanOrEqualTo(exact.get("vision_tower_output_max_abs").asDouble());
                assertThat(de).as(cv + " image " + i + " embeddings max|d|").isLessThanOrEqualTo(exact.get("image_embeddings_max_abs").asDouble());
                System.out.printf("%s %s image %d: tower max|d| %.3g, embeddings max|d| %.3g%n", cv, mm.getClass().getSimpleName(), i, dt, de);
                // the same up to float reduction order (interpreted and compiled Vector API code sum differently)
                assertThat(maxAbs(enc.encode(pixels, i * px, POOL), embd)).as("encode = project(tower)").isLessThan(1e-5);
            }
        }
    }

    @Test
    void readsTheMmprojShape() {
        try (ImageEncoder enc = ImageEncoder.open(MultimodalFixtures.file("gemma3-vision-tiny/mmproj-gemma3-vision-tiny-F16.gguf"), MatMul.EXACT)) {
            VisionConfig c = enc.config();
            assertThat(List.of(c.imageSize(), c.patchSize(), c.hidden(), c.ffn(), c.layers(), c.heads(), c.tokensPerImage(), c.textDim()))
                    .containsExactly(224, 14, 128, 256, 3, 4, 16, 64);
            assertThat(c.poolKernel()).isEqualTo(4);
            assertThat(c.names()).isEqualTo(VisionTensorNames.LLAMA_CPP);
            assertThatThrownBy(() -> enc.requireTextWidth(640)).isInstanceOf(JemmaException.class).hasMessageContaining("width 64");
        }
    }

    @Test
    void refusesATextModelAsMmproj() {
        Path text = MultimodalFixtures.file("gemma3-vision-tiny/gemma3-vision-tiny-F32.gguf");
        assertThat(Files.exists(text)).isTrue();
        assertThatThrownBy(() -> ImageEncoder.open(text, MatMul.EXACT)).isInstanceOf(JemmaException.class)
                .hasMessageContaining("not a vision projector");
    }
}
