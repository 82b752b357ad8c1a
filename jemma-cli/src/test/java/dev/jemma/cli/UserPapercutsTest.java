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
        assertThat(r.err().strip()).isEqualTo("jemma: -n -5: must be >= 0, or -1 for no limit (-2, until the context is full, is the same)");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void minusOneMeansNoLimitAsInLlamaCpp() {
        var r = CliTestSupport.run(null, "run", RunCommandTest.TINY, "-n", "-1", "-c", "24", "--raw", "--temp", "0", "--ignore-eos", "--ids", "hi");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).startsWith("[");
    }

    @Test
    void aDirectoryWhereAFileIsExpectedIsNamedAsSuch() throws Exception {
        var tok = CliTestSupport.run(null, "tokenize", RunCommandTest.VOCAB, "-f", dir.toString());
        assertThat(tok.exitCode()).isEqualTo(1);
        assertThat(tok.err().strip()).isEqualTo("jemma: " + dir + ": is a directory, not a file");

        var ids = CliTestSupport.run(null, "logits", RunCommandTest.TINY, "--ids-file", dir.toString(), "-o", dir.resolve("o.f32").toString());
        assertThat(ids.exitCode()).isEqualTo(1);
        assertThat(ids.err().strip()).isEqualTo("jemma: " + dir + ": is a directory, not a file");

        var ppl = CliTestSupport.run(null, "perplexity", RunCommandTest.TINY, "-f", dir.toString());
        assertThat(ppl.exitCode()).isEqualTo(1);
        assertThat(ppl.err().strip()).isEqualTo("jemma: " + dir + ": is a directory, not a file");

        // -o naming a directory: one line, the directory is left alone
        Path idsFile = Files.writeString(dir.resolve("ids.json"), "[2, 5]");
        Path outDir = Files.createDirectory(dir.resolve("out"));
        var out = CliTestSupport.run(null, "logits", RunCommandTest.TINY, "--ids-file", idsFile.toString(), "-o", outDir.toString());
        assertThat(out.exitCode()).isEqualTo(1);
        assertThat(out.err().strip()).isEqualTo("jemma: " + outDir + ": is a directory; -o names the output file");
        assertThat(outDir).isEmptyDirectory();
        assertThat(dir.resolve("out.tmp")).doesNotExist();
    }

    @Test
    void runStopsGeneratingWhenItsReaderGoesAway() {
        // like `jemma run … | head -c 10`: after the pipe closes, writes fail; the run must stop, not compute on
        java.io.OutputStream closedPipe = new java.io.OutputStream() {
            int written;

            @Override
            public void write(int b) throws java.io.IOException {
                if (++written > 10) throw new java.io.IOException("Broken pipe");
            }
        };
        java.io.PrintStream oldOut = System.out, oldErr = System.err;
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        int rc;
        try {
            System.setOut(new java.io.PrintStream(closedPipe, true));
            System.setErr(new java.io.PrintStream(err, true));
            rc = Main.run("run", RunCommandTest.TINY, "--raw", "--temp", "0", "--ignore-eos", "-n", "200", "--verbose", "Once upon a time");
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        assertThat(rc).isZero();
        var m = java.util.regex.Pattern.compile("(?m)^eval count:\\s+(\\d+) token").matcher(err.toString());
        assertThat(m.find()).as(err.toString()).isTrue();
        assertThat(Integer.parseInt(m.group(1))).isLessThan(20);
    }

    @Test
    void aContextBeyondTheTrainedLengthIsAllowedWithAWarning() {
        var r = CliTestSupport.run(null, "run", RunCommandTest.TINY, "-c", "100000", "-n", "2", "--raw", "--temp", "0", "--ids", "hi");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).containsOnlyOnce("jemma: warning: -c 100000 is beyond the ").contains("tokens the model was trained for");
        var within = CliTestSupport.run(null, "run", RunCommandTest.TINY, "-c", "64", "-n", "2", "--raw", "--temp", "0", "--ids", "hi");
        assertThat(within.exitCode()).as(within.err()).isZero();
        assertThat(within.err()).doesNotContain("warning");
    }

    @Test
    void chatRefusesANegativeNumPredictLikeTheFlag() {
        var r = CliTestSupport.run("/set num_predict -5\n/set num_predict -1\n/bye\n", "chat", RunCommandTest.TINY);
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("num_predict -5: must be >= 0, or -1 for no limit").contains("Set parameter 'num_predict' to '-1'")
                .doesNotContain("to '-5'");
    }
}
