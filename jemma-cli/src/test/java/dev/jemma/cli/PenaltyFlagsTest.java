package dev.jemma.cli;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The CLI's penalty flags and chat's /set take the server's ranges (repeat_penalty above 0 and at most 100,
 * presence_penalty and frequency_penalty -2…2): a value outside is one line naming the flag and the value.
 */
class PenaltyFlagsTest {
    @Test
    void outOfRangePenaltiesAreOneLineNamingTheFlag() {
        String[][] bad = {
                {"--repeat-penalty", "0", "--repeat-penalty 0: must be above 0 and at most 100 (1 = off)"},
                {"--repeat-penalty", "101", "--repeat-penalty 101: must be above 0 and at most 100 (1 = off)"},
                {"--presence-penalty", "2.5", "--presence-penalty 2.5: must be between -2 and 2 (0 = off)"},
                {"--presence-penalty", "-3", "--presence-penalty -3: must be between -2 and 2 (0 = off)"},
                {"--frequency-penalty", "NaN", "--frequency-penalty NaN: must be between -2 and 2 (0 = off)"},
                {"--frequency-penalty", "-2.01", "--frequency-penalty -2.01: must be between -2 and 2 (0 = off)"},
        };
        for (String[] b : bad) {
            var r = CliTestSupport.run(null, "run", RunCommandTest.TINY, "hello", "-n", "1", "-t", "1", b[0], b[1]);
            assertThat(r.exitCode()).as(b[0] + " " + b[1]).isNotZero();
            assertThat(r.err().strip()).isEqualTo("jemma: " + b[2]);
        }
    }

    @Test
    void theBoundsThemselvesAreTaken() {
        var r = CliTestSupport.run(null, "run", RunCommandTest.TINY, "hello", "-n", "1", "-t", "1",
                "--repeat-penalty", "100", "--presence-penalty", "-2", "--frequency-penalty", "2");
        assertThat(r.exitCode()).as(r.err()).isZero();
    }

    @Test
    void chatSetTakesTheSameRanges() {
        var r = CliTestSupport.run("/set parameter presence_penalty 3\n/set frequency_penalty -2\n/set repeat_penalty 1000\n/bye\n",
                "chat", RunCommandTest.TINY, "-n", "1", "-t", "1");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("presence_penalty 3: must be between -2 and 2 (0 = off)")
                .contains("Set parameter 'frequency_penalty' to '-2'")
                .contains("repeat_penalty 1000: must be above 0 and at most 100 (1 = off)");
    }
}
