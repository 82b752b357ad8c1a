package dev.jemma.cli;

import dev.jemma.core.testing.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.tools.gen.Gemma3Generator;
import dev.jemma.tools.gen.Gemma3Shape;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bad input through the real command line, in process: each damaged GGUF, a missing file, a directory and a model
 * that does not fit in memory give exactly one line "jemma: …" naming the file and the problem, a non-zero exit,
 * and no stack trace — for {@code jemma show} and {@code jemma logits}. Also {@code show} on good files.
 */
class BadInputTest {
    /** Tiny Gemma 3 shape: 2 layers (one global with period 6? no: both sliding), dim 64, rope scaling ×8. */
    private static final Gemma3Shape TINY = new Gemma3Shape("tiny", 7, 64, 2, 1, 32, 128, 8, 8f, 256);

    @TempDir
    Path dir;
    private Path good;
    private Path ids;
    private Path vocab;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream oldOut, oldErr;

    @BeforeEach
    void setUp() throws IOException {
        vocab = dir.resolve("vocab.gguf");
        CliTestSupport.tinyVocab().putString("general.name", "vocab only")
                .putString("tokenizer.chat_template", "{{ bos_token }}<start_of_turn>").write(vocab);
        good = dir.resolve("good.gguf");
        try (GgufFile v = GgufFile.open(vocab)) {
            Gemma3Generator.generate(new Gemma3Generator.Spec(TINY, "Q8_0", null, 11), v, good);
        }
        ids = Files.writeString(dir.resolve("ids.json"), "[2, 5, 7, 9]");
        oldOut = System.out;
        oldErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setOut(oldOut);
        System.setErr(oldErr);
        System.clearProperty("jemma.memory.available");
    }

    private int run(String... args) {
        out.reset();
        err.reset();
        return Main.run(args);
    }

    private String stderr() {
        return err.toString(StandardCharsets.UTF_8);
    }

    /** Runs show and logits on {@code file}; both must fail with one "jemma: …" line containing every {@code expected}. */
    private void assertOneLineError(Path file, String... expected) {
        String name = file.getFileName().toString();
        String[][] commands = {
                {"show", file.toString()},
                {"show", "--json", file.toString()},
                {"logits", file.toString(), "--ids-file", ids.toString(), "-o", dir.resolve("out.f32").toString()}};
        for (String[] cmd : commands) {
            int code = run(cmd);
            String e = stderr();
            String what = String.join(" ", cmd) + " → " + e;
            assertThat(code).as(what).isNotZero();
            assertThat(e.lines().toList()).as(what).hasSize(1);
            assertThat(e).as(what).startsWith("jemma: ").contains(name).doesNotContain("Exception").doesNotContain("\tat ")
                    .doesNotContain("internal error");
            for (String x : expected) assertThat(e).as(what).containsIgnoringCase(x);
            assertThat(out.toString(StandardCharsets.UTF_8)).as(what).isEmpty();
            assertThat(dir.resolve("out.f32")).doesNotExist();
        }
    }

    private Path damaged(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    private byte[] goodBytes() throws IOException {
        return Files.readAllBytes(good);
    }

    /** Offset of the byte after a tensor's name in the tensor-info table. */
    private static int afterName(byte[] b, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        outer:
        for (int i = 0; i + n.length <= b.length; i++) {
            for (int j = 0; j < n.length; j++) if (b[i + j] != n[j]) continue outer;
            return i + n.length;
        }
        throw new AssertionError(name);
    }

    private static final String T = "blk.1.ffn_up.weight";

    @Test
    void goodFileWorks() throws IOException {
        assertThat(run("show", good.toString())).as(stderr()).isZero();
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text).contains("gemma3").contains("layers").contains("7: 6 sliding (window 8) + 1 global [5]")
                .contains("linear scaling ×8").contains("memory plan").contains("Q8_0");
        assertThat(run("show", "--json", "-c", "128", good.toString())).isZero();
        JsonNode j = new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
        assertThat(j.get("architecture").asText()).isEqualTo("gemma3");
        assertThat(j.get("block_count").asInt()).isEqualTo(7);
        assertThat(j.get("vocab_size").asInt()).isEqualTo(100);
        assertThat(j.get("chat_template").asBoolean()).isTrue();
        assertThat(j.get("memory_plan").get("context_length").asInt()).isEqualTo(128);
        assertThat(j.get("memory_plan").get("kv_cache_bytes").asLong()).isEqualTo((6L * 8 + 128) * 32 * 2 * 4);
        assertThat(j.get("tensor_types").get("Q8_0").get("tensors").asInt()).isEqualTo(1 + 7 * 7);
        assertThat(run("logits", good.toString(), "--ids-file", ids.toString(), "-o", dir.resolve("l.f32").toString(), "--exact"))
                .as(stderr()).isZero();
        assertThat(Files.size(dir.resolve("l.f32"))).isEqualTo(4L * 4 * 100);
    }

    @Test
    void generateMmprojOfATextOnlySizeIsRefused() {
        Path o = dir.resolve("mmproj-1b.gguf");
        int code = run("generate", "--size", "1b", "--mmproj", "-o", o.toString());
        assertThat(code).isNotZero();
        assertThat(stderr().lines().toList()).singleElement().asString().startsWith("jemma: ").contains("--size 1b").contains("text-only");
        assertThat(o).doesNotExist();
    }

    @Test
    void vocabularyOnlyFile() {
        assertThat(run("show", vocab.toString())).as(stderr()).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("vocabulary only").contains("100 tokens");
    }

    @Test
    void showWorksOnEveryFixture() throws IOException {
        try (Stream<Path> s = Files.walk(Fixtures.shared())) {
            for (Path f : s.filter(x -> x.toString().endsWith(".gguf")).sorted().toList()) {
                assertThat(run("show", f.toString())).as(f + ": " + stderr()).isZero();
                assertThat(out.toString(StandardCharsets.UTF_8)).contains("architecture");
                assertThat(run("show", "--json", f.toString())).as(f + ": " + stderr()).isZero();
            }
        }
    }

    @Test
    void truncated() throws IOException {
        byte[] b = goodBytes();
        for (int cut : new int[]{0, 3, 10, 30, 200, b.length / 2, b.length - 1}) {
            assertOneLineError(damaged("cut" + cut + ".gguf", Arrays.copyOf(b, cut)));
        }
    }

    @Test
    void badMagic() throws IOException {
        byte[] b = goodBytes();
        b[0] = 'X';
        assertOneLineError(damaged("magic.gguf", b), "not a GGUF file", "magic");
    }

    @Test
    void unknownTensorType() throws IOException {
        byte[] b = goodBytes();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(afterName(b, T) + 4 + 16, 77);
        assertOneLineError(damaged("type.gguf", b), T, "unknown tensor type 77");
    }

    @Test
    void offsetPastTheEnd() throws IOException {
        byte[] b = goodBytes();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(afterName(b, T) + 4 + 16 + 4, 1L << 40);
        assertOneLineError(damaged("offset.gguf", b), T, "past the end");
    }

    @Test
    void overlappingTensors() throws IOException {
        byte[] b = goodBytes();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(afterName(b, T) + 4 + 16 + 4, 0);
        assertOneLineError(damaged("overlap.gguf", b), "overlap", T);
    }

    @Test
    void absurdDims() throws IOException {
        byte[] b = goodBytes();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(afterName(b, T) + 4, -5L);
        assertOneLineError(damaged("dims.gguf", b), T, "absurd");
        b = goodBytes();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(afterName(b, T) + 4 + 8, 1L << 39);
        assertOneLineError(damaged("dims2.gguf", b), T);
    }

    /** Rewrites the good file with edited metadata (tensors copied). */
    private Path rewritten(String name, Consumer<GgufWriter> edit) {
        Path p = dir.resolve(name);
        try (GgufFile f = GgufFile.open(good)) {
            GgufWriter w = new GgufWriter().copyMetadata(f);
            edit.accept(w);
            for (GgufTensorInfo t : f.tensors().values()) {
                w.addTensor(t.name(), t.dims(), t.type(), o -> o.write(f.tensorData(t).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(p);
        }
        return p;
    }

    @Test
    void missingRequiredKey() {
        assertOneLineError(rewritten("nokey.gguf", w -> w.remove("gemma3.embedding_length")), "missing required key gemma3.embedding_length");
        assertOneLineError(rewritten("noarch.gguf", w -> w.remove("general.architecture")), "general.architecture");
        assertOneLineError(rewritten("badval.gguf", w -> w.putString("gemma3.block_count", "many")), "gemma3.block_count");
    }

    /**
     * A valid GGUF of an architecture Jemma cannot run: {@code show} describes it (exit 0, "not supported" line, JSON
     * {@code "supported": false}); everything that loads the model refuses with one line.
     */
    @Test
    void wrongArchitecture() throws IOException {
        Path llama = rewritten("llama.gguf", w -> w.putString("general.architecture", "llama"));
        assertShownAsUnsupported(llama, "llama");
        assertRefusedToRun(llama, "'llama' is not supported", "supported: gemma3, gemma3n, gemma-embedding");
        // the generic summary does not touch the architecture's keys, so it does not need them
        Path bare = rewritten("bare.gguf", w -> w.putString("general.architecture", "llama").remove("gemma3.embedding_length"));
        assertShownAsUnsupported(bare, "llama");
        assertRefusedToRun(bare, "'llama' is not supported");
        assertThat(run("show", "--matformer", "e2b", llama.toString())).isNotZero();
        assertThat(stderr().lines().toList()).as(stderr()).hasSize(1);
        assertThat(stderr()).startsWith("jemma: ").contains("gemma3n models only");
    }

    /** Supported files say nothing about support in text (their output is unchanged) and "supported": true in JSON. */
    @Test
    void supportedFlagInJson() throws IOException {
        assertThat(run("show", good.toString())).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).doesNotContain("not supported").doesNotContain("inference");
        assertThat(run("show", "--json", good.toString())).isZero();
        JsonNode j = new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
        assertThat(j.get("supported").asBoolean()).isTrue();
        assertThat(j.has("inference")).isFalse();
    }

    /** {@code show} succeeds on {@code file} and says that Jemma cannot run its architecture {@code arch}. */
    private JsonNode assertShownAsUnsupported(Path file, String arch) throws IOException {
        return assertShownAsUnsupported(file, arch, "not supported by this version of Jemma \\(supported: gemma3, gemma3n, gemma-embedding\\)");
    }

    /** As above, with the {@code inference} line's text (a regex): an mmproj file says what it is for instead. */
    private JsonNode assertShownAsUnsupported(Path file, String arch, String inference) throws IOException {
        assertThat(run("show", file.toString())).as(file + ": " + stderr()).isZero();
        assertThat(stderr()).as(file.toString()).isEmpty();
        String text = out.toString(StandardCharsets.UTF_8);
        assertThat(text).as(text).contains("architecture").contains(arch).contains("parameters").contains("tensors")
                .containsPattern("(?m)^inference +(?:" + inference + ")$")
                .doesNotContain("memory plan");
        assertThat(run("show", "--json", file.toString())).as(file + ": " + stderr()).isZero();
        JsonNode j = new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
        assertThat(j.get("architecture").asText()).isEqualTo(arch);
        assertThat(j.get("supported").asBoolean(true)).isFalse();
        assertThat(j.get("inference").asText()).containsPattern(inference);
        long params = 0;
        try (GgufFile f = GgufFile.open(file)) {
            for (GgufTensorInfo t : f.tensors().values()) params += t.elementCount();
            assertThat(j.get("tensor_count").asInt()).isEqualTo(f.tensors().size());
        }
        assertThat(params).isPositive();
        assertThat(j.get("parameters").asLong()).isEqualTo(params);
        assertThat(j.get("tensor_types").size()).isPositive();
        assertThat(j.get("metadata").isObject()).isTrue();
        return j;
    }

    /** {@code run}, {@code bench} and {@code logits} refuse {@code file} with one "jemma: …" line naming it, non-zero exit. */
    private void assertRefusedToRun(Path file, String... expected) {
        String[][] commands = {
                {"run", file.toString(), "hello", "-n", "2"},
                {"bench", file.toString(), "-p", "4", "-n", "2", "-r", "1"},
                {"logits", file.toString(), "--ids-file", ids.toString(), "-o", dir.resolve("out.f32").toString()}};
        for (String[] cmd : commands) {
            int code = run(cmd);
            String e = stderr();
            String what = String.join(" ", cmd) + " → " + e;
            assertThat(code).as(what).isNotZero();
            assertThat(e.lines().toList()).as(what).hasSize(1);
            assertThat(e).as(what).startsWith("jemma: ").contains(file.getFileName().toString()).doesNotContain("Exception")
                    .doesNotContain("\tat ").doesNotContain("internal error");
            for (String x : expected) assertThat(e).as(what).contains(x);
            assertThat(out.toString(StandardCharsets.UTF_8)).as(what).isEmpty();
            assertThat(dir.resolve("out.f32")).doesNotExist();
        }
    }

    /** The first .gguf under fixtures/{@code sub} whose name matches {@code pattern}; the test is skipped when none. */
    private static Path fixture(String sub, String pattern) throws IOException {
        try (Stream<Path> s = Files.walk(Fixtures.shared().resolve(sub))) {
            Path f = s.filter(x -> x.getFileName().toString().matches(pattern)).sorted().findFirst().orElse(null);
            org.junit.jupiter.api.Assumptions.assumeTrue(f != null, "no " + pattern + " under fixtures/" + sub);
            return f;
        }
    }

    /** EmbeddingGemma (GGUF architecture gemma-embedding): shown with its pipeline, embedded, but never run as a chat model. */
    @Test
    void embeddingFixtureIsShownButNotRunAsAChatModel() throws IOException {
        Path f = fixture("embedding", "embgemma-tiny-.*\\.gguf");
        assertThat(run("show", "--json", f.toString())).as(stderr()).isZero();
        JsonNode j = new ObjectMapper().readTree(out.toString(StandardCharsets.UTF_8));
        assertThat(j.get("supported").asBoolean()).isTrue();
        assertThat(j.get("embedding").get("pooling").asText()).isEqualTo("mean");
        assertThat(j.get("embedding").get("dimension").asInt()).isEqualTo(64);
        assertThat(j.get("memory_plan").get("kv_cache_bytes").asLong()).isZero();
        assertRefusedToRun(f, "an embedding model", "jemma embed");
    }

    /** A multimodal projector (mmproj, GGUF architecture clip): shown, not run. */
    @Test
    void multimodalProjectorFixtureIsShownButNotRun() throws IOException {
        Path f = fixture("multimodal", "mmproj-.*\\.gguf");
        // a Gemma 3 or 3n projector is named and said to be used with its model (VisionCommandsTest#showDescribesMmprojFiles)
        JsonNode j = assertShownAsUnsupported(f, "clip", "the vision tower of a Gemma 3n? model( \\(MobileNet-V5\\))?: used with that model .*|not run by this version of Jemma .*");
        assertThat(j.get("projectors").get("vision").asText()).startsWith("gemma3");
        assertThat(out.toString(StandardCharsets.UTF_8)).isNotEmpty();
        assertThat(j.get("metadata").has("clip.has_vision_encoder")).isTrue();
        assertThat(run("show", f.toString())).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).containsPattern("(?m)^type +mmproj$");
        assertRefusedToRun(f, "'clip' is not supported");
    }

    @Test
    void shapeMismatch() {
        assertOneLineError(rewritten("shape.gguf", w -> w.putU32("gemma3.embedding_length", 96)), "embedding_length");
    }

    @Test
    void missingFileAndDirectory() {
        Path missing = dir.resolve("missing.gguf");
        assertOneLineError(missing, "no such");
        Path d = dir.resolve("adir.gguf");
        try {
            Files.createDirectory(d);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        assertOneLineError(d, "directory");
    }

    @Test
    void insufficientMemory() {
        System.setProperty("jemma.memory.available", "100000");
        int code = run("logits", good.toString(), "--ids-file", ids.toString(), "-o", dir.resolve("out.f32").toString());
        String e = stderr();
        assertThat(code).isNotZero();
        assertThat(e.lines().toList()).as(e).hasSize(1);
        assertThat(e).startsWith("jemma: good.gguf: needs ").contains("available").contains("weights");
        assertThat(dir.resolve("out.f32")).doesNotExist();
        // show reports the problem but still succeeds: it only describes the file
        assertThat(run("show", good.toString())).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("does NOT fit");
    }
}
