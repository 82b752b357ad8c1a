package dev.jemma.tools.quant;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.LogitStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** jemma convert on the fixtures' Hugging Face checkpoint: the same files llama.cpp's converter wrote. */
class HfConverterTest {
    /** The sharded copy made by tools/make_sharded_checkpoint.py (committed, so a fresh clone tests it). */
    static final Path SHARDED = Path.of("../tools/fixtures/gemma3-tiny-sharded");

    @TempDir
    Path tmp;

    @Test
    void everyOutTypeIsByteIdenticalToLlamaCppsConversion() throws IOException {
        Path dir = Fixtures.shared().resolve("gemma3-tiny");
        for (String t : new String[]{"F32", "F16", "BF16", "Q8_0"}) {
            Path out = tmp.resolve(t + ".gguf");
            HfConverter.convert(dir.resolve("hf"), out, HfConverter.OutType.parse(t), null);
            assertThat(Files.readAllBytes(out)).as(t).isEqualTo(Files.readAllBytes(dir.resolve("gemma3-tiny-" + t + ".gguf")));
        }
    }

    @Test
    void convertedF32MeetsTheExactLogitTolerance() {
        Path dir = Fixtures.shared().resolve("gemma3-tiny");
        Path out = tmp.resolve("f32.gguf");
        HfConverter.convert(dir.resolve("hf"), out, HfConverter.OutType.F32, null);
        JsonNode model = Fixtures.manifest().get("models").get("gemma3-tiny");
        for (String prompt : new String[]{"short", "long"}) {
            int[] ids = Fixtures.ints(model.get("prompts").get(prompt).get("ids"));
            float[] ref = Fixtures.readF32(dir.resolve("gemma3-tiny-F32." + prompt + ".logits.f32"));
            try (ThreadPool pool = new ThreadPool(2);
                 LanguageModel m = ModelLoader.load(out, new ModelLoader.Options(true, 2, 64), pool)) {
                KvCache cache = m.newCache(ids.length);
                float[] logits = m.forward(ids, 0, ids.length, cache, true);
                LogitStats s = LogitStats.compare(ref, logits, m.config().vocabSize());
                assertThat(s.maxAbs()).as(prompt).isLessThanOrEqualTo(1e-3);
            }
        }
    }

    @Test
    void shardedCheckpointGivesTheSameModel() {
        assertThat(SHARDED.resolve("model.safetensors.index.json")).exists();
        Path out = tmp.resolve("sharded-q8.gguf");
        HfConverter.convert(SHARDED, out, HfConverter.OutType.Q8_0, null);
        // the bundled Q8_0 fixture was written by llama.cpp's converter from the unsharded checkpoint
        Path ref = Fixtures.bundled().resolve("gemma3-tiny/gemma3-tiny-Q8_0.gguf");
        try (GgufFile a = GgufFile.open(out); GgufFile b = GgufFile.open(ref)) {
            assertThat(a.metadata().keySet()).isEqualTo(b.metadata().keySet());
            for (String k : b.metadata().keySet()) {
                if (k.equals("general.name")) continue; // derived from the directory name
                assertThat(Objects.deepEquals(a.get(k), b.get(k))).as(k).isTrue();
            }
            assertThat(a.tensors().keySet()).containsExactlyElementsOf(b.tensors().keySet());
            for (GgufTensorInfo t : b.tensors().values()) {
                GgufTensorInfo u = a.tensor(t.name());
                assertThat(u.type()).isEqualTo(t.type());
                assertThat(a.tensorData(u).toArray(ValueLayout.JAVA_BYTE)).as(t.name())
                        .isEqualTo(b.tensorData(t).toArray(ValueLayout.JAVA_BYTE));
            }
        }
    }

    @Test
    void badCheckpointsGiveOneLineErrorsAndNoOutput() throws IOException {
        Path out = tmp.resolve("x.gguf");
        assertThatThrownBy(() -> HfConverter.convert(tmp.resolve("nope"), out, HfConverter.OutType.F32, null))
                .isInstanceOf(JemmaException.class).hasMessageContaining("not a directory");
        Path d = Files.createDirectories(tmp.resolve("ckpt"));
        Files.writeString(d.resolve("config.json"), "{\"model_type\":\"llama\"}");
        assertThatThrownBy(() -> HfConverter.convert(d, out, HfConverter.OutType.F32, null))
                .isInstanceOf(JemmaException.class).hasMessageContaining("model_type 'llama'");
        for (String f : new String[]{"config.json", "tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(SHARDED.resolve(f), d.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        byte[] shard = Files.readAllBytes(SHARDED.resolve("model-00001-of-00002.safetensors"));
        Files.write(d.resolve("model.safetensors"), java.util.Arrays.copyOf(shard, shard.length / 2)); // truncated
        assertThatThrownBy(() -> HfConverter.convert(d, out, HfConverter.OutType.F32, null))
                .isInstanceOf(JemmaException.class).hasMessageContaining("exceed the file");
        assertThat(out).doesNotExist();
        assertThat(tmp.resolve("x.gguf.part")).doesNotExist();
    }
}
