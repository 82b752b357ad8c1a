package dev.jemma.core.engine;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.memory.MemoryPlan;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every text load checks the plan the engine uses, the interleaved weight copy included: a machine with room for the
 * model read from its GGUF but not for the copy (which page-aligns every matrix, so is larger than the GGUF bytes it
 * replaces) refuses a single-session load, through {@code ModelLoader.load} (jemma bench, perplexity, logits) and through
 * an {@code Engine} (run, chat, serve), in one line naming the copy; exact mode, which makes no copy, loads there.
 * Mutations caught: {@code ModelLoader.load} checking the plan without the copy (its 5-argument {@code plan}, as before:
 * the loader loads), the engine not checking its own plan before a load it asks not to check (the engine loads).
 */
class TextCopyPlanTest {
    @TempDir
    Path cache;

    @AfterEach
    void clear() {
        System.clearProperty("jemma.cache.dir");
        System.clearProperty("jemma.memory.available");
    }

    private static Path model(String which) throws Exception {
        return switch (which) {
            case "gemma3" -> Fixtures.bundled().resolve("gemma3-tiny/gemma3-tiny-Q4_0.gguf");
            default -> Fixtures.shared().resolve("gemma3n-tiny/gemma3n-tiny-Q8_0.gguf");
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma3", "gemma3n"})
    void aSingleSessionLoadWithRoomForTheGgufButNotTheCopyIsRefusedNamingTheCopy(String which) throws Exception {
        System.setProperty("jemma.cache.dir", cache.toString());
        Path model = model(which);
        ModelLoader.Options fast = new ModelLoader.Options(false, 1, 16, null).withContextLength(64);
        MemoryPlan plan;
        try (GgufFile f = GgufFile.open(model)) {
            plan = ModelLoader.plan(f, fast);
        }
        Assumptions.assumeTrue(plan.copy() != null, "no int8 kernels at this vector width: no copy");
        MemoryPlan gguf = plan.withCopy(null);
        assertThat(plan.totalBytes()).as("the copy is larger than the GGUF bytes it replaces").isGreaterThan(gguf.totalBytes());

        System.setProperty("jemma.memory.available", String.valueOf((gguf.totalBytes() + plan.totalBytes()) / 2));
        try (ThreadPool pool = new ThreadPool(1)) {
            assertThatThrownBy(() -> ModelLoader.load(model, fast, pool).close()).isInstanceOf(JemmaException.class)
                    .hasMessageContaining("the interleaved weight copy").hasMessageContaining("built by this load")
                    .hasMessageNotContaining("\n");
            try (LanguageModel m = ModelLoader.load(model, new ModelLoader.Options(true, 1, 16, null).withContextLength(64), pool)) {
                // exact mode reads the GGUF itself: it fits
            }
        }

        // the engine's own plan (its batch, its threads), from a load with room (which builds the copy), then the same squeeze
        System.clearProperty("jemma.memory.available");
        EngineOptions options = EngineOptions.builder().threads(1).contextLength(64).build();
        MemoryPlan engine;
        try (Engine e = Engine.load(model, options)) {
            engine = e.memoryPlan();
        }
        assertThat(engine.copy()).isNotNull();
        System.setProperty("jemma.memory.available", String.valueOf((engine.withCopy(null).totalBytes() + engine.totalBytes()) / 2));
        assertThatThrownBy(() -> Engine.load(model, options).close()).isInstanceOf(JemmaException.class)
                .hasMessageContaining("the interleaved weight copy").hasMessageNotContaining("built by this load")
                .hasMessageNotContaining("\n");
    }
}
