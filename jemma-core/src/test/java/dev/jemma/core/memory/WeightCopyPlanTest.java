package dev.jemma.core.memory;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The memory plan counts the interleaved weight copy the default mode reads its matrices from: before the first load
 * it names the file and size the load then writes, after it says the copy is there; exact mode plans without one.
 * Mutations caught: a copied matrix left out of an architecture's list (or one too many, or another order: the header
 * differs), the page alignment of the layout dropped (sizes differ), the plan counting the GGUF's matrices in fast
 * memory despite the copy.
 */
class WeightCopyPlanTest {
    private static final Path GEMMA3 = Fixtures.bundled().resolve("gemma3-tiny/gemma3-tiny-Q4_0.gguf");

    @TempDir
    Path cache;

    private static Path resource(String name) throws java.net.URISyntaxException {
        return Path.of(WeightCopyPlanTest.class.getResource("/gemma3n/" + name).toURI());
    }

    @Test
    void gemma3PlanIsTheCopyTheLoadWrites() throws Exception {
        check(GEMMA3, null);
    }

    @Test
    void gemma3nPlanIsTheCopyTheLoadWritesSlicedOrNot() throws Exception {
        check(resource("e4b-shaped-Q8_0.gguf"), null);
        check(resource("e4b-shaped-Q8_0.gguf"), "e2b");
    }

    private void check(Path model, String matformer) throws Exception {
        String previous = System.getProperty("jemma.cache.dir");
        System.setProperty("jemma.cache.dir", cache.toString());
        try (ThreadPool pool = new ThreadPool(1)) {
            ModelLoader.Options fast = new ModelLoader.Options(false, 1, 16, matformer).withContextLength(64);
            MemoryPlan before, after;
            try (GgufFile f = GgufFile.open(model)) {
                before = ModelLoader.plan(f, fast);
                MemoryPlan exact = ModelLoader.plan(f, new ModelLoader.Options(true, 1, 16, matformer).withContextLength(64));
                assertThat(exact.copy()).isNull();
                assertThat(exact.fastWeightBytes()).isEqualTo(exact.weightBytes() - exact.mappedBytes());
            }
            try (LanguageModel m = ModelLoader.load(model, fast, pool)) {
                // loaded: the copy is written
            }
            try (GgufFile f = GgufFile.open(model)) {
                after = ModelLoader.plan(f, fast);
            }
            List<Path> written = files();
            if (before.copy() == null) {
                // no int8 kernels at this vector width: no copy planned, none made
                assertThat(written).isEmpty();
                return;
            }
            assertThat(before.copy().present()).isFalse();
            assertThat(written).contains(before.copy().file());
            assertThat(after.copy().file()).isEqualTo(before.copy().file());
            assertThat(after.copy().present()).isTrue();
            assertThat(before.copy().bytes()).isEqualTo(after.copy().bytes()).isEqualTo(Files.size(before.copy().file()));
            assertThat(before.fastWeightBytes()).isEqualTo(before.weightBytes() - before.mappedBytes() - before.copy().sourceBytes() + before.copy().bytes());
            // the first load's peak holds the GGUF's copied matrices too; later loads do not
            assertThat(before.firstLoadPeakBytes()).isEqualTo(before.totalBytes() + before.copy().sourceBytes());
            assertThat(after.firstLoadPeakBytes()).isEqualTo(after.totalBytes());
        } finally {
            if (previous != null) System.setProperty("jemma.cache.dir", previous);
            else System.clearProperty("jemma.cache.dir");
        }
    }

    private List<Path> files() throws java.io.IOException {
        try (Stream<Path> s = Files.list(cache)) {
            return s.toList();
        }
    }

    /**
     * Building the copy reads every copied matrix of the GGUF through its mapping; a Gemma 3n model reads some tensors
     * from the file afterwards (the per-layer table, the projections left uncopied), yet must not keep the copied ones
     * resident (an E2B Q4_0 kept 1.44 GB of them, 3.2 GB instead of 1.8 GB). Linux only (/proc/self/smaps). Mutation
     * caught: Gemma3nModel's releaseResidentPages after the copy is attached removed.
     */
    @Test
    void gemma3nLoadLeavesTheGgufsCopiedPagesOutOfMemory() throws Exception {
        Path model = resource("e4b-shaped-Q8_0.gguf");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/smaps")), "no /proc/self/smaps here");
        String previous = System.getProperty("jemma.cache.dir");
        System.setProperty("jemma.cache.dir", cache.toString());
        try (ThreadPool pool = new ThreadPool(1)) {
            ModelLoader.Options fast = new ModelLoader.Options(false, 1, 16, null).withContextLength(64);
            MemoryPlan plan;
            try (GgufFile f = GgufFile.open(model)) {
                plan = ModelLoader.plan(f, fast);
            }
            org.junit.jupiter.api.Assumptions.assumeTrue(plan.copy() != null, "no int8 kernels at this vector width: no copy");
            try (LanguageModel m = ModelLoader.load(model, fast, pool)) {
                assertThat(Files.size(plan.copy().file())).isEqualTo(plan.copy().bytes()); // built by this load
                // what stays resident of the file: at most the part the model reads from it, not the copied matrices
                assertThat(residentBytes(model)).isLessThan(plan.copy().sourceBytes() / 4);
            }
        } finally {
            if (previous != null) System.setProperty("jemma.cache.dir", previous);
            else System.clearProperty("jemma.cache.dir");
        }
    }

    /** Resident bytes of this process's mappings of {@code file}, from /proc/self/smaps. */
    private static long residentBytes(Path file) throws java.io.IOException {
        String name = file.toRealPath().toString();
        long kb = 0;
        boolean in = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            if (line.matches("^[0-9a-f]+-[0-9a-f]+ .*")) in = line.endsWith(" " + name);
            else if (in && line.startsWith("Rss:")) kb += Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        return kb * 1024;
    }
}
