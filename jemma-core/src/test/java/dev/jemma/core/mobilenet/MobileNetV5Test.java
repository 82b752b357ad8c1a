package dev.jemma.core.mobilenet;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.FastMatMul;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.MultimodalFixtures;
import dev.jemma.core.vision.Gemma3ImageProcessor;
import dev.jemma.core.vision.ImageDecoder;
import dev.jemma.core.media3n.MmprojWeights;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.jemma.core.gguf.GgufFormatException;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.repack.RepackCache;
import dev.jemma.core.tensor.kernels.Interleaved;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.function.Predicate;

import static dev.jemma.core.testing.MultimodalFixtures.maxAbs;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * MobileNet-V5 against timm's output in the Gemma 3n fixture (gemma3n-mm-tiny, a reduced MobileNet-V5 with every block
 * type of the real one): HF's pixel values in, the MSFA output [2048 × 16 × 16] out, in exact and default mode; and the
 * Gemma 3n preprocessing (SiglipImageProcessor: PIL bilinear stretch to 768 × 768, x / 255) of the PNG.
 */
class MobileNetV5Test {
    private static final ThreadPool POOL = new ThreadPool(2);
    static final String MODEL = "gemma3n-mm-tiny";

    @AfterAll
    static void close() {
        POOL.close();
    }

    static JsonNode model() {
        Assumptions.assumeTrue(Fixtures.sharedAvailable(), "shared fixtures not available");
        return MultimodalFixtures.manifest().get("models").get(MODEL);
    }

    static JsonNode imageCase() {
        return model().get("cases").get("image");
    }

    @Test
    void preprocessingMatchesSiglipImageProcessor() {
        JsonNode c = imageCase();
        float[] ref = MultimodalFixtures.f32(c.get("pixel_values").get("file").asText());
        var image = ImageDecoder.read(MultimodalFixtures.file(model().get("media").get("square").get("file").asText()));
        Gemma3ImageProcessor p = new Gemma3ImageProcessor(768, new float[]{0, 0, 0}, new float[]{1, 1, 1});
        float[] got = p.pixelValues(image);
        System.out.printf("Gemma 3n pixel values: max |Δ| vs SiglipImageProcessor %.3g%n", maxAbs(ref, got));
        double tol = MultimodalFixtures.tolerances().get("preprocessing").get("pixel_values_max_abs").asDouble();
        assertThat(maxAbs(ref, got)).isLessThanOrEqualTo(tol);
    }

    @Test
    void exactModeMatchesTimm() {
        check(MatMul.EXACT, null);
    }

    @Test
    void defaultModeMatchesTimm(@TempDir Path cache) {
        // F16/F32 weights keep f32 activations on the default kernels (the tiled F16 GEMM over the repacked copies, as
        // Gemma3nImageEncoder runs them): held to the exact tolerance too
        check(new FastMatMul(), cache);
    }

    @Test
    void defaultModeWithoutRepackedWeightsMatchesTimm() {
        check(new FastMatMul(), null);
    }

    /** With {@code repackDir}, the tower reads its matrices' interleaved copies from a cache made there. */
    private void check(MatMul mm, Path repackDir) {
        JsonNode c = imageCase(), v = c.get("variant");
        float[] pixels = MultimodalFixtures.f32(c.get("pixel_values").get("file").asText());
        float[] ref = MultimodalFixtures.f32(v.get("vision_tower_output").get("file").asText());
        double tol = MultimodalFixtures.tolerances().get("exact_f32_mode").get("gemma3n").get("vision_tower_output_max_abs").asDouble();
        try (GgufFile f = GgufFile.open(MultimodalFixtures.file(v.get("mmproj_gguf").asText()))) {
            assertThat(MobileNetV5.present(f)).isTrue();
            MobileNetV5 net = new MobileNetV5(new MmprojWeights(f), 768, 1e-6f);
            RepackCache repacked = repackDir == null ? null : RepackCache.open(f, net.matrices(), POOL, repackDir);
            if (repacked != null) {
                net = net.attach(repacked);
                // the tiny tower's widths (16, 24, 48, 80, 144 …) leave some matrices without whole 32-column blocks: those
                // stay on the row-decoding GEMM, so both default-mode kernels run here
                assertThat(net.matrices()).allSatisfy(w -> assertThat(w.interleaved() != null)
                        .as(w.name()).isEqualTo(Interleaved.supports(w.type(), w.cols())));
                assertThat(net.matrices()).filteredOn(w -> w.interleaved() != null).hasSizeGreaterThan(10);
            }
            float[] out = net.forward(pixels, 0, mm, POOL);
            if (repacked != null) repacked.close();
            assertThat(out).hasSize(256 * 2048);
            float[] chw = new FeatureMap(out, 16, 16, 2048).toChannelFirst();
            double d = maxAbs(ref, chw);
            System.out.printf("MobileNet-V5 %s: max |Δ| vs timm %.3g%n", mm == MatMul.EXACT ? "exact" : "default", d);
            assertThat(d).isLessThanOrEqualTo(tol);
        }
    }

    /** A copy of the fixture mmproj without the tensors {@code drop} selects. */
    private static Path without(Path dir, Predicate<String> drop) {
        Path out = dir.resolve("mmproj-broken.gguf");
        try (GgufFile f = GgufFile.open(MultimodalFixtures.file(imageCase().get("variant").get("mmproj_gguf").asText()))) {
            GgufWriter w = new GgufWriter().copyMetadata(f);
            for (GgufTensorInfo t : f.tensors().values()) {
                if (drop.test(t.name())) continue;
                w.addTensor(t.name(), t.dims(), t.type(), o -> o.write(f.tensorData(t).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(out);
        }
        return out;
    }

    @Test
    void aMissingTowerTensorIsOneLineNamingIt(@TempDir Path dir) {
        Path bad = without(dir, n -> n.equals("v.blk.2.2.attn.value.proj.weight"));
        assertThatThrownBy(() -> {
            try (Gemma3nMmproj p = Gemma3nMmproj.open(bad, 64, 1018, MatMul.EXACT, POOL)) {
                Gemma3nImageEncoder.open(p, MatMul.EXACT);
            }
        }).isInstanceOf(GgufFormatException.class).hasMessageContaining("mmproj-broken.gguf")
                .hasMessageContaining("v.blk.2.2.attn.value.proj.weight").satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void aGapInTheStagesIsRefused(@TempDir Path dir) {
        Path bad = without(dir, n -> n.startsWith("v.blk.1."));
        assertThatThrownBy(() -> {
            try (Gemma3nMmproj p = Gemma3nMmproj.open(bad, 64, 1018, MatMul.EXACT, POOL)) {
                Gemma3nImageEncoder.open(p, MatMul.EXACT);
            }
        }).isInstanceOf(GgufFormatException.class).hasMessageContaining("stage 1");
    }
}
