package dev.jemma.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every command's -t is checked the same way: embed answered -t -2 with "internal error:
 * java.lang.IllegalArgumentException" and exit 70, quantize took -t -1 without a word.
 */
class ThreadsFlagTest {
    @TempDir
    Path dir;

    @Test
    void aNegativeThreadCountIsOneLineForEveryCommand() throws Exception {
        String text = java.nio.file.Files.writeString(dir.resolve("text.txt"), "some text ".repeat(50)).toString();
        String img = dir.resolve("x.png").toString(), out = dir.resolve("out").toString();
        String[][] commands = {
                {"embed", RunCommandTest.TINY, "hello", "-t", "-2"},
                {"embed-image", RunCommandTest.TINY, img, "-o", out, "-t", "-2"},
                {"quantize", RunCommandTest.TINY, dir.resolve("q.gguf").toString(), "Q8_0", "-t", "-2"},
                {"perplexity", RunCommandTest.TINY, "-f", text, "-t", "-2"},
                {"run", RunCommandTest.TINY, "hi", "-t", "-2"},
        };
        for (String[] args : commands) {
            var r = CliTestSupport.run(null, args);
            assertThat(r.exitCode()).as(String.join(" ", args) + " -> " + r.err()).isEqualTo(1);
            assertThat(r.err().strip()).as(args[0]).startsWith("jemma: -t -2: threads must be at least ");
        }
    }
}
