package dev.jemma.cli;

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

/** {@code jemma embed}: the conformance path (--ids-file → raw f32) against sentence-transformers, text output, errors. */
class EmbedCommandTest {
    private static Path fixtures, model;
    private static JsonNode manifest;

    @TempDir
    Path dir;

    @BeforeAll
    static void locate() throws IOException {
        fixtures = Fixtures.shared().resolve("embedding");
        model = fixtures.resolve("embgemma-tiny/embgemma-tiny-F32.gguf");
        manifest = new ObjectMapper().readTree(fixtures.resolve("manifest.json").toFile());
    }


    @Test
    void idsFileWritesTheReferenceEmbeddings() throws IOException {
        JsonNode cases = manifest.get("models").get("embgemma-tiny").get("cases");
        StringBuilder json = new StringBuilder("[");
        for (int i = 0; i < cases.size(); i++) json.append(i > 0 ? "," : "").append(cases.get(i).get("ids"));
        Path ids = Files.writeString(dir.resolve("ids.json"), json.append("]").toString());
        for (String[] variant : new String[][]{{"embeddings", "0"}, {"mrl16", "16"}}) {
            Path out = dir.resolve(variant[0] + ".f32");
            var r = CliTestSupport.run(null, "embed", model.toString(), "--ids-file", ids.toString(), "-o", out.toString(), "--exact",
                    "--dim", variant[1]);
            assertThat(r.exitCode()).as(r.err()).isZero();
            float[] got = Fixtures.readF32(out), want = Fixtures.readF32(fixtures.resolve("embgemma-tiny/embgemma-tiny-F32." + variant[0] + ".f32"));
            assertThat(got).hasSameSizeAs(want);
            for (int i = 0; i < want.length; i++) assertThat(Math.abs(got[i] - want[i])).as(variant[0] + "[" + i + "]").isLessThanOrEqualTo(1e-5f);
        }
    }

    @Test
    void textsWithAPromptGiveTheReferenceVectorsAsJsonAndTsv() throws IOException {
        JsonNode c = manifest.get("models").get("embgemma-tiny").get("cases").get(1); // short/query
        assertThat(c.get("id").asText()).isEqualTo("short/query");
        String text = manifest.get("models").get("embgemma-tiny").get("texts").get("short").asText();
        float[] ref = Fixtures.readF32(fixtures.resolve("embgemma-tiny/embgemma-tiny-F32.embeddings.f32"));
        var r = CliTestSupport.run(null, "embed", model.toString(), "--prompt", "query", "--exact", text, "second text");
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("dimension").asInt()).isEqualTo(64);
        assertThat(j.get("embeddings")).hasSize(2);
        JsonNode e = j.get("embeddings").get(0);
        assertThat(e.get("tokens").asInt()).isEqualTo(c.get("ids").size());
        for (int i = 0; i < 64; i++) assertThat(Math.abs(e.get("embedding").get(i).floatValue() - ref[64 + i])).isLessThanOrEqualTo(1e-5f);

        var tsv = CliTestSupport.run(text + "\n\nsecond text\n", "embed", model.toString(), "--prompt", "query", "--exact", "--format", "tsv", "-f", "-");
        assertThat(tsv.exitCode()).as(tsv.err()).isZero();
        String[] lines = tsv.out().split("\n");
        assertThat(lines).hasSize(2);
        String[] cols = lines[0].split("\t");
        assertThat(cols).hasSize(65);
        assertThat(cols[0]).isEqualTo(text);
        assertThat(Float.parseFloat(cols[1])).isCloseTo(ref[64], org.assertj.core.data.Offset.offset(1e-5f));
    }

    @Test
    void badInputGetsOneLine() throws IOException {
        String[][] bad = {
                {"embed", model.toString(), "--prompt", "nope", "x"},
                {"embed", model.toString(), "--dim", "65", "x"},
                {"embed", model.toString(), "--pooling", "max", "x"},
                {"embed", model.toString(), "--format", "xml", "x"},
                {"embed", model.toString(), "--ids-file", dir.resolve("missing.json").toString(), "-o", dir.resolve("o.f32").toString()},
                {"embed", model.toString(), "--ids-file", Files.writeString(dir.resolve("ids.json"), "[[2,1]]").toString()},
                {"embed", model.toString(), "-c", "4", "--no-truncate", "a much longer text than four tokens"},
                {"embed", dir.resolve("nope.gguf").toString(), "x"},
                {"run", model.toString(), "hello"},
        };
        for (String[] args : bad) {
            var r = CliTestSupport.run(null, args);
            String what = String.join(" ", args) + " → " + r.err();
            assertThat(r.exitCode()).as(what).isNotZero();
            assertThat(r.err().lines().filter(l -> !l.startsWith("WARNING")).toList()).as(what).hasSize(1);
            assertThat(r.err()).as(what).startsWith("jemma: ").doesNotContain("Exception").doesNotContain("\tat ");
        }
        assertThat(dir.resolve("o.f32")).doesNotExist();
    }

    /** --dim 0 is the default and keeps every dimension (idsFileWritesTheReferenceEmbeddings relies on it): help says so. */
    @Test
    void helpSaysWhatDimZeroMeans() {
        var help = CliTestSupport.run(null, "embed", "--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.out().replaceAll("\\s+", " ")).contains("--dim, --dimensions=N").contains("default 0: all of the model's dimensions");
        var negative = CliTestSupport.run(null, "embed", model.toString(), "--dim", "-1", "x");
        assertThat(negative.err().strip()).isEqualTo("jemma: --dim: -1 must be positive, or 0 for all dimensions");
    }
}
