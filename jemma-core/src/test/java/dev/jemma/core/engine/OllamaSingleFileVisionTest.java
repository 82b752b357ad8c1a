package dev.jemma.core.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.chat.ChatImage;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.MultimodalFixtures;
import dev.jemma.core.vision.VisionTensorNames;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Ollama's single-file gemma3 GGUF: the text model with the vision tower inside, under {@code gemma3.vision.*} keys and
 * HF-derived tensor names (convert_gemma3.go). Built here from the fixtures' text GGUF and mmproj (same tensors, renamed),
 * it must give HF's greedy ids with no mmproj file.
 */
class OllamaSingleFileVisionTest {
    @TempDir
    Path dir;

    /** llama.cpp mmproj name → Ollama name. */
    static String ollamaName(String name) {
        VisionTensorNames a = VisionTensorNames.LLAMA_CPP, b = VisionTensorNames.OLLAMA;
        Map<String, String> whole = Map.of(a.patchWeight(), b.patchWeight(), a.patchBias(), b.patchBias(), a.positions(), b.positions(),
                a.postNormWeight(), b.postNormWeight(), a.postNormBias(), b.postNormBias(), a.softEmbNorm(), b.softEmbNorm(),
                a.inputProjection(), b.inputProjection());
        if (whole.containsKey(name)) return whole.get(name);
        String[] p = name.split("\\.");   // v.blk.N.part.suffix
        Map<String, String> parts = Map.of(a.ln1(), b.ln1(), a.ln2(), b.ln2(), a.q(), b.q(), a.k(), b.k(), a.v(), b.v(), a.o(), b.o(),
                a.fc1(), b.fc1(), a.fc2(), b.fc2());
        if (p.length != 5 || !parts.containsKey(p[3])) throw new AssertionError("unexpected mmproj tensor " + name);
        return b.block(Integer.parseInt(p[2]), parts.get(p[3]), p[4]);
    }

    /** VisionTensorNames.renameTo (what jemma convert --mmproj writes) agrees with the mapping above on every tensor. */
    @Test
    void renameToGivesOllamasNames() {
        JsonNode v = MultimodalFixtures.model().get("cases").get("square").get("variants").get("F32");
        try (GgufFile mm = GgufFile.open(MultimodalFixtures.file(v.get("mmproj_gguf").asText()))) {
            assertThat(mm.tensors()).isNotEmpty();
            for (String name : mm.tensors().keySet()) {
                assertThat(VisionTensorNames.LLAMA_CPP.renameTo(VisionTensorNames.OLLAMA, name)).as(name).isEqualTo(ollamaName(name));
            }
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> VisionTensorNames.LLAMA_CPP.renameTo(VisionTensorNames.OLLAMA, "v.blk.x.ln1.weight"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void visionTowerInsideTheModelFile() {
        JsonNode c = MultimodalFixtures.model().get("cases").get("square"), v = c.get("variants").get("F32");
        Path combined = dir.resolve("gemma3-ollama.gguf");
        try (GgufFile text = GgufFile.open(MultimodalFixtures.file(v.get("text_gguf").asText()));
             GgufFile mm = GgufFile.open(MultimodalFixtures.file(v.get("mmproj_gguf").asText()))) {
            GgufWriter w = new GgufWriter().copyMetadata(text);
            w.putU32("gemma3.vision.block_count", mm.requireInt("clip.vision.block_count"))
                    .putU32("gemma3.vision.embedding_length", mm.requireInt("clip.vision.embedding_length"))
                    .putU32("gemma3.vision.feed_forward_length", mm.requireInt("clip.vision.feed_forward_length"))
                    .putU32("gemma3.vision.image_size", mm.requireInt("clip.vision.image_size"))
                    .putU32("gemma3.vision.patch_size", mm.requireInt("clip.vision.patch_size"))
                    .putU32("gemma3.vision.num_channels", 3)
                    .putU32("gemma3.vision.attention.head_count", mm.requireInt("clip.vision.attention.head_count"))
                    .putF32("gemma3.vision.attention.layer_norm_epsilon", (float) mm.getDouble("clip.vision.attention.layer_norm_epsilon", 1e-6))
                    .putU32("gemma3.mm.tokens_per_image", 16);
            for (GgufFile f : List.of(text, mm)) {
                for (GgufTensorInfo t : f.tensors().values()) {
                    String name = f == mm ? ollamaName(t.name()) : t.name();
                    var data = f.tensorData(t);
                    w.addTensor(name, t.dims(), t.type(), out -> out.write(data.toArray(ValueLayout.JAVA_BYTE)));
                }
            }
            w.write(combined);
        }
        try (Engine e = Engine.load(combined, EngineOptions.builder().exact(true).threads(2).build()); Session s = e.newSession()) {
            assertThat(e.supportsImages()).isTrue();
            assertThat(e.visionFile()).isEqualTo(combined);
            assertThat(ModelCapabilities.probe(combined)).isEqualTo(ModelCapabilities.of(e));
            ChatImage png = ChatImage.read(MultimodalFixtures.file(c.get("images").get(0).asText()));
            Generation g = s.generate(List.of(ChatMessage.user("Describe this picture in one short sentence.", List.of(png))),
                    GenerationOptions.builder().temperature(0f).maxTokens(16).ignoreEos(true).build(), TokenListener.NONE);
            assertThat(g.tokens()).containsExactly(Fixtures.ints(v.get("greedy_ids")));
        }
    }
}
