package dev.jemma.core.model;

import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.VectorWidth;
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
 * A model's logits do not depend on the JIT: computed in a child JVM that never leaves C1 ({@code -XX:TieredStopAtLevel=1}:
 * every Vector API operation runs its Java fallback, lane by lane), in this JVM on the first call, and here again once
 * the kernels are C2-compiled (the Vector API's intrinsics), they are the same bits. Before, they were not: a compiled
 * {@code reduceLanes(ADD)} sums its lanes in another order than the fallback, and a compiled
 * {@code lanewise(EXP / TANH)} calls the JDK's vector math library where the fallback calls {@code Math.exp / tanh}; in
 * the default mode one such ulp flips an int8 activation's rounding and moves whole logit rows, so a seeded generation
 * changed answer when the kernels compiled (docs/PERFORMANCE.md, "Same bits cold or warm"). The child runs at this JVM's
 * width and thread count: bits are promised per width, not across widths.
 */
class ColdWarmLogitsTest {
    private static final int STEPS = 4;

    @ParameterizedTest(name = "{0} {1} exact={2} threads={3}/{4}")
    @CsvSource({"gemma3-tiny, Q4_0, false, 2, 2", "gemma3-tiny, Q8_0, false, 2, 2", "gemma3n-tiny, Q8_0, false, 2, 2",
            "gemma3-tiny, Q4_0, true, 2, 2", "gemma3n-tiny, Q8_0, true, 2, 2", "gemma3-tiny, Q4_0, false, 1, 2"})
    void coldAndWarmLogitsAreTheSameBits(String model, String variant, boolean exact, int childThreads, int threads)
            throws IOException, InterruptedException {
        Path file = Fixtures.variant(model, variant);
        int[] ids = Fixtures.ints(Fixtures.manifest().path("models").path(model).path("prompts").path("short").path("ids"));
        float[] cold = childLogits(file, exact, childThreads, ids);
        float[] first, warm;
        try (ThreadPool pool = new ThreadPool(threads);
             LanguageModel m = ModelLoader.load(file, new ModelLoader.Options(exact, threads, 64), pool)) {
            first = ColdLogits.promptAndSteps(m, ids, STEPS);
            JitSettled.warmUp(() -> ColdLogits.promptAndSteps(m, ids, STEPS), 40, Duration.ofSeconds(120));
            warm = ColdLogits.promptAndSteps(m, ids, STEPS);
        }
        int vocab = cold.length / (ids.length + STEPS);
        assertThat(differences(cold, warm, vocab)).as("C1-only child vs C2-warmed logits").isEmpty();
        assertThat(differences(first, warm, vocab)).as("first call vs C2-warmed logits in one JVM").isEmpty();
    }

    /** "row r: n logits differ, first at i (a vs b)" for each row whose bits differ; empty when all agree. */
    private static List<String> differences(float[] a, float[] b, int vocab) {
        assertThat(a).hasSameSizeAs(b);
        List<String> rows = new ArrayList<>();
        for (int r = 0; r < a.length / vocab; r++) {
            int n = 0, firstAt = -1;
            for (int i = r * vocab; i < (r + 1) * vocab; i++) {
                if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) {
                    if (n++ == 0) firstAt = i;
                }
            }
            if (n > 0) rows.add("row " + r + ": " + n + " logits differ, first at " + (firstAt - r * vocab) + " ("
                    + a[firstAt] + " vs " + b[firstAt] + ")");
        }
        return rows;
    }

    /** {@link ColdLogits} in a child JVM at this one's width, C1 only. */
    private static float[] childLogits(Path file, boolean exact, int threads, int[] ids) throws IOException, InterruptedException {
        Path out = Files.createTempFile("jemma-cold", ".f32"), log = Files.createTempFile("jemma-cold", ".log");
        try {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
                if (a.startsWith("-agentlib") || a.startsWith("-javaagent") || a.startsWith("-XX:TieredStopAtLevel")
                        || a.equals("-XX:-TieredCompilation") || a.equals("-Xint") || a.equals("-Xcomp")) continue;
                cmd.add(a);
            }
            cmd.add("-XX:TieredStopAtLevel=1");
            cmd.add("-Djemma.vectorBits=" + VectorWidth.BITS);
            // surefire hands its system properties to this JVM, not to the command line
            for (String k : System.getProperties().stringPropertyNames()) {
                if (k.startsWith("jemma.") && !k.equals("jemma.vectorBits")) cmd.add("-D" + k + "=" + System.getProperty(k));
            }
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(ColdLogits.class.getName());
            cmd.add(file.toString());
            cmd.add(Boolean.toString(exact));
            cmd.add(Integer.toString(threads));
            cmd.add(Integer.toString(STEPS));
            cmd.add(out.toString());
            for (int id : ids) cmd.add(Integer.toString(id));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(300, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("the C1-only child took over 300 s: " + Files.readString(log, StandardCharsets.UTF_8));
            }
            assertThat(p.exitValue()).as("the child's exit status (output: %s)", Files.readString(log, StandardCharsets.UTF_8)).isZero();
            return Fixtures.readF32(out);
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(log);
        }
    }
}
