package dev.jemma.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One GGUF with the encoders inside ({@code jemma convert MODEL.gguf --mmproj MMPROJ.gguf -o ONE.gguf}): made from the
 * fixtures' pairs, it must compute exactly what the pair computes — the same bytes out of every conformance command —
 * with no mmproj beside it. Also {@code jemma logits} with an image and a clip in one id list.
 */
class SingleFileCommandsTest {
    @TempDir
    static Path tmp;
    private static Path fixtures, text, mmproj, one, png, wav;
    private static JsonNode image, audio;

    @BeforeAll
    static void merge() throws IOException {
        fixtures = MultimodalFixtures.root();
        image = MultimodalFixtures.gemma3nCase("image");
        audio = MultimodalFixtures.gemma3nCase("audio");
        text = fixtures.resolve(image.get("variant").get("text_gguf").asText());
        mmproj = fixtures.resolve(image.get("variant").get("mmproj_gguf").asText());
        png = fixtures.resolve(image.get("media").get(0).asText());
        wav = fixtures.resolve(audio.get("media").get(0).asText());
        // alone in its folder: whatever it sees, it sees from inside the file
        one = Files.createDirectories(tmp.resolve("solo")).resolve("gemma3n-one.gguf");
        var r = CliTestSupport.run(null, "convert", text.toString(), "--mmproj", mmproj.toString(), "-o", one.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("gemma3n with its vision (MobileNet-V5) + audio (USM conformer) inside");
    }

    private static String s(Path p) {
        return p.toString();
    }

    /** Runs a command that writes {@code -o} (f32), once for the pair and once for the single file; returns both outputs. */
    private static float[][] pairAndOne(String command, String name, String... args) throws IOException {
        float[][] out = new float[2][];
        for (int k = 0; k < 2; k++) {
            Path o = tmp.resolve(name + (k == 0 ? ".pair" : ".one") + ".f32");
            List<String> a = new ArrayList<>(List.of(command, s(k == 0 ? text : one)));
            if (k == 0) a.addAll(List.of("--mmproj", s(mmproj)));
            a.addAll(List.of(args));
            a.addAll(List.of("-o", s(o), "-t", "2"));
            var r = CliTestSupport.run(null, a.toArray(String[]::new));
            assertThat(r.exitCode()).as(String.join(" ", a) + ": " + r.err()).isZero();
            out[k] = Fixtures.readF32(o);
        }
        assertThat(out[0].length).isPositive();
        return out;
    }

    private static Path ids(String name, int[] ids) throws IOException {
        Path p = tmp.resolve(name + ".json");
        Files.writeString(p, new ObjectMapper().writeValueAsString(ids));
        return p;
    }

    @Test
    void showReportsBothTowersInsideTheFile() {
        var r = CliTestSupport.run(null, "show", s(one));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("MobileNet-V5 (0.43M parameters)", "embedded to 64 — inside the model file",
                "USM conformer 2 blocks, width 64, 4 heads, 128 mel bins", "inside the model file");
        // the vision tower's copy has a cache file of its own, apart from the text weights' (mutation: the text weights' part)
        assertThat(r.out()).containsPattern("the first image adds an interleaved copy of its matrices, .*, in .*gemma3n-one\\.gguf-[0-9a-f]+\\.vision\\.");
        // the plan of a run given images (serve, chat, run --image) counts that copy beside the text model's plan
        // (mutation: the text plan's total again)
        // and the heap an image's encoding holds (mutation: left out of the line)
        assertThat(r.out()).containsPattern("with images \\(jemma serve, jemma chat, jemma run --image\\): memory plan .* \\+ vision copy .* \\+ an image's encoding .* \\(heap\\) = .* → fits");
        var json = CliTestSupport.run(null, "show", s(one), "--json");
        assertThat(json.exitCode()).as(json.err()).isZero();
        try {
            JsonNode d = new ObjectMapper().readTree(json.out());
            long copy = d.path("vision").path("weight_copy").path("bytes").asLong();
            assertThat(copy).isPositive();
            JsonNode withImages = d.path("vision").path("memory_plan_with_images");
            assertThat(withImages.path("vision_copy_bytes").asLong()).isEqualTo(copy);
            long scratch = d.path("vision").path("encode_scratch_bytes").asLong();
            assertThat(scratch).isPositive();
            assertThat(withImages.path("image_scratch_bytes").asLong()).isEqualTo(scratch);
            assertThat(withImages.path("total_bytes").asLong()).isEqualTo(d.path("memory_plan").path("total_bytes").asLong() + copy + scratch);
            assertThat(withImages.path("fits").asBoolean()).isTrue();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        // the towers are the encoders' weights, not the text model's: the plan is the text file's
        var pair = CliTestSupport.run(null, "show", s(text), "--mmproj", s(mmproj));
        String plan = r.out().lines().filter(l -> l.startsWith("memory plan")).findFirst().orElseThrow();
        assertThat(pair.out()).contains(plan);
        try (GgufFile f = GgufFile.open(one)) {
            assertThat(f.getString("gemma3n.vision.projector_type")).isEqualTo("gemma3nv");
            assertThat(f.getString("gemma3n.audio.projector_type")).isEqualTo("gemma3na");
            assertThat(f.has("clip.vision.image_size")).isFalse();
            assertThat(f.tensor("a.conv1d.0.weight")).isNotNull();
            assertThat(f.tensor("mm.a.embedding.weight")).isNotNull();
        }
    }

    /*
     * The single file holds the pair's bytes (checked tensor by tensor and key by key below), so it computes what the pair
     * computes. Outputs are not compared byte for byte, because Jemma's numbers are not bit-reproducible from one run to
     * the next even for one file, in --exact too: the vector kernels' lane reductions round differently before and after
     * the JIT compiles them. Measured on this fixture, two runs of the same pair: MobileNet-V5 embeddings 2-3e-6 apart,
     * all-position logits with an image or a clip in the prompt 4e-4 .. 6e-4. The outputs are held to those spreads
     * (with room) and to the same argmax everywhere.
     */
    static final double EMBEDDING_SPREAD = 1e-5, LOGIT_SPREAD = 2e-3;

    @Test
    void theSingleFileHoldsThePairsBytes() {
        try (GgufFile t = GgufFile.open(text); GgufFile m = GgufFile.open(mmproj); GgufFile o = GgufFile.open(one)) {
            assertThat(o.tensors()).hasSize(t.tensors().size() + m.tensors().size());
            for (GgufFile src : List.of(t, m)) {
                for (var e : src.tensors().values()) {
                    var got = o.tensor(e.name());
                    assertThat(got).as(e.name()).isNotNull();
                    assertThat(got.type()).isEqualTo(e.type());
                    assertThat(got.dims()).isEqualTo(e.dims());
                    assertThat(o.tensorData(got).mismatch(src.tensorData(e))).as(e.name()).isEqualTo(-1L);
                }
            }
            for (String k : t.metadata().keySet()) assertThat(o.get(k)).as(k).isEqualTo(t.get(k));
            for (String k : m.metadata().keySet()) {
                if (k.startsWith("general.")) continue;
                assertThat(o.get("gemma3n." + k.substring("clip.".length()))).as(k).isEqualTo(m.get(k));
            }
        }
    }

    @Test
    void audioOutputsMatchThePair() throws IOException {
        float[][] tower = pairAndOne("embed-audio", "tower", s(wav), "--tower", "--exact");
        assertThat(maxAbs(tower)).isLessThan(EMBEDDING_SPREAD);
        Path ids = ids("audio", Fixtures.ints(audio.get("prompt").get("ids")));
        float[][] logits = pairAndOne("logits", "audio-logits", "--audio", s(wav), "--ids-file", s(ids), "--exact");
        assertThat(maxAbs(logits)).isLessThan(LOGIT_SPREAD);
        assertSameArgmax(logits[0], logits[1], 0, logits[0].length / 1018);
        var single = CliTestSupport.run(null, "run", s(one), "--audio", s(wav), "Transcribe this audio clip.", "-n", "6", "--temp", "0", "--ids",
                "-t", "2");
        assertThat(single.exitCode()).as(single.err()).isZero();
        assertThat(single.out().split(",")).hasSize(6);
    }

    @Test
    void imageOutputsMatchThePairAndHfsGreedyIds() throws IOException {
        float[][] exact = pairAndOne("embed-image", "image-embd-exact", s(png), "--exact");
        assertThat(maxAbs(exact)).isLessThan(EMBEDDING_SPREAD);
        JsonNode v = image.get("variant");
        String content = image.get("prompt").get("content").asText().substring("<image_soft_token>".length());
        var r = CliTestSupport.run(null, "run", s(one), "--image", s(png), "--temp", "0", "-n", "16", "--ignore-eos", "--ids", "--exact", "-t", "2",
                content);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo(v.get("greedy_ids").toString().replace(",", ", "));
        // the default mode repacks the tower into a weight cache of its own, beside the text weights' (same file path)
        float[][] fast = pairAndOne("embed-image", "image-embd", s(png));
        assertThat(maxAbs(fast)).isLessThan(EMBEDDING_SPREAD);
        assertThat(dev.jemma.core.repack.RepackCache.cacheFilesFor(one)).anyMatch(p -> p.getFileName().toString().endsWith(".vision.int8.jpk"));
    }

    private static double maxAbs(float[][] pair) {
        assertThat(pair[1]).hasSameSizeAs(pair[0]);
        double m = 0;
        for (int i = 0; i < pair[0].length; i++) m = Math.max(m, Math.abs(pair[0][i] - pair[1][i]));
        return m;
    }

    private static void assertSameArgmax(float[] a, float[] b, int from, int to) {
        for (int i = from; i < to; i++) assertThat(argmax(b, i, 1018)).as("row " + i).isEqualTo(argmax(a, i, 1018));
    }

    /**
     * An image and a clip in one id list, in either order: each medium fills its own runs. No HF reference holds both, so
     * the rows before the second medium are checked against the logits of the first medium alone (the same tokens, so
     * the same numbers up to the run-to-run spread), the text after the second medium must differ from its logits without
     * it, and the single file gives the pair's numbers.
     */
    @Test
    void logitsTakeAnImageAndAClipInOneIdList() throws IOException {
        int[] img = Fixtures.ints(image.get("prompt").get("ids")), aud = Fixtures.ints(audio.get("prompt").get("ids"));
        int imageEnd = image.get("prompt").get("soft_token_blocks").get(0).get(1).asInt() + 1;   // through <end_of_image>
        int audioEnd = audio.get("prompt").get("soft_token_blocks").get(0).get(1).asInt() + 1;   // through <end_of_audio>
        int boi = image.get("prompt").get("soft_token_blocks").get(0).get(0).asInt() - 1;        // <start_of_image>
        int boa = audio.get("prompt").get("soft_token_blocks").get(0).get(0).asInt() - 1;        // <start_of_audio>
        int[] newline = {16, 16};
        int[] imageFirst = concat(slice(img, 0, imageEnd), newline, slice(aud, boa, aud.length));
        int[] audioFirst = concat(slice(aud, 0, audioEnd), newline, slice(img, boi, img.length));
        int vocab = 1018;
        Path imgIds = ids("img", img), audIds = ids("aud", aud);
        float[] imageAlone = logits(imgIds, "--image", s(png)), audioAlone = logits(audIds, "--audio", s(wav));
        for (int[] both : new int[][]{imageFirst, audioFirst}) {
            boolean imageLeads = both == imageFirst;
            Path p = ids(imageLeads ? "image-first" : "audio-first", both);
            float[][] out = pairAndOne("logits", imageLeads ? "image-first" : "audio-first", "--image", s(png), "--audio", s(wav), "--ids-file", s(p), "--exact");
            assertThat(maxAbs(out)).isLessThan(LOGIT_SPREAD);
            assertSameArgmax(out[0], out[1], 0, both.length);
            float[] got = out[0];
            assertThat(got).hasSize(both.length * vocab);
            float[] alone = imageLeads ? imageAlone : audioAlone;
            int prefix = imageLeads ? imageEnd : audioEnd;
            double max = 0;
            for (int i = 0; i < prefix * vocab; i++) max = Math.max(max, Math.abs(got[i] - alone[i]));
            assertThat(max).as("rows before the second medium, %s first", imageLeads ? "image" : "audio").isLessThan(LOGIT_SPREAD);
            for (int i = 0; i < prefix; i++) assertThat(argmax(got, i, vocab)).isEqualTo(argmax(alone, i, vocab));
            // the second medium is there: the text after it is not read as without it
            int tail = both.length - 1, tailAlone = (imageLeads ? aud.length : img.length) - 1;
            float[] secondAlone = imageLeads ? audioAlone : imageAlone;
            double d = 0;
            for (int j = 0; j < vocab; j++) d = Math.max(d, Math.abs(got[tail * vocab + j] - secondAlone[tailAlone * vocab + j]));
            assertThat(d).isGreaterThan(1e-2);
        }
        var r = CliTestSupport.run(null, "logits", s(one), "--image", s(png), "--audio", s(wav), "--ids-file", s(imgIds), "-o", s(tmp.resolve("x.f32")));
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err().strip()).startsWith("jemma: ").contains("0 run(s) of the audio soft-token id 1011 for 1 --audio clip(s)").doesNotContain("\n");
        assertThat(tmp.resolve("x.f32")).doesNotExist();
    }

    private static float[] logits(Path ids, String... media) throws IOException {
        Path o = tmp.resolve(ids.getFileName() + ".alone.f32");
        List<String> a = new ArrayList<>(List.of("logits", s(text), "--mmproj", s(mmproj), "--ids-file", s(ids), "-o", s(o), "--exact", "-t", "2"));
        a.addAll(List.of(media));
        var r = CliTestSupport.run(null, a.toArray(String[]::new));
        assertThat(r.exitCode()).as(r.err()).isZero();
        return Fixtures.readF32(o);
    }

    private static int argmax(float[] rows, int row, int vocab) {
        int best = 0;
        for (int j = 1; j < vocab; j++) if (rows[row * vocab + j] > rows[row * vocab + best]) best = j;
        return best;
    }

    private static int[] slice(int[] a, int from, int to) {
        return java.util.Arrays.copyOfRange(a, from, to);
    }

    private static int[] concat(int[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToInt(java.util.Arrays::stream).toArray();
    }

    /** Gemma 3: Ollama's single-file layout, which Jemma (and Ollama) already read: the same bytes as the pair. */
    @Test
    void gemma3MergesIntoOllamasLayout() throws IOException {
        JsonNode c = MultimodalFixtures.model().get("cases").get("square"), v = c.get("variants").get("F32");
        Path t = MultimodalFixtures.file(v.get("text_gguf").asText()), m = MultimodalFixtures.file(v.get("mmproj_gguf").asText());
        Path g3 = Files.createDirectories(tmp.resolve("solo3")).resolve("gemma3-one.gguf");
        var r = CliTestSupport.run(null, "convert", s(t), "--mmproj", s(m), "-o", s(g3));
        assertThat(r.exitCode()).as(r.err()).isZero();
        try (GgufFile f = GgufFile.open(g3)) {
            assertThat(f.getInt("gemma3.vision.block_count", 0)).isPositive();
            assertThat(f.getInt("gemma3.mm.tokens_per_image", 0)).isEqualTo(16);
            assertThat(f.tensor("v.patch_embedding.weight")).isNotNull();
            assertThat(f.tensor("mm.mm_input_projection.weight")).isNotNull();
            assertThat(f.tensor("v.patch_embd.weight")).isNull();
        }
        Path png3 = MultimodalFixtures.file(c.get("images").get(0).asText());
        Path ids = ids("g3", Fixtures.ints(c.get("prompt").get("ids")));
        Path a = tmp.resolve("g3-pair.f32"), b = tmp.resolve("g3-one.f32");
        var pair = CliTestSupport.run(null, "logits", s(t), "--mmproj", s(m), "--image", s(png3), "--ids-file", s(ids), "-o", s(a), "--exact", "-t", "2");
        assertThat(pair.exitCode()).as(pair.err()).isZero();
        var single = CliTestSupport.run(null, "logits", s(g3), "--image", s(png3), "--ids-file", s(ids), "-o", s(b), "--exact", "-t", "2");
        assertThat(single.exitCode()).as(single.err()).isZero();
        // Gemma 3 matches HF to 2e-5: the run-to-run spread is below that
        float[][] both = {Fixtures.readF32(a), Fixtures.readF32(b)};
        assertThat(maxAbs(both)).isLessThan(1e-4);
        int v3 = both[0].length / Fixtures.ints(c.get("prompt").get("ids")).length;
        for (int i = 0; i < both[0].length / v3; i++) assertThat(argmax(both[1], i, v3)).isEqualTo(argmax(both[0], i, v3));
        var show = CliTestSupport.run(null, "show", s(g3));
        assertThat(show.out()).contains("SigLIP", "inside the model file");
    }

    @Test
    void mergeRefusesWhatItCannotMergeInOneLineAndWritesNothing() throws IOException {
        Path out = tmp.resolve("refused.gguf");
        Path gemma3Mmproj = MultimodalFixtures.file(MultimodalFixtures.model().get("cases").get("square").get("variants").get("F32").get("mmproj_gguf").asText());
        String[][] cases = {
                {"convert", s(text), "--mmproj", s(gemma3Mmproj), "-o", s(out)},
                {"convert", s(one), "--mmproj", s(mmproj), "-o", s(out)},
                {"convert", s(text), "--mmproj", s(text), "-o", s(out)},
                {"convert", s(text), "--mmproj", s(mmproj), "-o", s(text)},
                {"convert", s(text), "--mmproj", s(mmproj), "--type", "f16", "-o", s(out)},
                {"convert", s(text), s(out)},
                {"convert", s(text), "--mmproj", s(tmp.resolve("nope.gguf")), "-o", s(out)},
        };
        String[] expected = {"not a Gemma 3n mmproj", "already carries its towers", "not an mmproj file", "is an input file",
                "--type: a merge copies every tensor as it is", "to merge a projector into a GGUF model give --mmproj", "nope.gguf: no such file"};
        for (int i = 0; i < cases.length; i++) {
            var r = CliTestSupport.run(null, cases[i]);
            assertThat(r.exitCode()).as(String.join(" ", cases[i])).isNotZero();
            assertThat(r.err().strip()).as(String.join(" ", cases[i])).startsWith("jemma: ").contains(expected[i]).doesNotContain("\n");
            assertThat(out).doesNotExist();
        }
        try (var files = Files.list(tmp)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.contains(".part"))).isEmpty();
        }
    }
}
