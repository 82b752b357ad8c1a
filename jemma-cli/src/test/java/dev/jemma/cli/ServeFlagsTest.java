package dev.jemma.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jemma serve}'s scheduler flags: what reaches the server's settings, and one line for a bad value. */
class ServeFlagsTest {
    private static dev.jemma.server.JemmaServer.Config parsed(String... args) {
        ServeCommand s = new ServeCommand();
        new CommandLine(s).parseArgs(args);
        return s.config();
    }

    @Test
    void wholePromptReachesTheServersSettings() {
        assertThat(parsed().wholePrompt()).as("unset: the engine's default (or -Djemma.wholePrompt)").isZero();
        assertThat(parsed("--whole-prompt", "128").wholePrompt()).isEqualTo(128);
        assertThat(parsed("--whole-prompt", "0").wholePrompt()).as("0: chunk every prompt").isEqualTo(-1);
        assertThat(parsed("--whole-prompt", "-1").wholePrompt()).as("-1: chunk every prompt").isEqualTo(-1);
        assertThat(parsed("--whole-prompt", "64", "--batch-chunk", "8").batchChunk()).isEqualTo(8);
    }

    @Test
    void admissionWindowReachesTheServersSettings() {
        assertThat(parsed().admissionMillis()).isEqualTo(dev.jemma.server.JemmaServer.DEFAULT_ADMISSION_MILLIS);
        assertThat(parsed("--admission-window", "0").admissionMillis()).isZero();
        assertThat(parsed("--admission-window", "40").admissionMillis()).isEqualTo(40);
        var bad = CliTestSupport.run(null, "serve", "--port", "0", "--admission-window", "-1");
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err().strip()).isEqualTo("jemma: --admission-window must be 0…10000 ms, got -1");
    }

    @Test
    void aBadWholePromptIsOneLine() {
        var bad = CliTestSupport.run(null, "serve", "--port", "0", "--whole-prompt", "-2");
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err().strip()).isEqualTo("jemma: --whole-prompt must be a token count 1…1048576, or 0 or -1 to chunk every prompt, got -2");
        var notANumber = CliTestSupport.run(null, "serve", "--port", "0", "--whole-prompt", "many");
        assertThat(notANumber.exitCode()).isNotZero();
        assertThat(notANumber.err()).contains("--whole-prompt").doesNotContain("Exception");
    }

    @Test
    void anEmptyCorsOriginIsRefused() {
        assertThat(parsed("--cors", "http://localhost:3000", "--cors", "*").corsOrigins()).containsExactly("http://localhost:3000", "*");
        // through the settings, not a run: without the check, serve would start and wait for its requests
        for (String empty : new String[]{"", " "}) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> parsed("--cors", "http://localhost:3000", "--cors", empty))
                    .isInstanceOf(dev.jemma.core.JemmaException.class)
                    .hasMessage("--cors: an empty origin allows no page; give one as scheme://host[:port], or '*' for any");
        }
    }

    @Test
    void helpNamesTheFlag() {
        var help = CliTestSupport.run(null, "serve", "--help");
        assertThat(help.out()).contains("--whole-prompt=N").contains("--admission-window=MS");
    }
}
