package dev.jemma.cli;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.tools.gen.Gemma3Generator;
import dev.jemma.tools.gen.Gemma3Shape;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Commands that write a file check where it goes before they work: a missing directory or a directory given as the
 * output is one line naming it, with nothing computed first (no progress line, no perplexity printed) and no
 * {@code .part} file named in the message.
 */
class OutputFileCheckTest {
    private static final Gemma3Shape TINY = new Gemma3Shape("tiny", 7, 64, 2, 1, 32, 128, 8, 8f, 256);

    @TempDir
    Path dir;
    Path f32, vocab;

    @BeforeEach
    void model() throws Exception {
        vocab = dir.resolve("vocab.gguf");
        CliTestSupport.tinyVocab().write(vocab);
        f32 = dir.resolve("tiny-f32.gguf");
        try (GgufFile v = GgufFile.open(vocab)) {
            Gemma3Generator.generate(new Gemma3Generator.Spec(TINY, "F32", null, 11), v, f32);
        }
    }

    static void oneLine(CliTestSupport.Result r, String expected) {
        assertThat(r.exitCode()).as(r.err()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo(expected);
        assertThat(r.out()).isEmpty();
    }

    @Test
    void quantizeChecksTheOutputBeforeQuantizing() throws Exception {
        Path missing = dir.resolve("no-such-dir").resolve("out.gguf");
        oneLine(CliTestSupport.run(null, "quantize", f32.toString(), missing.toString(), "Q4_0", "-t", "1"),
                "jemma: " + missing + ": cannot write: directory " + missing.getParent() + " does not exist");
        Path taken = Files.createDirectory(dir.resolve("taken"));
        oneLine(CliTestSupport.run(null, "quantize", f32.toString(), taken.toString(), "Q4_0", "-t", "1"),
                "jemma: " + taken + ": is a directory; OUT.gguf names the output file");
        assertThat(dir.resolve("taken.part")).doesNotExist();
    }

    @Test
    void convertGenerateAndPerplexityCheckTheirOutputs() throws Exception {
        Path missing = dir.resolve("no-such-dir").resolve("out.gguf");
        String noDir = "jemma: " + missing + ": cannot write: directory " + missing.getParent() + " does not exist";
        oneLine(CliTestSupport.run(null, "convert", QuantToolsCommandTest.SHARDED.toString(), missing.toString()), noDir);
        oneLine(CliTestSupport.run(null, "generate", "--size", "270m", "--vocab", vocab.toString(), "-o", missing.toString()), noDir);
        Path text = Files.writeString(dir.resolve("text.txt"), "t1 t2 t3 t4 ".repeat(200));
        Path base = dir.resolve("no-such-dir").resolve("base.kld");
        oneLine(CliTestSupport.run(null, "perplexity", f32.toString(), "-f", text.toString(), "-c", "16", "-t", "1",
                "--kl-divergence-base", base.toString()),
                "jemma: " + base + ": cannot write: directory " + base.getParent() + " does not exist");
    }
}
