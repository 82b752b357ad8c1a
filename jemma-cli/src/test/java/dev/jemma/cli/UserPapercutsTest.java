package dev.jemma.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Mistakes a new user makes on the command line: each gives one line "jemma: …", a non-zero exit, no file left. */
class UserPapercutsTest {
    @TempDir
    Path dir;

    @Test
    void logitsIntoAMissingDirectoryNamesTheDirectory() throws Exception {
        Path ids = Files.writeString(dir.resolve("ids.json"), "[2, 5, 7]");
        Path out = dir.resolve("no-such-dir").resolve("out.f32");
        var r = CliTestSupport.run(null, "logits", RunCommandTest.TINY, "--ids-file", ids.toString(), "-o", out.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("jemma: " + out + ": cannot write: directory " + out.getParent() + " does not exist");
        assertThat(dir.resolve("no-such-dir")).doesNotExist();
    }

    @Test
    void negativeTokenCountBelowMinusOneIsRefused() {
        var r = CliTestSupport.run(null, "run", RunCommandTest.TINY, "-n", "-5", "hi");
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().strip()).isEqualTo("jemma: -n -5: must be >= 0, or -1 for no limit");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void minusOneMeansNoLimitAsInLlamaCpp() {
        var r = CliTestSupport.run(null, "run", RunCommandTest.TINY, "-n", "-1", "-c", "24", "--raw", "--temp", "0", "--ignore-eos", "--ids", "hi");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).startsWith("[");
    }
}
