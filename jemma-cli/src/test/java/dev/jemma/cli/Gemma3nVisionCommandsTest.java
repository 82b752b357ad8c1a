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
 * Gemma 3n images through the CLI (gemma3n-mm-tiny, case "image"): {@code logits --image} and {@code embed-image}
 * reproduce HF's references, {@code run --image} HF's greedy ids with the mmproj found beside the model, {@code show}
 * describes MobileNet-V5, and what Gemma 3n cannot do is one line.
 */
class Gemma3nVisionCommandsTest {
    static Path dir;
    static JsonNode image;

    @BeforeAll
    static void fixtures() throws IOException {
        dir = MultimodalFixtures.root();
        image = MultimodalFixtures.gemma3nCase("image");
    }

    private static String p(String rel) {
        return dir.resolve(rel).toString();
    }

    private static final String PNG = "gemma3n-mm-tiny/media/square-224x224.png";


    private static double maxAbs(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    @Test
    void logitsAndEmbedImageMatchHf(@TempDir Path tmp) throws IOException {
        JsonNode v = image.get("variant");
        Path ids = Files.writeString(tmp.resolve("ids.json"), image.get("prompt").get("ids").toString());
        Path out = tmp.resolve("logits.f32");
        var r = CliTestSupport.run(null, "logits", p(v.get("text_gguf").asText()), "--mmproj", p(v.get("mmproj_gguf").asText()),
                "--image", p(PNG), "--ids-file", ids.toString(), "-o", out.toString(), "--exact", "-t", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxAbs(Fixtures.readF32(dir.resolve(v.get("logits").get("file").asText())), Fixtures.readF32(out))).isLessThanOrEqualTo(1e-2);
        Path embd = tmp.resolve("embd.f32");
        r = CliTestSupport.run(null, "embed-image", p(v.get("text_gguf").asText()), p(PNG), "-o", embd.toString(), "-t", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxAbs(Fixtures.readF32(dir.resolve(v.get("soft_token_embeddings").get("file").asText())), Fixtures.readF32(embd))).isLessThanOrEqualTo(1e-3);
    }

    /**
     * The conformance tools that encode images (logits --image) check the with-images plan, as the engine does: a heap
     * with room for the text model but not for an image's encoding refuses in one line naming it, where the same
     * logits without an image run. Mutation caught: VisionModel.open checking the text plan alone (the run goes through).
     */
    @Test
    void logitsWithAnImageChecksTheHeapAnEncodingHolds(@TempDir Path tmp) throws IOException {
        JsonNode v = image.get("variant");
        Path ids = Files.writeString(tmp.resolve("ids.json"), image.get("prompt").get("ids").toString());
        Path text = dir.resolve(v.get("text_gguf").asText()), mmproj = dir.resolve(v.get("mmproj_gguf").asText());
        long heap, scratch;
        try (var f = dev.jemma.core.gguf.GgufFile.open(text); var pool = new dev.jemma.core.tensor.ThreadPool(1);
             var enc = VisionModel.encoder(f, text, mmproj, new dev.jemma.core.model.ModelLoader.Options(true, 1, 64), pool)) {
            int n = image.get("prompt").get("ids").size();
            heap = dev.jemma.core.model.ModelLoader.plan(f, new dev.jemma.core.model.ModelLoader.Options(true, 2, 64, null).withContextLength(n)).heapNeeded();
            scratch = enc.scratchBytes();
        }
        System.setProperty("jemma.memory.heap", String.valueOf(heap + scratch / 2));
        try {
            var r = CliTestSupport.run(null, "logits", text.toString(), "--ids-file", ids.toString(), "-o", tmp.resolve("a.f32").toString(),
                    "--exact", "-t", "2");
            assertThat(r.exitCode()).as(r.err()).isZero();
            r = CliTestSupport.run(null, "logits", text.toString(), "--mmproj", mmproj.toString(), "--image", p(PNG), "--ids-file", ids.toString(),
                    "-o", tmp.resolve("b.f32").toString(), "--exact", "-t", "2");
            assertThat(r.exitCode()).isNotZero();
            assertThat(r.err()).contains("an image's encoding").contains("of Java heap").hasLineCount(1);
        } finally {
            System.clearProperty("jemma.memory.heap");
        }
    }

    @Test
    void runWithAnImageGivesHfsGreedyIds() {
        JsonNode v = image.get("variant");
        String expected = v.get("greedy_ids").toString().replace(",", ", ");
        String content = image.get("prompt").get("content").asText().substring("<image_soft_token>".length());
        var r = CliTestSupport.run(null, "run", p(v.get("text_gguf").asText()), "--image", p(PNG), "--temp", "0", "-n", "16",
                "--ignore-eos", "--ids", "--exact", "-t", "2", content);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo(expected);
    }

    @Test
    void showAndWhatGemma3nCannotDo(@TempDir Path tmp) {
        JsonNode v = image.get("variant");
        var r = CliTestSupport.run(null, "show", p(v.get("text_gguf").asText()));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("MobileNet-V5 (0.43M parameters), 768 px, stages of 1/2/4/3 blocks").contains("embedded to 64")
                .contains("fusion (MSFA): stages 2+3 at 48×48, 80→160→2048");
        r = CliTestSupport.run(null, "embed-image", p(v.get("text_gguf").asText()), p(PNG), "--pan-and-scan", "-o", tmp.resolve("x.f32").toString(), "-t", "2");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err().strip()).contains("--pan-and-scan is Gemma 3's").doesNotContain("\n");
        r = CliTestSupport.run(null, "embed-image", p(v.get("mmproj_gguf").asText()), p(PNG), "-o", tmp.resolve("x.f32").toString(), "-t", "2");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err().strip()).contains("is a Gemma 3n mmproj").contains("--mmproj").doesNotContain("\n");
        assertThat(tmp.resolve("x.f32")).doesNotExist();
    }

    /**
     * show names the interleaved copy of MobileNet-V5's matrices that the first image builds (the text model's memory
     * plan leaves it out): its file, to the byte what the first image then writes, built or not; --exact has none.
     * Mutations caught: no copy planned (no weight_copy), the text weights' cache part (another file name), --exact ignored.
     */
    @Test
    void showNamesTheCopyTheFirstImageBuilds(@TempDir Path cache, @TempDir Path tmp) throws IOException {
        JsonNode v = image.get("variant");
        String model = p(v.get("text_gguf").asText());
        String previous = System.getProperty("jemma.cache.dir");
        System.setProperty("jemma.cache.dir", cache.toString());
        try {
            var before = CliTestSupport.run(null, "show", model, "--json");
            assertThat(before.exitCode()).as(before.err()).isZero();
            JsonNode copy = new ObjectMapper().readTree(before.out()).path("vision").path("weight_copy");
            assertThat(copy.path("present").asBoolean()).isFalse();
            assertThat(copy.path("bytes").asLong()).isPositive();
            Path file = Path.of(copy.path("file").asText());
            assertThat(file.getParent()).isEqualTo(cache);
            assertThat(CliTestSupport.run(null, "show", model).out()).contains("the first image adds an interleaved copy of its matrices")
                    .contains(file + " (not built yet");

            var r = CliTestSupport.run(null, "embed-image", model, p(PNG), "-o", tmp.resolve("x.f32").toString(), "-t", "2");
            assertThat(r.exitCode()).as(r.err()).isZero();
            assertThat(Files.size(file)).isEqualTo(copy.path("bytes").asLong());
            assertThat(CliTestSupport.run(null, "show", model).out()).contains(file + " (built)");

            var exact = CliTestSupport.run(null, "show", model, "--exact", "--json");
            assertThat(new ObjectMapper().readTree(exact.out()).path("vision").has("weight_copy")).isFalse();
        } finally {
            if (previous != null) System.setProperty("jemma.cache.dir", previous);
            else System.clearProperty("jemma.cache.dir");
        }
    }

    @Test
    void benchTimesMobileNetEncoding() throws IOException {
        JsonNode v = image.get("variant");
        var r = CliTestSupport.run(null, "bench", p(v.get("text_gguf").asText()), "-p", "0", "-n", "0", "-r", "1", "-t", "2", "--json",
                "--image", p(PNG));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(new ObjectMapper().readTree(r.out()).path("image_encode_seconds").asDouble()).isPositive();
    }

    @Test
    void chatTakesSlashImage() {
        JsonNode v = image.get("variant");
        String input = "/image " + p(PNG) + "\nWhat is in the image?\n/bye\n";
        var r = CliTestSupport.run(input, "chat", p(v.get("text_gguf").asText()), "--temp", "0", "-n", "4", "-t", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("Added image");
    }

    @Test
    void chatTakesSlashImageAndSlashAudioInOneMessageAndAcrossTurns() {
        JsonNode v = image.get("variant");
        String wav = p("gemma3n-mm-tiny/media/mix-2.5s-16k.wav");
        String input = "/image " + p(PNG) + "\n/audio " + wav + "\nWhat do you see and hear?\n"
                + "/image " + p(PNG) + "\nAnd now?\n/audio " + wav + "\nAnd this?\n/bye\n";
        var r = CliTestSupport.run(input, "chat", p(v.get("text_gguf").asText()), "--temp", "0", "-n", "4", "-t", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("Added image").contains("Added " + wav + " to the next message.").doesNotContain("jemma:");
    }
}
