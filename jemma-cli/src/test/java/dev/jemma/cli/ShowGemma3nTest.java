package dev.jemma.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.gguf.GgufFile;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jemma show} on Gemma 3n: fast-memory vs mapped weights, and the plan of a MatFormer slice. */
class ShowGemma3nTest {
    static final Path E4B = Path.of("../jemma-core/src/test/resources/gemma3n/e4b-shaped-Q8_0.gguf").toAbsolutePath().normalize();

    @Test
    void reportsFastAndMappedBytesAndTheSlicedPlan() throws Exception {
        long table;
        try (GgufFile f = GgufFile.open(E4B)) {
            table = f.tensor("per_layer_token_embd.weight").byteSize();
        }
        var text = CliTestSupport.run(null, "show", E4B.toString());
        assertThat(text.exitCode()).as(text.err()).isZero();
        assertThat(text.out()).contains("weights in fast memory").contains("mapped from disk, read one row per token");

        var full = CliTestSupport.run(null, "show", "--json", "-c", "64", E4B.toString());
        assertThat(full.exitCode()).as(full.err()).isZero();
        JsonNode p = new ObjectMapper().readTree(full.out()).get("memory_plan");
        assertThat(p.get("weights_mapped_bytes").asLong()).isEqualTo(table);
        // the default mode reads the matrices from the interleaved copy: it replaces their GGUF bytes in fast memory
        JsonNode copy = p.path("weight_copy");
        long copied = copy.isMissingNode() ? 0 : copy.get("bytes").asLong() - copy.get("replaces_gguf_bytes").asLong();
        assertThat(p.get("weights_fast_bytes").asLong()).isEqualTo(p.get("weights_bytes").asLong() - table + copied);
        assertThat(p.get("total_bytes").asLong()).isEqualTo(p.get("weights_fast_bytes").asLong() + p.get("heap_needed_bytes").asLong());

        var sliced = CliTestSupport.run(null, "show", "--json", "-c", "64", "--matformer", "e2b", E4B.toString());
        assertThat(sliced.exitCode()).as(sliced.err()).isZero();
        JsonNode s = new ObjectMapper().readTree(sliced.out()).get("memory_plan");
        assertThat(s.get("matformer").asText()).isEqualTo("e2b");
        assertThat(s.get("weights_fast_bytes").asLong()).isLessThan(p.get("weights_fast_bytes").asLong());
        assertThat(s.get("weights_mapped_bytes").asLong()).isEqualTo(table);

        var bad = CliTestSupport.run(null, "show", "--matformer", "skip=99", E4B.toString());
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err().strip()).startsWith("jemma: ").contains("skip layer 99").doesNotContain("\n");
    }

    @Test
    void benchRunsAMatformerSlice() throws Exception {
        var r = CliTestSupport.run(null, "bench", E4B.toString(), "-p", "4", "-n", "2", "-r", "1", "-t", "1", "--matformer", "e2b", "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertThat(j.get("matformer").asText()).isEqualTo("e2b");
        assertThat(j.get("tg_tokens_per_s").asDouble()).isPositive();
        var bad = CliTestSupport.run(null, "bench", RunCommandTest.TINY, "-p", "4", "-n", "2", "-r", "1", "--matformer", "e2b");
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err().strip()).startsWith("jemma: ").contains("gemma3n models only");
    }
}
