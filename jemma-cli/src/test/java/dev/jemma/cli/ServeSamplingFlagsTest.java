package dev.jemma.cli;

import dev.jemma.core.sampling.SamplerChain;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jemma serve} takes run's and chat's sampler flags as every model's defaults (ServeSamplingDefaultsApiTest in
 * jemma-server checks what requests then get): they reach the server's settings, --help lists them, and a bad value is
 * one line naming the flag before the port opens. Mutations caught: ServeCommand.config() not passing the flags on
 * (withSampling dropped); the range table's check skipped for serve.
 */
class ServeSamplingFlagsTest {
    private static dev.jemma.server.JemmaServer.Config parsed(String... args) {
        ServeCommand s = new ServeCommand();
        new CommandLine(s).parseArgs(args);
        return s.config();
    }

    @Test
    void samplerFlagsReachTheServersSettings() {
        assertThat(parsed().sampling()).as("no flag: no defaults of serve's own").isNull();
        var o = parsed("--temp", "0", "--seed", "7", "--top-k", "20", "--samplers", "top_k;temperature", "--dry-multiplier", "0.5").sampling();
        assertThat(o.temperature()).isEqualTo(0f);
        assertThat(o.seed()).isEqualTo(7L);
        assertThat(o.topK()).isEqualTo(20);
        assertThat(o.dryMultiplier()).isEqualTo(0.5f);
        assertThat(o.samplers()).isEqualTo(SamplerChain.ofNames("top_k;temperature"));
        assertThat(parsed("--sampling-seq", "kt").sampling().samplers()).isEqualTo(SamplerChain.ofLetters("kt"));
    }

    @Test
    void helpListsThem() {
        var help = CliTestSupport.run(null, "serve", "--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.out()).contains("--temp=T", "--top-k=K", "--seed=S", "--samplers=NAMES", "--sampling-seq=LETTERS", "--repeat-penalty=R");
    }

    @Test
    void aBadValueIsOneLineNamingTheFlag() {
        var bad = CliTestSupport.run(null, "serve", "--port", "0", "--temp", "-1");
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err().strip()).startsWith("jemma: --temp -1: must be").doesNotContain("\n");
        var order = CliTestSupport.run(null, "serve", "--port", "0", "--samplers", "top_k;nonsense");
        assertThat(order.exitCode()).isNotZero();
        assertThat(order.err().strip()).startsWith("jemma: --samplers top_k;nonsense: ").doesNotContain("\n");
    }
}
