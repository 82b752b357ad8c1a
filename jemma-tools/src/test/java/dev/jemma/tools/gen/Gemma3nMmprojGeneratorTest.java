package dev.jemma.tools.gen;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

class Gemma3nMmprojGeneratorTest {
    @Test
    void fullSizeMobileNetV5HasTimmsShape() {
        List<Gemma3Generator.TensorPlan> plan = Gemma3nMmprojGenerator.planVision(2048);
        long params = 0, vision = 0;
        for (Gemma3Generator.TensorPlan t : plan) {
            long n = 1;
            for (long d : t.dims()) n *= d;
            params += n;
            if (t.name().startsWith("v.")) vision += n;
        }
        // timm mobilenetv5_300m_enc: 294 M parameters (the fixtures' README); the embedder adds 2048 × (128 + 2048 + 2)
        assertThat(vision).isBetween(290_000_000L, 300_000_000L);
        assertThat(params - vision).isEqualTo(2048L * (128 + 2048 + 2));
        List<Integer> blocks = Gemma3nMmprojGenerator.MOBILENET_V5_300M.stream().map(List::size).toList();
        assertThat(blocks).containsExactly(3, 5, 37, 39);
        assertThat(plan).anySatisfy(t -> {
            assertThat(t.name()).isEqualTo("v.msfa.ffn.pw_exp.conv.weight");
            assertThat(t.dims()).containsExactly(1, 1, 640 + 1280, 3840);
        });
    }

    @Test
    void fullSizeAudioTowerHasHfsShapeAndTheConvertersNames() throws Exception {
        List<Gemma3Generator.TensorPlan> plan = Gemma3nMmprojGenerator.planAudio(2048);
        long tower = 0;
        for (Gemma3Generator.TensorPlan t : plan) {
            long n = 1;
            for (long d : t.dims()) n *= d;
            if (t.name().startsWith("a.")) tower += n;
        }
        // HF Gemma3nAudioEncoder of gemma-3n-E2B/E4B: 12 conformer blocks of width 1536, about 681 M parameters
        assertThat(tower).isBetween(675_000_000L, 690_000_000L);
        // the same tensor names, ranks and types as the llama.cpp-converted fixture mmproj (its widths are tiny)
        Map<String, String> planned = new TreeMap<>(), fixture = new TreeMap<>();
        for (Gemma3Generator.TensorPlan t : plan) planned.put(t.name(), t.dims().length + " " + t.type());
        try (GgufFile f = GgufFile.open(MultimodalFixtures.file("gemma3n-mm-tiny/mmproj-gemma3n-mm-tiny-F16.gguf"))) {
            int blocks = f.getInt("clip.audio.block_count", -1);
            for (GgufTensorInfo t : f.tensors().values()) {
                String n = t.name();
                if (!n.startsWith("a.") && !n.startsWith("mm.a.")) continue;
                fixture.put(n, t.dims().length + " " + t.type());
                // the fixture has 2 blocks; the real tower's other 10 repeat block 1's tensors
                if (n.startsWith("a.blk.1.")) {
                    for (int l = blocks; l < Gemma3nMmprojGenerator.AUDIO_BLOCKS; l++) {
                        fixture.put(n.replace("a.blk.1.", "a.blk." + l + "."), t.dims().length + " " + t.type());
                    }
                }
            }
        }
        assertThat(planned).isEqualTo(fixture);
    }

    @Test
    void makeDivisibleIsTimms() {
        assertThat(Gemma3nMmprojGenerator.makeDivisible(64 * 4.0)).isEqualTo(256);
        assertThat(Gemma3nMmprojGenerator.makeDivisible(20.0)).isEqualTo(24);
        assertThat(Gemma3nMmprojGenerator.option("mqa_r1_k3_h12_v2_s1_d64_c640", "h", 0)).isEqualTo(12);
        assertThat(Gemma3nMmprojGenerator.option("mqa_r1_k3_h16_s1_d96_c1280", "v", 1)).isEqualTo(1);
    }
}
