package dev.jemma.core.model;

import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.C1Child;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.JitSettled;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

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
        Path out = Files.createTempFile("jemma-cold", ".f32");
        try {
            List<String> args = new ArrayList<>(List.of(file.toString(), Boolean.toString(exact), Integer.toString(threads),
                    Integer.toString(STEPS), out.toString()));
            for (int id : ids) args.add(Integer.toString(id));
            C1Child.run(ColdLogits.class, args);
            return Fixtures.readF32(out);
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
