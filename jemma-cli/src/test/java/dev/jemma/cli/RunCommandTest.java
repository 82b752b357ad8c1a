package dev.jemma.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** `jemma run` / `jemma tokenize` behaviour that needs only the files kept in the repository. */
class RunCommandTest {
    static final String TINY = Path.of("../jemma-core/src/test/resources/models/gemma3-tiny-Q4_0.gguf").toAbsolutePath().normalize().toString();
    static final String VOCAB = Path.of("../jemma-core/src/test/resources/tokenizer/gemma3-vocab.gguf").toAbsolutePath().normalize().toString();

    @Test
    void greedyIdsOnTheBundledTinyModel() {
        var r = CliTestSupport.run(null, "run", TINY, "--raw", "--temp", "0", "-n", "16", "--ignore-eos", "--ids", "--exact",
                "The old keeper climbed all 112 steps at dusk.");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo("[236, 804, 95, 804, 259, 0, 605, 471, 338, 309, 649, 770, 561, 280, 51, 144]");
    }

    @Test
    void unquotedWordsAreJoinedIntoThePrompt() {
        var r = CliTestSupport.run(null, "run", TINY, "--raw", "--temp", "0", "-n", "16", "--ignore-eos", "--ids", "--exact",
                "The", "old", "keeper", "climbed", "all", "112", "steps", "at", "dusk.");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo("[236, 804, 95, 804, 259, 0, 605, 471, 338, 309, 649, 770, 561, 280, 51, 144]");
    }

    @Test
    void promptFromStdinAndChatTemplate() {
        var r = CliTestSupport.run("Hello there", "run", TINY, "--temp", "0", "-n", "5", "--ignore-eos", "--ids");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).matches("\\[\\d+(, \\d+){4}]");
        var text = CliTestSupport.run(null, "run", TINY, "Hello there", "--temp", "0.7", "--seed", "3", "-n", "8", "--verbose");
        assertThat(text.exitCode()).as(text.err()).isZero();
        assertThat(text.out()).isNotBlank();
        assertThat(text.err()).contains("prompt eval rate:").contains("eval rate:");
    }

    @Test
    void badInputGivesOneClearLine() {
        var missing = CliTestSupport.run(null, "run", "/no/such/model.gguf", "hi");
        assertThat(missing.exitCode()).isNotZero();
        assertThat(missing.err().strip()).startsWith("jemma: ").contains("/no/such/model.gguf").doesNotContain("\n");

        var empty = CliTestSupport.run(null, "run", TINY, "  ");
        assertThat(empty.exitCode()).isNotZero();
        assertThat(empty.err().strip()).isEqualTo("jemma: the prompt is empty");

        var tooLong = CliTestSupport.run(null, "run", TINY, "-c", "16", "--raw", "word ".repeat(40));
        assertThat(tooLong.exitCode()).isNotZero();
        assertThat(tooLong.err().strip()).startsWith("jemma: the prompt is").contains("context holds 16").doesNotContain("\n");

        var flag = CliTestSupport.run(null, "run", TINY, "--bogus", "hi");
        assertThat(flag.exitCode()).isNotZero();
        assertThat(flag.err().strip()).startsWith("jemma: Unknown option: '--bogus'").doesNotContain("\n");

        var badTemp = CliTestSupport.run(null, "run", TINY, "--temp", "-1", "hi");
        assertThat(badTemp.exitCode()).isNotZero();
        assertThat(badTemp.err().strip()).isEqualTo("jemma: --temp -1: must be between 0 and 100 (0 = greedy)");
    }

    @Test
    void demoModelMissingIsExplained() {
        String old = System.getProperty("jemma.home.dir");
        System.setProperty("jemma.home.dir", "/nonexistent-jemma-home");
        try {
            var r = CliTestSupport.run(null, "run", "Why is the sky blue?");
            assertThat(r.exitCode()).isNotZero();
            assertThat(r.err().strip()).startsWith("jemma: no MODEL given and the bundled demo model is missing");
        } finally {
            if (old == null) System.clearProperty("jemma.home.dir");
            else System.setProperty("jemma.home.dir", old);
        }
    }

    @Test
    void tokenizeWorksOnAVocabOnlyFile() {
        var r = CliTestSupport.run(null, "tokenize", VOCAB, "--text", "<start_of_turn>user\nHi there!", "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).isEqualTo("[2, 105, 2364, 107, 10979, 993, 236888]");
        var noBos = CliTestSupport.run(null, "tokenize", VOCAB, "--text", "Hi there!", "--json", "--no-bos");
        assertThat(noBos.out().strip()).isEqualTo("[10979, 993, 236888]");
        var plain = CliTestSupport.run(null, "tokenize", VOCAB, "--text", "Hi");
        assertThat(plain.out()).contains("'<bos>'");
        var neither = CliTestSupport.run(null, "tokenize", VOCAB);
        assertThat(neither.exitCode()).isNotZero();
        assertThat(neither.err()).startsWith("jemma: ");
    }
}
