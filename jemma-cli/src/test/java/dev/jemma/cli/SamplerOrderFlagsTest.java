package dev.jemma.cli;

import dev.jemma.core.sampling.SamplerChain;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** llama-cli's --samplers and --sampling-seq, and chat's /set samplers. */
class SamplerOrderFlagsTest {
    /** 16 greedy tokens (exact mode: no JIT-order flips between runs of one JVM) with the flags added; the ids printed. */
    static String greedy(String... flags) {
        List<String> args = new ArrayList<>(List.of("run", RunCommandTest.TINY, "Once upon a time there was a time when once upon a time",
                "--raw", "-n", "16", "--ignore-eos", "-t", "1", "--seed", "11", "--ids", "--exact", "--temp", "0"));
        args.addAll(List.of(flags));
        var r = CliTestSupport.run(null, args.toArray(String[]::new));
        assertThat(r.exitCode()).as(r.err()).isZero();
        return r.out();
    }

    /**
     * The order given is the order run: a repeat penalty after a greedy temperature stage no longer changes the pick, so
     * the answer is plain greedy's; before it (as by default) it is the penalised answer. Mutation caught: the flags
     * parsed but not put in the options (the first run is then the penalised answer).
     */
    @Test
    void theOrderGivenIsRun() {
        String plain = greedy(), penalty = greedy("--repeat-penalty", "5", "--repeat-last-n", "-1");
        assertThat(penalty).isNotEqualTo(plain);
        assertThat(greedy("--repeat-penalty", "5", "--repeat-last-n", "-1", "--samplers", "temperature;penalties")).isEqualTo(plain);
        assertThat(greedy("--repeat-penalty", "5", "--repeat-last-n", "-1", "--sampling-seq", "et")).isEqualTo(penalty);
    }

    /**
     * run --help says what --sampling-seq is: the --samplers list in letters (picocli sorts it above --samplers, so
     * "the same as letters" named nothing). Mutation caught: that old description.
     */
    @Test
    void helpSaysSamplingSeqIsSamplersInLetters() {
        var r = CliTestSupport.run(null, "run", "--help");
        assertThat(r.exitCode()).isZero();
        String help = r.out().replaceAll("\\s+", " ");
        assertThat(help).contains("--sampler-seq, --sampling-seq=LETTERS --samplers as one letter per stage");
    }

    @Test
    void flagsParseLlamaCppsSpellings() {
        GenerationFlags f = new GenerationFlags();
        f.sampling.samplers = "Top-K;typ;nucleus;min_p;temp";
        assertThat(f.options().samplers()).isEqualTo(SamplerChain.ofLetters("kypmt"));
        f.sampling.samplers = null;
        f.sampling.samplingSeq = "tk";
        assertThat(f.options().samplers().toString()).isEqualTo("temperature;top_k");
        assertThat(new GenerationFlags().options().samplers()).isNull();
    }

    @Test
    void badNamesAreOneLineNamingTheFlagAndValue() {
        String[][] bad = {
                {"--samplers", "top_k;tfs_z", "--samplers top_k;tfs_z: unknown sampler 'tfs_z' (Jemma's: penalties (e), dry (d), top_n_sigma (s), top_k (k), typ_p (y), top_p (p), min_p (m), xtc (x), temperature (t))"},
                {"--sampling-seq", "kq", "--sampling-seq kq: unknown sampler letter 'q' (Jemma's: penalties (e), dry (d), top_n_sigma (s), top_k (k), typ_p (y), top_p (p), min_p (m), xtc (x), temperature (t))"},
                {"--sampling-seq", "kti", "--sampling-seq kti: infill (llama.cpp's fill-in-the-middle sampler) is not supported by Jemma"},
        };
        for (String[] b : bad) {
            var r = CliTestSupport.run(null, "run", RunCommandTest.TINY, "hello", "-n", "1", "-t", "1", b[0], b[1]);
            assertThat(r.exitCode()).as(b[0] + " " + b[1]).isNotZero();
            assertThat(r.err().strip()).isEqualTo("jemma: " + b[2]);
        }
        var both = CliTestSupport.run(null, "run", RunCommandTest.TINY, "hello", "-n", "1", "--samplers", "top_k", "--sampling-seq", "k");
        assertThat(both.exitCode()).isNotZero();
        assertThat(both.err().strip()).isEqualTo("jemma: --samplers and --sampling-seq cannot be combined (both set the sampler order)");
    }

    @Test
    void chatSetSamplers() {
        var r = CliTestSupport.run("/set samplers kt\n/show\n/set samplers top_p;temp\n/show\n/set samplers kz\n/bye\n",
                "chat", RunCommandTest.TINY, "-n", "1", "-t", "1");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("Set parameter 'samplers' to 'kt'").contains("samplers top_k;temperature")
                .contains("samplers top_p;temperature").contains("samplers kz: unknown sampler letter 'z'");
    }
}
