package dev.jemma.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jemma --help} lists each command with the first line of its description only, so that line must be a whole
 * sentence: three commands' summaries used to stop mid-sentence ("… split into", "… to GGUF,").
 */
class HelpSummariesTest {
    @Test
    void everyCommandsSummaryIsAWholeSentence() {
        CommandLine root = new CommandLine(new Main());
        assertThat(root.getSubcommands()).isNotEmpty();
        root.getSubcommands().forEach((name, cmd) -> {
            String[] description = cmd.getCommandSpec().usageMessage().description();
            assertThat(description).as(name).isNotEmpty();
            assertThat(description[0].strip()).as("summary of " + name).endsWith(".");
        });
        // and the root help shows them: the convert line ends its sentence
        var help = CliTestSupport.run(null, "--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.out().replaceAll("\\s+", " ")).contains("merge a model GGUF and its mmproj into one. ");
    }

    /** Each subcommand's help offers -V, --version: it prints the version, as jemma --version does. */
    @Test
    void everySubcommandsVersionFlagPrintsTheVersion() {
        String version = CliTestSupport.run(null, "--version").out().strip();
        assertThat(version).startsWith("jemma ");
        new CommandLine(new Main()).getSubcommands().forEach((name, cmd) -> {
            // picocli's help command and the launcher's hidden heap command have no --version
            if (cmd.getCommandSpec().optionsMap().get("--version") == null) return;
            var r = CliTestSupport.run(null, name, "--version");
            assertThat(r.exitCode()).as(name).isZero();
            assertThat(r.out().strip()).as(name + " --version").isEqualTo(version);
        });
    }

    @Test
    void anUnknownCommandIsNamedAsSuch() {
        var r = CliTestSupport.run(null, "frobnicate", "x");
        assertThat(r.exitCode()).isEqualTo(2);
        assertThat(r.err().strip()).isEqualTo("jemma: unknown command 'frobnicate' (see 'jemma --help')");
        var typo = CliTestSupport.run(null, "quantise", "a.gguf", "b.gguf", "Q4_0");
        assertThat(typo.exitCode()).isEqualTo(2);
        assertThat(typo.err().strip()).isEqualTo("jemma: unknown command 'quantise'; did you mean quantize? (see 'jemma --help')");
    }
}
