package dev.jemma.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** `jemma chat` driven through piped input (the terminal behaviour itself was tried by hand in tmux). */
class ChatCommandTest {
    @Test
    void multiTurnCommandsAndMultiLineInput() {
        String input = String.join("\n",
                "Where is the old house?",
                "\"\"\"First line",
                "second line\"\"\"",
                "/set temperature 0",
                "/set parameter top_k 5",
                "/set temperature hot",
                "/show",
                "/clear",
                "/nonsense",
                "/?",
                "And the river?",
                "/bye",
                "never read") + "\n";
        var r = CliTestSupport.run(input, "chat", RunCommandTest.TINY, "-n", "4", "--seed", "1", "-t", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        String out = r.out();
        assertThat(out).contains(">>> ").contains("... ")
                .contains("Set parameter 'temperature' to '0'")
                .contains("Set parameter 'top_k' to '5'")
                .contains("'hot' is not a number")
                .contains("temperature 0.0, top_k 5")
                .contains("Cleared session context.")
                .contains("Unknown command '/nonsense'")
                .contains("/bye");
        // three answers were generated (two before /clear, one after), none after /bye
        assertThat(out.split(">>> ", -1).length).isGreaterThanOrEqualTo(12);
    }

    @Test
    void endOfInputLeavesCleanly() {
        var r = CliTestSupport.run("Hello\n", "chat", RunCommandTest.TINY, "-n", "2", "-t", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
        // the last prompt's line is ended: the shell's prompt does not follow ">>> " on the same line
        assertThat(r.out()).endsWith(">>> \n");
    }

    @Test
    void missingModelIsOneLine() {
        var r = CliTestSupport.run("", "chat", "/no/such.gguf");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err().strip()).startsWith("jemma: ").doesNotContain("\n");
    }
}
