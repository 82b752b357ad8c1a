package dev.jemma.cli;

import dev.jemma.core.JemmaProperties;
import dev.jemma.core.repack.RepackCache;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jemma cache}: the weight cache listed with each copy's model file and state, and pruned of what is not in use. */
class CacheCommandTest {
    @TempDir
    Path tmp;
    private String cacheDir;

    @BeforeEach
    void ownCache() {
        // the build points every test at one shared cache directory: this test lists and prunes its own
        cacheDir = System.getProperty(JemmaProperties.CACHE_DIR);
        System.setProperty(JemmaProperties.CACHE_DIR, tmp.resolve("cache").toString());
    }

    @AfterEach
    void sharedCache() {
        if (cacheDir == null) System.clearProperty(JemmaProperties.CACHE_DIR);
        else System.setProperty(JemmaProperties.CACHE_DIR, cacheDir);
    }

    /** Runs the tiny model from {@code name} in the default mode, which builds its weight copy. */
    private Path runFrom(String name) throws IOException {
        Path model = Files.copy(Path.of(RunCommandTest.TINY), tmp.resolve(name));
        var r = CliTestSupport.run(null, "run", model.toString(), "Hi", "-n", "1", "-t", "1", "--ids");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(RepackCache.cacheFilesFor(model)).as("the run built a weight copy").hasSize(1);
        return model.toRealPath();
    }

    @Test
    void listsEachCopyWithItsModelAndStateThenPrunesTheOrphans() throws IOException {
        var empty = CliTestSupport.run(null, "cache");
        assertThat(empty.exitCode()).as(empty.err()).isZero();
        assertThat(empty.out()).contains("is empty");

        Path gone = runFrom("a.gguf"), kept = runFrom("b.gguf");
        Path goneCopy = RepackCache.cacheFilesFor(gone).getFirst(), keptCopy = RepackCache.cacheFilesFor(kept).getFirst();
        var list = CliTestSupport.run(null, "cache", "list");
        assertThat(list.exitCode()).as(list.err()).isZero();
        assertThat(list.out()).contains("FILE", "SIZE", "STATE", "SOURCE").doesNotContain("prune");
        assertThat(line(list.out(), gone)).contains(goneCopy.getFileName().toString(), "in use");
        assertThat(line(list.out(), kept)).contains(keptCopy.getFileName().toString(), "in use");

        Files.delete(gone);
        var after = CliTestSupport.run(null, "cache");
        assertThat(after.exitCode()).isZero();
        assertThat(line(after.out(), gone)).contains("source gone");
        assertThat(line(after.out(), kept)).contains("in use");
        assertThat(after.out()).contains("2 files", "'jemma cache prune' frees", "1 file not in use");

        long size = Files.size(goneCopy);
        var prune = CliTestSupport.run(null, "cache", "prune");
        assertThat(prune.exitCode()).as(prune.err()).isZero();
        assertThat(prune.out()).contains("removed " + goneCopy.getFileName(), "source gone", gone.toString(),
                "freed " + PullCommand.ProgressBar.human(size) + " (1 file)");
        assertThat(goneCopy).doesNotExist();
        assertThat(keptCopy).exists();
        var again = CliTestSupport.run(null, "cache", "prune");
        assertThat(again.exitCode()).isZero();
        assertThat(again.out()).startsWith("nothing to prune");
        assertThat(keptCopy).exists();
    }

    @Test
    void helpAndBadActions() {
        var help = CliTestSupport.run(null, "cache", "--help");
        assertThat(help.exitCode()).isZero();
        assertThat(help.out()).contains("prune", "in use", "source gone", "stale", "older layout", "jemma.cache.dir");
        var bad = CliTestSupport.run(null, "cache", "purge");
        assertThat(bad.exitCode()).isEqualTo(2);
        assertThat(bad.err().strip()).isEqualTo("jemma: unknown cache action 'purge': use list or prune (see 'jemma cache --help')");
        var extra = CliTestSupport.run(null, "cache", "prune", "now");
        assertThat(extra.exitCode()).isEqualTo(2);
        assertThat(extra.err().strip()).startsWith("jemma: ").doesNotContain("\n");
    }

    @Test
    void aCacheDirectoryThatIsAFileIsNamed() throws IOException {
        Path file = Files.writeString(tmp.resolve("cache"), "not a directory");
        for (String action : new String[]{"list", "prune"}) {
            var r = CliTestSupport.run(null, "cache", action);
            assertThat(r.exitCode()).isEqualTo(1);
            assertThat(r.err().strip()).startsWith("jemma: " + file + ": is not a directory").doesNotContain("\n");
        }
        assertThat(file).exists();
    }

    /** The listing's line for the copy of {@code model}. */
    private static String line(String out, Path model) {
        return out.lines().filter(l -> l.endsWith(" " + model)).findFirst().orElseThrow(() -> new AssertionError(model + " not in\n" + out));
    }
}
