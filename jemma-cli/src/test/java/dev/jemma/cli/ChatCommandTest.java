package dev.jemma.cli;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;

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

    /** Ollama's habits: a switch without a value is named as unknown, not asked for a value; think/nothink answered. */
    @Test
    void unknownSettingsAreNamedAndThinkingSwitchesAnswered() {
        var r = CliTestSupport.run("/set format\n/set parameter num_ctx\n/set nothink\n/set think\n/set top_k\n/bye\n",
                "chat", RunCommandTest.TINY, "-n", "2", "-t", "1");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("Unknown parameter 'format'").contains("Unknown parameter 'num_ctx'")
                .doesNotContain("/set parameter format VALUE").doesNotContain("/set parameter nothink VALUE")
                .contains("Set 'nothink' mode").contains("This model has no thinking mode")
                .contains("Usage: /set parameter top_k VALUE");
    }

    /** /image and /audio refuse as the other chat commands do: a sentence of their own, no "jemma:" (a fatal error's prefix). */
    @Test
    void attachmentsToATextModelAreRefusedLikeTheOtherCommands() {
        var r = CliTestSupport.run("/image cat.png\n/audio hello.wav\n/bye\n", "chat", RunCommandTest.TINY, "-n", "2", "-t", "1");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("This model takes no images: it has no vision tower")
                .contains("This model takes no audio: it needs a Gemma 3n model").doesNotContain("jemma:");
    }

    /**
     * /set samplers default drops an order set by a flag or an earlier /set and goes back to the file's
     * general.sampling.sequence (not llama.cpp's: this file has its own), and /help says so.
     */
    @Test
    void samplersDefaultRestoresTheFilesOrder(@TempDir Path dir) throws Exception {
        Path seq = dir.resolve("seq.gguf");
        try (GgufFile f = GgufFile.open(Path.of(RunCommandTest.TINY))) {
            GgufWriter w = new GgufWriter().copyMetadata(f).putString("general.sampling.sequence", "top_k;temperature");
            for (GgufTensorInfo t : f.tensors().values()) {
                w.addTensor(t.name(), t.dims(), t.type(), o -> o.write(f.tensorData(t).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(seq);
        }
        var r = CliTestSupport.run("/show\n/set samplers temp\n/show\n/set samplers default\n/show\n/?\n/bye\n",
                "chat", seq.toString(), "--samplers", "min_p;temperature", "-n", "2", "-t", "1");
        assertThat(r.exitCode()).as(r.err()).isZero();
        String[] shows = r.out().split("  model        ", -1);
        assertThat(shows).hasSize(4);
        assertThat(shows[1]).contains("samplers min_p;temperature");
        assertThat(shows[2]).contains("samplers temperature\n").contains("Set parameter 'samplers' to 'default'");
        assertThat(shows[3]).contains("samplers top_k;temperature\n").contains("/set samplers default: the model's order");

        // a file without an order of its own: llama.cpp's, which /show leaves unsaid
        var plain = CliTestSupport.run("/set samplers default\n/show\n/bye\n", "chat", RunCommandTest.TINY, "--sampling-seq", "kt", "-n", "2", "-t", "1");
        assertThat(plain.exitCode()).as(plain.err()).isZero();
        assertThat(plain.out()).contains("Set parameter 'samplers' to 'default'").doesNotContain("samplers top_k");
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
