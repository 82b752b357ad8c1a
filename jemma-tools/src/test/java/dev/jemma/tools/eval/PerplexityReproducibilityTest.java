package dev.jemma.tools.eval;

import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.C1Child;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.JitSettled;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

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
        String out = C1Child.run(PerplexityFigures.class, List.of(file.toString(), Boolean.toString(exact), Integer.toString(threads)));
        return out.lines().filter(l -> l.startsWith("ppl=")).findFirst()
                .orElseThrow(() -> new AssertionError("no figures from the child: " + out));
    }
}
