package dev.jemma.tools.gen;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.vision.ImageEncoder;
import dev.jemma.core.vision.VisionConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The random Gemma 3 mmproj: the converter's keys, names, shapes and types; loadable by Jemma's vision encoder. */
class Gemma3MmprojGeneratorTest {
    @TempDir
    Path dir;

    @Test
    void fullSizeTowerHasGemma3sShape() {
        List<Gemma3Generator.TensorPlan> plan = Gemma3MmprojGenerator.plan(Gemma3MmprojGenerator.GEMMA3_SIGLIP, 2560);
        long params = 0;
        for (Gemma3Generator.TensorPlan t : plan) {
            long n = 1;
            for (long d : t.dims()) n *= d;
            params += n;
        }
        // SigLIP-so400m at 896 px: patch conv 3·14·14·1152 + 1152, 4096 positions × 1152, 27 blocks of
        // (4 × (1152² + 1152) + 2 × 1152·4304 + 4304 + 1152 + 4 × 1152), post-LN 2 × 1152; projector 1152 × 2560 + 1152
        assertThat(params).isEqualTo(678_528L + 4_718_592L + 27L * 15_239_504L + 2_304L + 2_950_272L);
        assertThat(plan).hasSize(5 + 27 * 16 + 2);
        assertThat(plan).filteredOn(t -> t.name().equals("v.position_embd.weight")).singleElement()
                .satisfies(t -> assertThat(t.dims()).containsExactly(1152, 4096));
        assertThat(plan).filteredOn(t -> t.name().equals("v.blk.26.ffn_up.weight")).singleElement()
                .satisfies(t -> assertThat(t.dims()).containsExactly(1152, 4304));
        assertThat(Gemma3MmprojGenerator.GEMMA3_SIGLIP.scaleFactor()).isEqualTo(4);
    }

    /**
     * The fixture mmproj was written by llama.cpp's converter from an HF Gemma 3 checkpoint: a generated file of its shape
     * must have the same metadata keys (types included), tensor names, order, shapes and types.
     */
    @Test
    void matchesTheConvertersLayoutOfTheFixture() {
        Path fixture = Fixtures.shared().resolve("multimodal/gemma3-vision-tiny/mmproj-gemma3-vision-tiny-F16.gguf");
        // tiny: image 224, patch 14, width 128, ffn 256, 3 blocks, 4 heads, 16 tokens (the default pooling factor 4)
        var shape = new Gemma3MmprojGenerator.SiglipShape(224, 14, 128, 256, 3, 4, 16);
        Path out = dir.resolve("mmproj.gguf");
        Gemma3MmprojGenerator.generate(shape, 64, "TINY", 7, out);
        try (GgufFile want = GgufFile.open(fixture); GgufFile got = GgufFile.open(out)) {
            assertThat(got.metadata().keySet()).containsExactlyElementsOf(want.metadata().keySet());
            for (String k : want.metadata().keySet()) {
                assertThat(got.valueType(k)).as(k).containsExactly(want.valueType(k));
                if (!k.equals("general.name") && !k.equals("general.size_label")) {
                    Object w = want.metadata().get(k), g = got.metadata().get(k);
                    if (w instanceof float[] wf) assertThat((float[]) g).as(k).containsExactly(wf);
                    else assertThat(g).as(k).isEqualTo(w);
                }
            }
            assertThat(layout(got)).containsExactlyElementsOf(layout(want));
        }
    }

    private static List<String> layout(GgufFile f) {
        List<String> l = new ArrayList<>();
        for (GgufTensorInfo t : f.tensors().values()) l.add(t.name() + " " + java.util.Arrays.toString(t.dims()) + " " + t.type());
        return l;
    }

    @Test
    void smallVariantLoadsAndEncodes() {
        // pooling factor 2 (4×4 patches → 2×2 tokens): the converter then writes clip.vision.projector.scale_factor
        var shape = new Gemma3MmprojGenerator.SiglipShape(56, 14, 64, 96, 2, 4, 4);
        Path out = dir.resolve("mmproj-small.gguf");
        Gemma3MmprojGenerator.generate(shape, 32, "SMALL", 3, out);
        try (GgufFile f = GgufFile.open(out)) {
            assertThat(f.getInt("clip.vision.projector.scale_factor", 0)).isEqualTo(2);
        }
        try (ImageEncoder enc = ImageEncoder.open(out, MatMul.EXACT); ThreadPool pool = new ThreadPool(2)) {
            VisionConfig c = enc.config();
            assertThat(List.of(c.imageSize(), c.patchSize(), c.hidden(), c.ffn(), c.layers(), c.heads(), c.tokensPerImage(), c.textDim()))
                    .containsExactly(56, 14, 64, 96, 2, 4, 4, 32);
            assertThat(c.eps()).isEqualTo(1e-6f);
            assertThat(c.mean()).containsExactly(0.5f, 0.5f, 0.5f);
            float[] px = new float[3 * 56 * 56];
            Random r = new Random(5);
            for (int i = 0; i < px.length; i++) px[i] = r.nextFloat() * 2 - 1;
            float[] emb = enc.encode(px, 0, pool);
            assertThat(emb).hasSize(4 * 32);
            double sq = 0;
            for (float v : emb) {
                assertThat(Float.isFinite(v)).isTrue();
                sq += v * v;
            }
            // RMS-normalised rows (norm ≈ 1 + N(0, 0.05)) through a ≈ N(0, 0.02) projection of width 64: rms ≈ 0.02·√64
            double rms = Math.sqrt(sq / emb.length);
            assertThat(rms).isBetween(0.05, 0.4);
        }
    }
}
