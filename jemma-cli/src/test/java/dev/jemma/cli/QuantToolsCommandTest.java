package dev.jemma.cli;

import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** quantize / convert / perplexity through the CLI: round trip on bundled files, one-line errors, no partial output. */
class QuantToolsCommandTest {
    static final Path MODELS = Fixtures.bundled().resolve("gemma3-tiny");
    static final Path SHARDED = Path.of("../tools/fixtures/gemma3-tiny-sharded").toAbsolutePath().normalize();

    @TempDir
    Path tmp;

    @Test
    void convertQuantizePerplexityKldRoundTrip() throws Exception {
        Path f32 = tmp.resolve("tiny-f32.gguf"), q4 = tmp.resolve("tiny-q4_k_m.gguf"), base = tmp.resolve("base.kld");
        var c = CliTestSupport.run(null, "convert", SHARDED.toString(), f32.toString());
        assertThat(c.exitCode()).as(c.err()).isZero();
        var q = CliTestSupport.run(null, "quantize", f32.toString(), q4.toString(), "q4_k_m");
        assertThat(q.exitCode()).as(q.err()).isZero();
        assertThat(q.err()).contains("Q5_0×48").contains("Q8_0×9"); // llama-quantize's fallback mix for 64-wide rows
        Path text = tmp.resolve("text.txt");
        Files.writeString(text, ("The quick brown fox jumps over the lazy dog while the farmer counts his sheep. "
                + "Rain in the morning gave way to a bright and windy afternoon. ").repeat(6));
        var p = CliTestSupport.run(null, "perplexity", f32.toString(), "-f", text.toString(), "-c", "64",
                "--kl-divergence-base", base.toString(), "--exact", "-t", "1");
        assertThat(p.exitCode()).as(p.err()).isZero();
        assertThat(p.out()).containsPattern("Final estimate: PPL = [0-9.]+ \\+/- [0-9.]+");
        var k = CliTestSupport.run(null, "perplexity", q4.toString(), "--kl-divergence-base", base.toString(),
                "--kl-divergence", "--exact", "-t", "1");
        assertThat(k.exitCode()).as(k.err()).isZero();
        assertThat(k.out()).containsPattern("Mean    KLD: +[0-9.]+ ±").contains("99.0%   KLD:").contains("Same top p:");
    }

    @Test
    void runWithoutAModelUsesTheShippedDemoModel() {
        Path home = Path.of("..").toAbsolutePath().normalize();
        assertThat(home.resolve(ModelPaths.DEMO_MODEL)).exists();
        String old = System.getProperty("jemma.home.dir");
        System.setProperty("jemma.home.dir", home.toString());
        try {
            var r = CliTestSupport.run(null, "run", "--raw", "And God said", "-n", "12", "--seed", "1", "--ids");
            assertThat(r.exitCode()).as(r.err()).isZero();
            assertThat(r.out().strip()).matches("\\[\\d+(, \\d+)*\\]");
            // Exodus 8 was held out of the demo model's training text (docs/QAT.md); a trained model scores it
            // near its held-out perplexity (~68), an untrained one near the vocabulary size (2048)
            Path text = Path.of("src/test/resources/kjv-heldout-exodus8.txt").toAbsolutePath();
            var p = CliTestSupport.run(null, "perplexity", home.resolve(ModelPaths.DEMO_MODEL).toString(), "-f",
                    text.toString(), "-c", "128");
            assertThat(p.exitCode()).as(p.err()).isZero();
            var m = java.util.regex.Pattern.compile("PPL = ([0-9.]+)").matcher(p.out());
            assertThat(m.find()).isTrue();
            // torch on the same Q4_0 weights in f32, llama-perplexity's method (tools/qat/perplexity_torch.py qat.pt
            // --quantized): 38.4651; Jemma's default mode rounds Q4_0 activations to 8 bits: 38.4756, 0.03 % apart,
            // allowed 0.2 %
            assertThat(Double.parseDouble(m.group(1))).isCloseTo(38.4651, org.assertj.core.data.Percentage.withPercentage(0.2));
        } finally {
            if (old == null) System.clearProperty("jemma.home.dir");
            else System.setProperty("jemma.home.dir", old);
        }
    }

    @Test
    void badArgumentsGiveOneLineErrorsAndNoOutputFile() {
        Path out = tmp.resolve("out.gguf");
        String q4 = MODELS.resolve("gemma3-tiny-Q4_0.gguf").toString();
        var already = CliTestSupport.run(null, "quantize", q4, out.toString(), "Q8_0");
        assertThat(already.exitCode()).isNotZero();
        assertThat(already.err().strip()).startsWith("jemma: ").contains("already Q8_0").doesNotContain("\n");
        var badType = CliTestSupport.run(null, "quantize", q4, out.toString(), "Q3_X");
        assertThat(badType.err().strip()).startsWith("jemma: unknown quantization type 'Q3_X'");
        var noDir = CliTestSupport.run(null, "convert", tmp.resolve("missing").toString(), out.toString());
        assertThat(noDir.err().strip()).startsWith("jemma: ").contains("not a directory");
        var noText = CliTestSupport.run(null, "perplexity", q4);
        assertThat(noText.err().strip()).startsWith("jemma: -f TEXT is required");
        assertThat(out).doesNotExist();
        assertThat(tmp.resolve("out.gguf.part")).doesNotExist();
    }
}
