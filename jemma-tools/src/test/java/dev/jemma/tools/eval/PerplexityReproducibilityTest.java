package dev.jemma.tools.eval;

import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.JitSettled;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jemma perplexity} gives the same figures, to the last bit of the doubles, run after run: in a fresh child JVM
 * that never leaves C1 on one thread, and in this JVM on two threads both on its first run and once C2 has compiled the
 * kernels. It used to move by ~1e-4 from run to run (the Vector API's compiled reductions and exp summed otherwise than
 * the interpreted ones; docs/PERFORMANCE.md, "Same bits cold or warm"); llama.cpp's llama-perplexity, for comparison,
 * repeats its output for a given build and thread count. Bits are promised per vector width (the child runs at this
 * JVM's), not across widths. The figures' own arithmetic ({@link Perplexity#nll}: scalar exp, a double sum in order)
 * was deterministic already; what this guards is the logits under it.
 */
class PerplexityReproducibilityTest {
    @ParameterizedTest(name = "{0} {1} exact={2}")
    @CsvSource({"demo, , false", "demo, , true", "gemma3n-tiny, Q8_0, false"})
    void theSameFiguresColdWarmAndOnOneOrTwoThreads(String model, String variant, boolean exact) throws Exception {
        Path file = model.equals("demo") ? Fixtures.demoModel() : Fixtures.variant(model, variant);
        String child = childFigures(file, exact, 1);
        String first, warm;
        int[] tokens = PerplexityFigures.tokens(file);
        try (ThreadPool pool = new ThreadPool(2);
             LanguageModel m = ModelLoader.load(file, new ModelLoader.Options(exact, 2, PerplexityFigures.BATCH), pool)) {
            first = PerplexityFigures.of(m, tokens);
            JitSettled.warmUp(() -> PerplexityFigures.of(m, tokens), 40, Duration.ofSeconds(120));
            warm = PerplexityFigures.of(m, tokens);
        }
        assertThat(first).as("this JVM's first run (2 threads) against its C2-warmed run").isEqualTo(warm);
        assertThat(child).as("a C1-only child JVM (1 thread) against this JVM's C2-warmed run (2 threads)").isEqualTo(warm);
    }

    /** {@link PerplexityFigures#main} in a child JVM at this one's width, C1 only. */
    private static String childFigures(Path file, boolean exact, int threads) throws IOException, InterruptedException {
        Path log = Files.createTempFile("jemma-ppl", ".log");
        try {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
                if (a.startsWith("-agentlib") || a.startsWith("-javaagent") || a.startsWith("-XX:TieredStopAtLevel")
                        || a.equals("-XX:-TieredCompilation") || a.equals("-Xint") || a.equals("-Xcomp")) continue;
                cmd.add(a);
            }
            cmd.add("-XX:TieredStopAtLevel=1");
            // surefire hands its system properties to this JVM, not to the command line (the width's flags, e.g.
            // -XX:UseAVX=2 -Djemma.vectorBits=256, come with the arguments above)
            for (String k : System.getProperties().stringPropertyNames()) {
                if (k.startsWith("jemma.")) cmd.add("-D" + k + "=" + System.getProperty(k));
            }
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(PerplexityFigures.class.getName());
            cmd.add(file.toString());
            cmd.add(Boolean.toString(exact));
            cmd.add(Integer.toString(threads));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("the C1-only child took over 300 s: " + Files.readString(log, StandardCharsets.UTF_8));
            }
            String out = Files.readString(log, StandardCharsets.UTF_8);
            assertThat(p.exitValue()).as("the child's exit status (output: %s)", out).isZero();
            return out.lines().filter(l -> l.startsWith("ppl=")).findFirst()
                    .orElseThrow(() -> new AssertionError("no figures from the child: " + out));
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
