package dev.jemma.core.vision;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static dev.jemma.core.testing.MultimodalFixtures.maxAbs;
import static org.assertj.core.api.Assertions.assertThat;

/** Decoding + Gemma3ImageProcessor against HF's pixel_values for the fixtures' images (tolerance 1e-6). */
class Gemma3ImageProcessorTest {
    private static final float[] HALF = {0.5f, 0.5f, 0.5f};

    @ParameterizedTest
    @ValueSource(strings = {"square", "wide", "wide_pas"})
    void pixelValuesMatchHf(String caseName) {
        JsonNode c = MultimodalFixtures.model().get("cases").get(caseName);
        double tol = MultimodalFixtures.tolerances().get("preprocessing").get("pixel_values_max_abs").asDouble();
        float[] ref = MultimodalFixtures.f32(c.get("pixel_values").get("file").asText());
        RgbImage image = ImageDecoder.read(MultimodalFixtures.file(c.get("images").get(0).asText()));
        boolean pas = c.get("prompt").path("pan_and_scan").asBoolean(false);
        List<RgbImage> images = Gemma3ImageProcessor.images(image, pas);
        assertThat(images).hasSize(c.get("pixel_values").get("shape").get(0).asInt());
        Gemma3ImageProcessor p = new Gemma3ImageProcessor(224, HALF, HALF);
        int n = 3 * 224 * 224;
        for (int i = 0; i < images.size(); i++) {
            float[] got = p.pixelValues(images.get(i));
            assertThat(maxAbs(java.util.Arrays.copyOfRange(ref, i * n, (i + 1) * n), got)).as(caseName + " image " + i).isLessThanOrEqualTo(tol);
        }
    }

    @Test
    void panAndScanCutsTheCropsHfCuts() {
        JsonNode c = MultimodalFixtures.model().get("cases").get("wide_pas");
        RgbImage image = ImageDecoder.read(MultimodalFixtures.file(c.get("images").get(0).asText()));
        List<RgbImage> crops = Gemma3ImageProcessor.panAndScan(image, 256, 4, 1.2);
        JsonNode refs = c.get("pas_crops");
        assertThat(crops).hasSize(refs.size());
        for (int i = 0; i < crops.size(); i++) {
            RgbImage ref = ImageDecoder.read(MultimodalFixtures.file(refs.get(i).get("file").asText()));
            assertThat(crops.get(i).width()).isEqualTo(ref.width());
            assertThat(crops.get(i).rgb()).as("crop " + i).isEqualTo(ref.rgb());
        }
        // not elongated enough, or crops too small: none
        assertThat(Gemma3ImageProcessor.panAndScan(new RgbImage(300, 260, new byte[3 * 300 * 260]), 256, 4, 1.2)).isEmpty();
        assertThat(Gemma3ImageProcessor.panAndScan(new RgbImage(400, 200, new byte[3 * 400 * 200]), 256, 4, 1.2)).isEmpty();
        // tall images are cut along their height
        List<RgbImage> tall = Gemma3ImageProcessor.panAndScan(new RgbImage(300, 1000, new byte[3 * 300 * 1000]), 256, 4, 1.2);
        assertThat(tall).hasSize(3).allSatisfy(r -> assertThat(r.width()).isEqualTo(300));
        assertThat(tall.get(0).height()).isEqualTo(334);
        assertThat(tall.get(2).height()).isEqualTo(1000 - 2 * 334);
    }

    @Test
    void panAndScanPromptTextIsHfs() {
        assertThat(Gemma3ImageProcessor.panAndScanText("<start_of_image>", 3)).isEqualTo(
                "Here is the original image <start_of_image> and here are some crops to help you see better <start_of_image> <start_of_image> <start_of_image>");
        assertThat(Gemma3ImageProcessor.panAndScanText("<start_of_image>", 0)).isEqualTo("<start_of_image>");
    }

    @Test
    void resizingToTheSameSizeIsACopy() {
        byte[] px = new byte[3 * 5 * 4];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 7);
        RgbImage im = new RgbImage(5, 4, px);
        assertThat(PillowResize.resize(im, 5, 4).rgb()).isEqualTo(px);
    }
}
