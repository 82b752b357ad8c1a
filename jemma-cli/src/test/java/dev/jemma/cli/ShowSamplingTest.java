package dev.jemma.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * jemma show lists the sampling defaults a load starts from, as Ollama's show lists a model's parameters: Gemma's, under
 * the file's general.sampling.* (its sampler order included), and warns of the names in that order Jemma lacks, which
 * a load leaves out. Mutation caught: ModelSummary without the sampling line (nothing says the file reorders the
 * samplers until a chat's /show).
 */
class ShowSamplingTest {
    @TempDir
    Path dir;

    @Test
    void showListsTheFilesSamplingDefaultsAndOrder() throws Exception {
        Path out = dir.resolve("seq.gguf");
        try (GgufFile f = GgufFile.open(Path.of(RunCommandTest.TINY))) {
            GgufWriter w = new GgufWriter().copyMetadata(f).putString("general.sampling.sequence", "top_k;infill;temperature")
                    .putF32("general.sampling.temp", 0.7f);
            for (GgufTensorInfo t : f.tensors().values()) {
                w.addTensor(t.name(), t.dims(), t.type(), o -> o.write(f.tensorData(t).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(out);
        }
        var text = CliTestSupport.run(null, "show", out.toString());
        assertThat(text.exitCode()).as(text.err()).isZero();
        assertThat(text.out()).contains("sampling       temperature 0.7, top_k 64, top_p 0.95, min_p 0, repeat_penalty 1, repeat_last_n 64,"
                        + " samplers top_k;temperature (the file sets samplers, temperature)")
                .contains("warning        general.sampling.sequence: sampler 'infill' is not one Jemma has; left out");

        var json = CliTestSupport.run(null, "show", out.toString(), "--json");
        JsonNode s = new ObjectMapper().readTree(json.out()).path("sampling");
        assertThat(s.path("samplers").asText()).isEqualTo("top_k;temperature");
        assertThat(s.path("temperature").floatValue()).isEqualTo(0.7f);
        assertThat(s.path("from_file").toString()).isEqualTo("[\"samplers\",\"temperature\"]");

        var plain = CliTestSupport.run(null, "show", RunCommandTest.TINY);
        assertThat(plain.out()).contains("(Gemma's defaults; the file sets none)").doesNotContain("samplers ");
    }
}
