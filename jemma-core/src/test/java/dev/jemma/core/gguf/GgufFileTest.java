package dev.jemma.core.gguf;

import dev.jemma.core.JemmaException;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** GGUF parsing: round trip through the writer, and a clear one-line error for each kind of damaged file. */
class GgufFileTest {
    @TempDir
    Path dir;

    private static GgufWriter small() {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "gemma3").putU32("gemma3.block_count", 1).putF32("some.float", 1.5f)
                .putBool("some.bool", true).putStrings("tokenizer.ggml.tokens", new String[]{"a", "b", "ç"})
                .putFloats("tokenizer.ggml.scores", new float[]{0f, -1f, -2f}).putInts("some.ints", new int[]{1, -2, 3});
        w.addTensor("t0", new long[]{32, 2}, GgmlType.F32, out -> out.write(new byte[32 * 2 * 4]));
        w.addTensor("t1", new long[]{64}, GgmlType.Q8_0, out -> out.write(new byte[68]));
        return w;
    }

    private Path write(GgufWriter w) {
        Path p = dir.resolve("m.gguf");
        w.write(p);
        return p;
    }

    @Test
    void roundTripsMetadataAndTensors() {
        Path p = write(small());
        try (GgufFile f = GgufFile.open(p)) {
            assertThat(f.version()).isEqualTo(3);
            assertThat(f.getString("general.architecture")).isEqualTo("gemma3");
            assertThat(f.getInt("gemma3.block_count", 0)).isEqualTo(1);
            assertThat(f.getDouble("some.float", 0)).isEqualTo(1.5);
            assertThat(f.getBool("some.bool", false)).isTrue();
            assertThat(f.getStringArray("tokenizer.ggml.tokens")).containsExactly("a", "b", "ç");
            assertThat(f.getFloatArray("tokenizer.ggml.scores")).containsExactly(0f, -1f, -2f);
            assertThat(f.getIntArray("some.ints")).containsExactly(1, -2, 3);
            assertThat(f.tensors()).containsOnlyKeys("t0", "t1");
            assertThat(f.tensor("t1").byteSize()).isEqualTo(68);
            assertThat(f.tensor("t1").offset() % f.alignment()).isZero();
            assertThat(f.valueType("gemma3.block_count")).containsExactly(GgufValueType.UINT32);
        }
    }

    @Test
    void readsTheFixtureModels() {
        Path root = Fixtures.any();
        try (GgufFile f = GgufFile.open(root.resolve("gemma3-tiny/gemma3-tiny-Q8_0.gguf"))) {
            assertThat(f.getString("general.architecture")).isEqualTo("gemma3");
            assertThat(f.getStringArray("tokenizer.ggml.tokens")).hasSize(1000);
            assertThat(f.tensor("token_embd.weight").dims()).containsExactly(64, 1000);
        }
    }

    @Test
    void rewritingKeepsTypes() {
        Path p = write(small());
        Path q = dir.resolve("copy.gguf");
        try (GgufFile f = GgufFile.open(p)) {
            new GgufWriter().copyMetadata(f).write(q);
        }
        try (GgufFile f = GgufFile.open(q)) {
            assertThat(f.valueType("tokenizer.ggml.scores")).containsExactly(GgufValueType.ARRAY, GgufValueType.FLOAT32);
            assertThat(f.getStringArray("tokenizer.ggml.tokens")).containsExactly("a", "b", "ç");
        }
    }

    private String errorOf(byte[] bytes) throws IOException {
        Path p = dir.resolve("bad.gguf");
        Files.write(p, bytes);
        try (GgufFile ignored = GgufFile.open(p)) {
            throw new AssertionError("no error for a damaged file");
        } catch (JemmaException e) {
            assertThat(e.getMessage()).doesNotContain("\n").startsWith("bad.gguf: ");
            return e.getMessage();
        }
    }

    private byte[] bytes() throws IOException {
        return Files.readAllBytes(write(small()));
    }

    /** Position of the first occurrence of {@code needle} in the file (to patch a field in place). */
    private static int indexOf(byte[] hay, String needle) {
        byte[] n = needle.getBytes();
        outer:
        for (int i = 0; i + n.length <= hay.length; i++) {
            for (int j = 0; j < n.length; j++) if (hay[i + j] != n[j]) continue outer;
            return i;
        }
        throw new AssertionError(needle);
    }

    @Test
    void truncatedFile() throws IOException {
        byte[] b = bytes();
        for (int cut : new int[]{3, 10, 30, 100, b.length - 1}) {
            assertThat(errorOf(Arrays.copyOf(b, cut))).containsAnyOf("truncated", "too small", "past the end", "cannot fit");
        }
    }

    @Test
    void badMagic() throws IOException {
        byte[] b = bytes();
        b[0] = 'X';
        assertThat(errorOf(b)).contains("not a GGUF file").contains("magic");
    }

    @Test
    void unsupportedVersion() throws IOException {
        byte[] b = bytes();
        b[4] = 9;
        assertThat(errorOf(b)).contains("version 9");
    }

    @Test
    void unknownTensorType() throws IOException {
        byte[] b = bytes();
        // t1 info: name, n_dims u32, dims, type u32
        int at = indexOf(b, "t1") + 2 + 4 + 8;
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at, 77);
        assertThat(errorOf(b)).contains("tensor t1").contains("unknown tensor type 77");
    }

    @Test
    void offsetPastTheEnd() throws IOException {
        byte[] b = bytes();
        int at = indexOf(b, "t1") + 2 + 4 + 8 + 4;
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at, 1L << 40);
        assertThat(errorOf(b)).contains("tensor t1").contains("past the end");
    }

    @Test
    void overlappingTensors() throws IOException {
        byte[] b = bytes();
        int at = indexOf(b, "t1") + 2 + 4 + 8 + 4;
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at, 32);
        assertThat(errorOf(b)).contains("overlap").contains("t0").contains("t1");
    }

    @Test
    void absurdDims() throws IOException {
        byte[] b = bytes();
        int at = indexOf(b, "t1") + 2 + 4;
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at, -5L);
        assertThat(errorOf(b)).contains("tensor t1").contains("absurd");
    }

    @Test
    void absurdCounts() throws IOException {
        byte[] b = bytes();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(8, 1L << 50);
        assertThat(errorOf(b)).contains("tensor_count");
        b = bytes();
        int at = indexOf(b, "tokenizer.ggml.tokens") + "tokenizer.ggml.tokens".length() + 4 + 4;
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at, 1L << 40);
        assertThat(errorOf(b)).contains("tokenizer.ggml.tokens").contains("array length");
    }

    @Test
    void missingRequiredKeyAndWrongArchitecture() {
        Path p = write(small());
        assertThatThrownBy(() -> ModelLoader.load(p, ModelLoader.Options.defaults(), null))
                .isInstanceOf(JemmaException.class).hasMessageContaining("m.gguf").hasMessageContaining("gemma3.embedding_length");
        GgufWriter w = small();
        w.putString("general.architecture", "llama");
        Path q = write(w);
        assertThatThrownBy(() -> ModelLoader.load(q, ModelLoader.Options.defaults(), null))
                .isInstanceOf(JemmaException.class).hasMessageContaining("'llama' is not supported");
        GgufWriter none = small();
        none.remove("general.architecture");
        Path r = write(none);
        assertThatThrownBy(() -> ModelLoader.load(r, ModelLoader.Options.defaults(), null))
                .isInstanceOf(JemmaException.class).hasMessageContaining("general.architecture");
    }

    @Test
    void missingFileAndDirectory() {
        assertThatThrownBy(() -> GgufFile.open(dir.resolve("nope.gguf"))).hasMessageContaining("no such file");
        assertThatThrownBy(() -> GgufFile.open(dir)).hasMessageContaining("directory");
        assertThat(dir.resolve("bad.gguf.part")).doesNotExist();
    }

    @Test
    void readsVersion2() throws IOException {
        byte[] b = bytes();
        b[4] = 2;
        try (GgufFile f = GgufFile.open(Files.write(dir.resolve("v2.gguf"), b))) {
            assertThat(f.version()).isEqualTo(2);
        }
    }
}
