package dev.jemma.cli;

import dev.jemma.core.gguf.GgufFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jemma quantize IN OUT COPY --matformer e2b}: the sliced Gemma 3n file, tensor types kept; bad use refused. */
class QuantizeMatformerTest {
    static final Path E4B = ShowGemma3nTest.E4B;
    static final Path CUT = Path.of("../jemma-core/src/test/resources/gemma3n/e2b-cut-Q8_0.gguf").toAbsolutePath().normalize();

    @Test
    void copyWithMatformerWritesTheCutModel(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("e2b.gguf");
        var r = CliTestSupport.run(null, "quantize", E4B.toString(), out.toString(), "COPY", "--matformer", "e2b");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("30 of 35 layers");
        try (GgufFile a = GgufFile.open(out); GgufFile b = GgufFile.open(CUT)) {
            assertThat(a.tensors().keySet()).containsExactlyInAnyOrderElementsOf(b.tensors().keySet());
            for (var t : b.tensors().values()) assertThat(a.tensorData(a.tensor(t.name())).mismatch(b.tensorData(t))).as(t.name()).isEqualTo(-1L);
        }
        var bad = CliTestSupport.run(null, "quantize", E4B.toString(), dir.resolve("x.gguf").toString(), "COPY");
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err().strip()).startsWith("jemma: COPY");
        var badSpec = CliTestSupport.run(null, "quantize", E4B.toString(), dir.resolve("y.gguf").toString(), "COPY", "--matformer", "skip=0-40");
        assertThat(badSpec.exitCode()).isNotZero();
        assertThat(badSpec.err().strip()).startsWith("jemma: ").doesNotContain("\n");
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("e2b.gguf"); // no half-written output
        }
    }
}
