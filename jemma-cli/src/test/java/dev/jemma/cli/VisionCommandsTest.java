package dev.jemma.cli;

import dev.jemma.core.testing.MultimodalFixtures;
import dev.jemma.core.testing.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The vision conformance tools and image flags against the multimodal fixtures: {@code logits --image} and
 * {@code embed-image} reproduce HF's references, {@code run --image --raw --ids --exact} its greedy ids, {@code chat}
 * takes {@code /image}, {@code show} reports the tower, and bad images get one line and a non-zero exit.
 */
class VisionCommandsTest {
    static Path dir;
    static JsonNode manifest;

    @BeforeAll
    static void fixtures() throws IOException {
        dir = MultimodalFixtures.root();
        manifest = MultimodalFixtures.model();
    }

    private static String p(String rel) {
        return dir.resolve(rel).toString();
    }


    /** A PNG signature and an IHDR chunk (valid CRC) claiming w × h, then nothing. */
    private static byte[] pngHeader(int w, int h) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + 25);
        b.put(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'}).putInt(13);
        int crcFrom = b.position();
        b.put(new byte[]{'I', 'H', 'D', 'R'}).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(b.array(), crcFrom, 17);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    private static double maxAbs(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    @Test
    void logitsWithImagesMatchHf(@TempDir Path tmp) throws IOException {
        JsonNode c = manifest.get("cases").get("wide_pas"), v = c.get("variants").get("F32");
        Path ids = Files.writeString(tmp.resolve("ids.json"), c.get("prompt").get("ids").toString());
        Path out = tmp.resolve("out.f32");
        var r = CliTestSupport.run(null, "logits", p(v.get("text_gguf").asText()), "--mmproj", p(v.get("mmproj_gguf").asText()),
                "--image", p(c.get("images").get(0).asText()), "--pan-and-scan", "--ids-file", ids.toString(), "-o", out.toString(), "--exact", "-t", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxAbs(Fixtures.readF32(dir.resolve(v.get("logits").get("file").asText())), Fixtures.readF32(out))).isLessThanOrEqualTo(1e-3);
        // without --pan-and-scan the prompt has three runs too many: one line, no output file
        Path none = tmp.resolve("none.f32");
        r = CliTestSupport.run(null, "logits", p(v.get("text_gguf").asText()), "--mmproj", p(v.get("mmproj_gguf").asText()),
                "--image", p(c.get("images").get(0).asText()), "--ids-file", ids.toString(), "-o", none.toString(), "-t", "2");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err()).contains("4 image soft-token run(s)").contains("1 image(s)");
        assertThat(none).doesNotExist();
    }

    @Test
    void embedImageWritesTheProjectorOutput(@TempDir Path tmp) throws IOException {
        JsonNode c = manifest.get("cases").get("wide"), v = c.get("variants").get("Q8_0");
        Path out = tmp.resolve("embd.f32");
        var r = CliTestSupport.run(null, "embed-image", p(v.get("text_gguf").asText()), "--mmproj", p(v.get("mmproj_gguf").asText()),
                p(c.get("images").get(0).asText()), "-o", out.toString(), "--exact", "-t", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxAbs(Fixtures.readF32(dir.resolve(v.get("image_embeddings").get("file").asText())), Fixtures.readF32(out))).isLessThanOrEqualTo(2e-4);
    }

    @Test
    void runWithAnImageGivesHfsGreedyIds() {
        JsonNode c = manifest.get("cases").get("square"), v = c.get("variants").get("F32");
        String expected = v.get("greedy_ids").toString().replace(",", ", ");
        // chat template; the mmproj beside the model is found by itself
        var r = CliTestSupport.run(null, "run", p(v.get("text_gguf").asText()), "--image", p(c.get("images").get(0).asText()),
                "--temp", "0", "-n", "16", "--ignore-eos", "--ids", "--exact", "-t", "2", "Describe this picture in one short sentence.");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo(expected);
        // --raw: the prompt text as the fixture gives it (its literal <bos> aside: run adds BOS itself)
        String raw = c.get("prompt").get("text").asText().substring("<bos>".length());
        r = CliTestSupport.run(raw, "run", p(v.get("text_gguf").asText()), "--mmproj", p(v.get("mmproj_gguf").asText()),
                "--image", p(c.get("images").get(0).asText()), "--raw", "--temp", "0", "-n", "16", "--ignore-eos", "--ids", "--exact", "-t", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo(expected);
    }

    /**
     * The same answer through the engine, {@code run} (one and two {@code --image}) and {@code chat}'s {@code /image}:
     * greedy, 12 tokens, the chat template, the mmproj found beside the model.
     */
    @Test
    void runAndChatAnswerAsTheEngine() throws Exception {
        JsonNode v = manifest.get("cases").get("square").get("variants").get("F32");
        Path model = Path.of(p(v.get("text_gguf").asText()));
        Path square = Path.of(p("gemma3-vision-tiny/media/square-224x224.png")), wide = Path.of(p("gemma3-vision-tiny/media/wide-960x320.png"));
        String q = "Describe this picture in one short sentence.";
        String one, two;
        var greedy = dev.jemma.core.engine.GenerationOptions.builder().temperature(0f).maxTokens(12).build();
        try (var e = dev.jemma.core.engine.Engine.load(model, dev.jemma.core.engine.EngineOptions.builder().threads(2).build());
             var s = e.newSession()) {
            one = s.generate(java.util.List.of(dev.jemma.core.chat.ChatMessage.user(q, java.util.List.of(dev.jemma.core.chat.ChatImage.read(square)))),
                    greedy, dev.jemma.core.engine.TokenListener.NONE).text();
            s.clear();
            two = s.generate(java.util.List.of(dev.jemma.core.chat.ChatMessage.user(q, java.util.List.of(dev.jemma.core.chat.ChatImage.read(square),
                    dev.jemma.core.chat.ChatImage.read(wide)))), greedy, dev.jemma.core.engine.TokenListener.NONE).text();
        }
        assertThat(one.strip()).isNotEmpty();
        var r = CliTestSupport.run(null, "run", model.toString(), "--image", square.toString(), "--temp", "0", "-n", "12", "-t", "2", q);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo(one.strip());
        r = CliTestSupport.run(null, "run", model.toString(), "--image", square.toString(), "--image", wide.toString(), "--temp", "0",
                "-n", "12", "-t", "2", q);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo(two.strip());
        r = CliTestSupport.run("/image " + square + "\n" + q + "\n/bye\n", "chat", model.toString(), "--temp", "0", "-n", "12", "-t", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("Added image").contains(one.strip());
    }

    @Test
    void chatTakesSlashImage() {
        JsonNode c = manifest.get("cases").get("square"), v = c.get("variants").get("F32");
        String input = "/image " + p(c.get("images").get(0).asText()) + "\nDescribe this picture in one short sentence.\n/image /no/such.png\n/bye\n";
        var r = CliTestSupport.run(input, "chat", p(v.get("text_gguf").asText()), "--temp", "0", "-n", "4", "-t", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("Added image").contains("/no/such.png: no such image file").doesNotContain("jemma:");
    }

    @Test
    void benchTimesImageEncoding() throws IOException {
        JsonNode v = manifest.get("cases").get("square").get("variants").get("F32");
        var r = CliTestSupport.run(null, "bench", p(v.get("text_gguf").asText()), "-p", "0", "-n", "0", "-r", "1", "-t", "2", "--json",
                "--image", p("gemma3-vision-tiny/media/square-224x224.png"));
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.path("image_encode_seconds").asDouble()).isPositive();
        assertThat(o.path("image_encode_cpu_seconds").asDouble()).isPositive();
    }

    @Test
    void badImagesAndShow(@TempDir Path tmp) throws IOException {
        JsonNode v = manifest.get("cases").get("square").get("variants").get("F32");
        Path fake = Files.writeString(tmp.resolve("notes.png"), "just text");
        var r = CliTestSupport.run(null, "run", p(v.get("text_gguf").asText()), "--image", fake.toString(), "-n", "2", "-t", "2", "hi");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err().strip()).startsWith("jemma: ").contains("notes.png: not a supported image").doesNotContain("\n").doesNotContain("Exception");
        // the other bad images, each one line: truncated, zero-size, a 20 000-pixel side (header only: no memory
        // is spent on it), an empty file
        byte[] png = Files.readAllBytes(Path.of(p("gemma3-vision-tiny/media/square-224x224.png")));
        Path half = Files.write(tmp.resolve("half.png"), java.util.Arrays.copyOf(png, png.length / 2));
        Path zero = Files.write(tmp.resolve("zero.png"), pngHeader(0, 10));
        Path huge = Files.write(tmp.resolve("huge.png"), pngHeader(20_000, 20_000));
        Path empty = Files.write(tmp.resolve("empty.png"), new byte[0]);
        for (var bad : java.util.Map.of(half, "half.png: truncated or corrupt", zero, "zero.png: ", huge,
                "huge.png: the PNG image is 20000×20000 pixels, more than the limit", empty, "empty.png: the image is empty").entrySet()) {
            r = CliTestSupport.run(null, "run", p(v.get("text_gguf").asText()), "--image", bad.getKey().toString(), "-n", "2", "-t", "2", "hi");
            assertThat(r.exitCode()).as(bad.getValue()).isNotZero();
            assertThat(r.err().strip()).as(bad.getValue()).startsWith("jemma: ").contains(bad.getValue()).doesNotContain("\n")
                    .doesNotContain("Exception").doesNotContain("OutOfMemory");
        }
        r = CliTestSupport.run(null, "run", RunCommandTest.TINY, "--image", p("gemma3-vision-tiny/media/square-224x224.png"), "-n", "2", "-t", "2", "hi");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err()).contains("no vision tower");
        r = CliTestSupport.run(null, "show", p(v.get("text_gguf").asText()));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("SigLIP 3 layers, width 128").contains("16 tokens per image").contains("mmproj-gemma3-vision-tiny-F32.gguf");
    }

    @Test
    void showDescribesMmprojFiles() {
        // a Gemma 3 mmproj on its own: what it is for, and its tower
        var r = CliTestSupport.run(null, "show", p("gemma3-vision-tiny/mmproj-gemma3-vision-tiny-F16.gguf"));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("vision gemma3 (Gemma 3").contains("the vision tower of a Gemma 3 model").contains("SigLIP 3 layers");
        // Gemma 3n's (vision + audio): named, sized and listed, and its MobileNet-V5 described
        String mm3n = p("gemma3n-mm-tiny/mmproj-gemma3n-mm-tiny-F16.gguf");
        r = CliTestSupport.run(null, "show", mm3n);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("vision gemma3nv").contains("audio gemma3na").contains("134: F16 ×62").contains("1.7 MB")
                .contains("the vision tower of a Gemma 3n model").contains("MobileNet-V5 (0.43M parameters), 768 px, stages of 1/2/4/3 blocks");
        r = CliTestSupport.run(null, "show", "--json", mm3n);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("\"projectors\"").contains("\"vision\" : \"gemma3nv\"").contains("\"audio\" : \"gemma3na\"");
    }
}
