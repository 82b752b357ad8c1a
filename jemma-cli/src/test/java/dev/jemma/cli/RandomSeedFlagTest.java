package dev.jemma.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --seed -1} is llama-cli's "random seed" (LLAMA_DEFAULT_SEED): each run samples with a freshly drawn seed,
 * never -1 itself; and chat's /show says "seed random" for it. Mutation caught: GenerationOptions.sampling() taking
 * -1 literally (the sampler's seed is -1 every run).
 */
class RandomSeedFlagTest {
    @Test
    void seedMinusOneIsRandom() {
        GenerationFlags f = new GenerationFlags();
        new CommandLine(f).parseArgs("--seed", "-1");
        long a = f.options().sampling().seed(), b = f.options().sampling().seed();
        assertThat(a).isNotEqualTo(-1L);
        assertThat(b).isNotEqualTo(-1L).isNotEqualTo(a);
    }

    @Test
    void chatShowSaysRandomForSeedMinusOne() {
        var r = CliTestSupport.run("/set parameter seed -1\n/show\n/bye\n", "chat", RunCommandTest.TINY, "-n", "1", "-t", "1", "--seed", "7");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("seed random").doesNotContain("seed -1").doesNotContain("seed 7");
    }
}
