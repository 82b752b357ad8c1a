package dev.jemma.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * jemma show's memory plan names the interleaved weight copy the default mode reads: where it is, its size (the file a
 * load then writes, to the byte), whether it is built yet; --exact plans without it. Mutations caught: show planning
 * without the copy (no weight_copy), --exact ignored (a copy line), the copy's size or file name planned apart from
 * what RepackCache writes.
 */
class ShowWeightCopyTest {
    @TempDir
    Path cache;

    private static JsonNode json(String out) throws Exception {
        return new ObjectMapper().readTree(out);
    }

    @Test
    void planNamesTheCopyTheFirstLoadWritesAndExactHasNone() throws Exception {
        String previous = System.getProperty("jemma.cache.dir");
        System.setProperty("jemma.cache.dir", cache.toString());
        try {
            var before = CliTestSupport.run(null, "show", RunCommandTest.TINY, "--json");
            assertThat(before.exitCode()).as(before.err()).isZero();
            JsonNode plan = json(before.out()).path("memory_plan");
            assertThat(plan.path("exact").asBoolean()).isFalse();
            JsonNode copy = plan.path("weight_copy");
            var run = CliTestSupport.run(null, "run", RunCommandTest.TINY, "hi", "-n", "1", "-t", "1");
            assertThat(run.exitCode()).as(run.err()).isZero();
            if (copy.isMissingNode()) {
                // no int8 kernels at this vector width: no copy planned, none written
                try (var s = Files.list(cache)) {
                    assertThat(s.toList()).isEmpty();
                }
                return;
            }
            assertThat(copy.path("present").asBoolean()).isFalse();
            Path file = Path.of(copy.path("file").asText());
            assertThat(file.getParent()).isEqualTo(cache);
            assertThat(Files.size(file)).isEqualTo(copy.path("bytes").asLong());
            assertThat(plan.path("first_load_peak_bytes").asLong()).isEqualTo(plan.path("total_bytes").asLong() + copy.path("replaces_gguf_bytes").asLong());

            var after = CliTestSupport.run(null, "show", RunCommandTest.TINY);
            assertThat(after.out()).contains("weight copy").contains(file + " (built)").contains("interleaved copy");

            var exact = CliTestSupport.run(null, "show", RunCommandTest.TINY, "--exact", "--json");
            JsonNode exactPlan = json(exact.out()).path("memory_plan");
            assertThat(exactPlan.path("exact").asBoolean()).isTrue();
            assertThat(exactPlan.has("weight_copy")).isFalse();
            assertThat(exactPlan.path("weights_fast_bytes").asLong()).isEqualTo(exactPlan.path("weights_bytes").asLong() - exactPlan.path("weights_mapped_bytes").asLong());
            assertThat(CliTestSupport.run(null, "show", RunCommandTest.TINY, "--exact").out())
                    .contains("none with --exact").doesNotContain("interleaved copy");
        } finally {
            if (previous != null) System.setProperty("jemma.cache.dir", previous);
            else System.clearProperty("jemma.cache.dir");
        }
    }
}
