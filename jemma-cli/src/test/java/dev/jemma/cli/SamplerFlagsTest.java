package dev.jemma.cli;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * llama-cli's flags for typical, Mirostat, XTC and DRY: applied (each changes a seeded answer), ranges checked with one
 * line naming the flag, and chat's /set takes the same names as Ollama's options.
 */
class SamplerFlagsTest {
    static CliTestSupport.Result run(String... flags) {
        return run(24, flags);
    }

    static CliTestSupport.Result run(int n, String... flags) {
        List<String> args = new ArrayList<>(List.of("run", RunCommandTest.TINY, "Once upon a time there was a time when once upon a time",
                "--raw", "-n", Integer.toString(n), "--ignore-eos", "-t", "1", "--seed", "11", "--ids"));
        args.addAll(List.of(flags));
        return CliTestSupport.run(null, args.toArray(String[]::new));
    }

    @Test
    void outOfRangeValuesAreOneLineNamingTheFlag() {
        String[][] bad = {
                {"--typical", "1.5", "--typical 1.5: must be between 0 and 1 (1 = off)"},
                {"--mirostat", "3", "--mirostat 3: must be 0 (off), 1 (Mirostat) or 2 (Mirostat 2.0)"},
                {"--mirostat-lr", "-0.1", "--mirostat-lr -0.1: must be between 0 and 10"},
                {"--mirostat-ent", "101", "--mirostat-ent 101: must be between 0 and 100"},
                {"--xtc-probability", "2", "--xtc-probability 2: must be between 0 and 1 (0 = off)"},
                {"--xtc-threshold", "-1", "--xtc-threshold -1: must be between 0 and 1 (above 0.5 = off)"},
                {"--dry-multiplier", "-1", "--dry-multiplier -1: must be between 0 and 100 (0 = off)"},
                {"--dry-base", "0.5", "--dry-base 0.5: must be between 1 and 100"},
                {"--dry-allowed-length", "0", "--dry-allowed-length 0: must be >= 1"},
                {"--dry-penalty-last-n", "-2", "--dry-penalty-last-n -2: must be >= -1 (-1 = the whole context, 0 = off)"},
                {"--dry-sequence-breaker", "", "--dry-sequence-breaker: must not be empty ('none' for no breakers)"},
                {"--top-nsigma", "101", "--top-nsigma 101: must be at most 100 (0 or below = off)"},
        };
        for (String[] b : bad) {
            var r = CliTestSupport.run(null, "run", RunCommandTest.TINY, "hello", "-n", "1", "-t", "1", b[0], b[1]);
            assertThat(r.exitCode()).as(b[0] + " " + b[1]).isNotZero();
            assertThat(r.err().strip()).isEqualTo("jemma: " + b[2]);
        }
    }

    /** Each sampler, set strongly, changes 24 seeded tokens; off values change nothing. */
    @Test
    void eachFlagChangesTheAnswer() {
        String base = run().out();
        String[][] on = {{"--typical", "0.05"}, {"--top-nsigma", "0.5"}, {"--mirostat", "2", "--mirostat-ent", "0.5"}, {"--mirostat", "1", "--mirostat-lr", "0.5", "--mirostat-ent", "0.5"},
                {"--xtc-probability", "1", "--xtc-threshold", "0.02"}};
        for (String[] f : on) {
            var r = run(f);
            assertThat(r.exitCode()).as(r.err()).isZero();
            assertThat(r.out()).as(String.join(" ", f)).isNotEqualTo(base);
        }
        // DRY on the greedy answer, which repeats itself within 64 tokens on this prompt (ExtraSamplersEngineTest)
        String greedy = run(64, "--temp", "0").out();
        assertThat(run(64, "--temp", "0", "--dry-multiplier", "50", "--dry-allowed-length", "1", "--dry-sequence-breaker", "none").out()).isNotEqualTo(greedy);
    }

    /**
     * The off values change no draw. Checked on the sampler over fixed logits, not on two runs of the model: two seeded
     * runs in one JVM can differ by a token where the JIT compiled a kernel between them (float sums in another order; a
     * draw near a boundary of the near-flat random-weight distribution then flips — CI of c40864f).
     */
    @Test
    void offValuesChangeNoDraw() {
        GenerationFlags off = new GenerationFlags();
        off.sampling.seed = 11L;
        off.sampling.typicalP = 1f;
        off.sampling.mirostat = 0;
        off.sampling.xtcProbability = 0f;
        off.sampling.dryMultiplier = 0f;
        off.sampling.topNSigma = -1f;
        GenerationFlags plain = new GenerationFlags();
        plain.sampling.seed = 11L;
        var a = new dev.jemma.core.sampling.Sampler(off.options().sampling());
        var b = new dev.jemma.core.sampling.Sampler(plain.options().sampling());
        java.util.Random random = new java.util.Random(5);
        int vocab = 1000;
        float[] logits = new float[vocab];
        int[] history = new int[64];
        for (int step = 0; step < 500; step++) {
            for (int i = 0; i < vocab; i++) logits[i] = (float) random.nextGaussian() * 2;
            int n = Math.min(step, history.length);
            int x = a.sample(logits.clone(), 0, vocab, history, n), y = b.sample(logits.clone(), 0, vocab, history, n);
            assertThat(x).as("step " + step).isEqualTo(y);
            history[step % history.length] = x;
        }
    }

    @Test
    void sequenceBreakersTakeEscapesAndReplaceTheDefaults() {
        GenerationFlags f = new GenerationFlags();
        f.sampling.drySequenceBreakers = List.of("\\n", "::", "\\\\");
        assertThat(f.sampling.breakers()).containsExactly("\n", "::", "\\");
        f.sampling.drySequenceBreakers = List.of("none");
        assertThat(f.sampling.breakers()).isEmpty();
        f.sampling.drySequenceBreakers = null;
        assertThat(f.sampling.breakers()).isNull();
    }

    @Test
    void chatSetTakesTheOptionsNames() {
        var r = CliTestSupport.run("/set parameter mirostat 2\n/set mirostat_tau 3\n/set typical_p 2\n/set dry_multiplier 0.8\n/set xtc_probability 0.5\n/show\n/bye\n",
                "chat", RunCommandTest.TINY, "-n", "1", "-t", "1");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("Set parameter 'mirostat' to '2'").contains("Set parameter 'mirostat_tau' to '3'")
                .contains("typical_p 2: must be between 0 and 1 (1 = off)")
                .contains("mirostat 2 (tau 3.0, eta 0.1), xtc 0.5 above 0.1, dry 0.8 (base 1.75, allowed 2)");
    }
}
