package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.engine.SamplerSetting;
import dev.jemma.core.engine.SamplerSettingProbes;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The CLI's sampling flags and chat's /set take every setting within {@link SamplerSetting}'s range, bounds included,
 * and refuse the values just outside with one line naming the flag (or /set name) and the value — the table the APIs
 * use too (SamplerRangeTableTest in jemma-server). Mutations caught: a flag applied without the table's check (--top-p
 * 1.0000001 then fails in the sampler, with a message naming no flag), a /set name without it, a bound of the table
 * changed in one front end only.
 */
class SamplerRangeTableFlagsTest {
    private static GenerationFlags parse(String flag, String value) {
        GenerationFlags f = new GenerationFlags();
        new CommandLine(f).parseArgs(flag, value);
        return f;
    }

    @Test
    void flagsTakeTheTablesRanges() {
        for (SamplerSetting s : SamplerSetting.values()) {
            for (String v : SamplerSettingProbes.accepted(s, s.max())) {
                assertThatCode(() -> parse(s.flag(), v).options()).as(s.flag() + " " + v).doesNotThrowAnyException();
            }
            for (String v : SamplerSettingProbes.refused(s, s.max())) {
                Number n = s.integer() ? (Number) Integer.valueOf(v) : Float.valueOf(v);
                assertThatThrownBy(() -> parse(s.flag(), v).options()).as(s.flag() + " " + v).isInstanceOf(JemmaException.class)
                        .hasMessage(s.flag() + " " + n + ": must be " + s.rule());
            }
        }
    }

    /** Chat's /set under the APIs' names: every value refused is one line, every bound set. */
    @Test
    void chatSetTakesTheTablesRanges() {
        StringBuilder script = new StringBuilder();
        StringBuilder expected = new StringBuilder();
        for (SamplerSetting s : SamplerSetting.values()) {
            for (String v : SamplerSettingProbes.refused(s, s.max())) {
                script.append("/set parameter ").append(s.apiName()).append(' ').append(v).append('\n');
                Number n = s.integer() ? (Number) Integer.valueOf(v) : Float.valueOf(v);
                expected.append(s.apiName()).append(' ').append(n).append(": must be ").append(s.rule()).append('\n');
            }
            for (String v : SamplerSettingProbes.accepted(s, s.max())) {
                script.append("/set parameter ").append(s.apiName()).append(' ').append(v).append('\n');
                expected.append("Set parameter '").append(s.apiName()).append("' to '").append(v).append("'\n");
            }
        }
        var r = CliTestSupport.run(script + "/bye\n", "chat", RunCommandTest.TINY, "-n", "1", "-t", "1");
        assertThat(r.exitCode()).as(r.err()).isZero();
        String out = r.out().replace("\r", "");
        for (String line : expected.toString().split("\n")) assertThat(out).contains(line);
    }

    /**
     * The value in a refusal is the one typed: "--repeat-penalty 0", not the parsed float's "0.0" (and "1e-50", which
     * parses to 0, not "0.0"); chat's /set likewise. Mutation caught: the message built from the parsed number (the
     * old SamplerSetting.check(as, v) in GenerationFlags.check, or in ChatCommand's /set).
     */
    @Test
    void refusalsNameTheValueAsTyped() {
        String[][] cases = {{"--repeat-penalty", "0"}, {"--repeat-penalty", "1e-50"}, {"--temp", "-1"}, {"--top-p", "2"}, {"-n", "-3"}};
        for (String[] c : cases) {
            SamplerSetting s = java.util.Arrays.stream(SamplerSetting.values()).filter(x -> x.flag().equals(c[0])).findFirst().orElseThrow();
            assertThatThrownBy(() -> parse(c[0], c[1]).options()).isInstanceOf(JemmaException.class)
                    .hasMessage(c[0] + " " + c[1] + ": must be " + s.rule());
        }
        var r = CliTestSupport.run("/set parameter repeat_penalty 0\n/set temperature -1\n/bye\n", "chat", RunCommandTest.TINY, "-n", "1", "-t", "1");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("repeat_penalty 0: must be " + SamplerSetting.REPEAT_PENALTY.rule())
                .contains("temperature -1: must be " + SamplerSetting.TEMPERATURE.rule());
    }
}
