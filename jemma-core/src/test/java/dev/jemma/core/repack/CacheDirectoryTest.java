package dev.jemma.core.repack;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The weight cache directory: each copy records its model file, so that copies whose model is gone or rewritten are
 * told apart from those in use, removed by the next build, listed and pruned; never a copy in use or a live build.
 */
class CacheDirectoryTest {
    private static ThreadPool pool;
    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        pool = new ThreadPool(1);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    /** The tiny Q4_0 fixture copied to {@code name} in the temp directory. */
    private Path model(String name) throws IOException {
        Path dst = tmp.resolve(name);
        Files.copy(Fixtures.any().resolve("gemma3-tiny/gemma3-tiny-Q4_0.gguf"), dst);
        return dst;
    }

    private static List<WeightMatrix> matrices(GgufFile f) {
        List<WeightMatrix> out = new ArrayList<>();
        for (GgufTensorInfo t : f.tensors().values()) {
            if (t.dims().length == 2 && (t.type() == GgmlType.Q4_0 || t.type() == GgmlType.Q8_0)) out.add(f.matrix(t));
        }
        return out;
    }

    /** Builds (or maps) the copy of {@code model}'s weights, or of one part of them, and returns its file. */
    private static Path build(Path model, String part, Path dir) throws IOException {
        try (GgufFile f = GgufFile.open(model); RepackCache c = RepackCache.open(f, part, matrices(f), pool, dir)) {
            assertThat(c.path()).as("a cache file for %s", model).isNotNull();
            return c.path();
        }
    }

    private static boolean builds(Path model, Path dir) throws IOException {
        try (GgufFile f = GgufFile.open(model); RepackCache c = RepackCache.open(f, null, matrices(f), pool, dir)) {
            return c.built();
        }
    }

    /** A cache file of the layout before the source path was recorded (version 5): magic, version, zeros. */
    private static Path olderLayout(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8192).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(CacheHeader.MAGIC).putInt(5);
        Files.write(file, b.array());
        return file;
    }

    private static void rewrite(Path model) throws IOException {
        Files.setLastModifiedTime(model, FileTime.fromMillis(Files.getLastModifiedTime(model).toMillis() + 5000));
    }

    private static Map<Path, CachedCopy> byFile(Path dir) {
        return CacheDirectory.list(dir).stream().collect(Collectors.toMap(CachedCopy::file, Function.identity()));
    }

    @Test
    void aCopyRecordsItsModelsRealPath() throws IOException {
        Path dir = tmp.resolve("cache");
        Path model = model("model.gguf");
        Path link = Files.createSymbolicLink(tmp.resolve("link.gguf"), model);
        Path copy = build(link, null, dir);
        List<CachedCopy> all = CacheDirectory.list(dir);
        assertThat(all).hasSize(1);
        CachedCopy c = all.getFirst();
        assertThat(c.file()).isEqualTo(copy);
        assertThat(c.source()).as("the link resolved").isEqualTo(model.toRealPath());
        assertThat(c.state()).isEqualTo(CachedCopy.State.IN_USE);
        assertThat(c.version()).isEqualTo(CacheHeader.VERSION);
        assertThat(c.bytes()).isEqualTo(Files.size(copy));
        assertThat(builds(model, dir)).as("the file itself maps the copy made through its link").isFalse();
    }

    /** A model moved to another path, one rewritten in place: the next build removes their copies, and nothing else. */
    @Test
    void aBuildRemovesTheCopiesOfMovedAndRewrittenModelsOnly() throws IOException {
        Path dir = tmp.resolve("cache");
        Path moved = model("a.gguf"), rewritten = model("b.gguf"), kept = model("c.gguf");
        Path movedCopy = build(moved, null, dir), movedVision = build(moved, "vision", dir);
        Path rewrittenCopy = build(rewritten, null, dir), keptCopy = build(kept, null, dir);
        Path older = olderLayout(dir.resolve("old-12345678.int8.jpk"));
        Path live = Files.writeString(dir.resolve("x-1.int8.jpk.part-" + ProcessHandle.current().pid() + "-1"), "building");
        // a process id that cannot be alive (pid_max is at most 2^22 on Linux)
        Path abandoned = Files.writeString(dir.resolve("y-2.int8.jpk.part-99999999-1"), "killed");
        Path notOurs = Files.writeString(dir.resolve("notes.txt"), "mine");

        Path target = tmp.resolve("moved-here.gguf");
        Files.move(moved, target);
        rewrite(rewritten);
        assertThat(builds(target, dir)).isTrue();

        assertThat(movedCopy).as("source moved away").doesNotExist();
        assertThat(movedVision).as("every part of it").doesNotExist();
        assertThat(rewrittenCopy).as("source rewritten").doesNotExist();
        assertThat(abandoned).as("a killed build").doesNotExist();
        assertThat(keptCopy).as("source unchanged").exists();
        assertThat(live).as("a live build").exists();
        assertThat(older).as("another layout: only prune removes it").exists();
        assertThat(notOurs).exists();
        assertThat(builds(kept, dir)).as("the copy kept is still used").isFalse();
    }

    @Test
    void listTellsEachStateAndPruneRemovesWhatThisJemmaCannotUse() throws IOException {
        Path dir = tmp.resolve("cache");
        Path gone = model("a.gguf"), rewritten = model("b.gguf"), kept = model("c.gguf");
        Path goneCopy = build(gone, null, dir), rewrittenCopy = build(rewritten, null, dir), keptCopy = build(kept, null, dir);
        Path older = olderLayout(dir.resolve("old-12345678.int8.jpk"));
        Path damaged = Files.writeString(dir.resolve("bad-1.int8.jpk"), "not a header");
        Path live = Files.writeString(dir.resolve("x-1.int8.jpk.part-" + ProcessHandle.current().pid() + "-1"), "building");
        Files.delete(gone);
        rewrite(rewritten);

        Map<Path, CachedCopy> all = byFile(dir);
        assertThat(all).hasSize(6);
        assertThat(all.get(goneCopy).state()).isEqualTo(CachedCopy.State.SOURCE_GONE);
        assertThat(all.get(goneCopy).source()).isEqualTo(tmp.toRealPath().resolve("a.gguf"));
        assertThat(all.get(rewrittenCopy).state()).isEqualTo(CachedCopy.State.STALE);
        assertThat(all.get(keptCopy).state()).isEqualTo(CachedCopy.State.IN_USE);
        assertThat(all.get(older).describe()).isEqualTo("older layout (v5)");
        assertThat(all.get(damaged).state()).isEqualTo(CachedCopy.State.DAMAGED);
        assertThat(all.get(live).state()).isEqualTo(CachedCopy.State.BUILDING);

        long expected = Files.size(goneCopy) + Files.size(rewrittenCopy) + Files.size(older) + Files.size(damaged);
        CacheDirectory.Removal r = CacheDirectory.prune(dir);
        assertThat(r.failures()).isEmpty();
        assertThat(r.bytes()).isEqualTo(expected);
        assertThat(r.removed()).extracting(CachedCopy::file).containsExactlyInAnyOrder(goneCopy, rewrittenCopy, older, damaged);
        assertThat(byFile(dir).keySet()).containsExactlyInAnyOrder(keptCopy, live);
        assertThat(builds(kept, dir)).isFalse();
        assertThat(CacheDirectory.prune(dir).removed()).as("nothing left to prune").isEmpty();
    }

    /**
     * What {@code jemma rm} deletes: every copy whose header names the model (each part), an older-layout copy by its
     * name; not a copy of another model, even one under a name that looks like the model's.
     */
    @Test
    void copiesOfAModelAreFoundByTheSourceTheyRecord() throws IOException {
        Path dir = tmp.resolve("cache");
        Path a = model("a.gguf"), b = model("b.gguf");
        Path text = build(a, null, dir), vision = build(a, "vision", dir), other = build(b, null, dir);
        Path legacy = olderLayout(dir.resolve(RepackCache.cacheName(a, "audio")));
        Path impostor = Files.copy(other, dir.resolve(RepackCache.cacheName(a, "zz")));
        assertThat(CacheDirectory.copiesOf(dir, a)).containsExactlyInAnyOrder(text, vision, legacy).doesNotContain(impostor);
        assertThat(CacheDirectory.copiesOf(dir, b)).containsExactlyInAnyOrder(other, impostor);
    }

    /**
     * A build says what it removed, and how much the copies of another layout hold (which it never removes) and how to
     * remove them: both sparse files of 100 MiB (no disk), above the size a user notices.
     */
    @Test
    void aBuildSaysWhatItFreedAndPointsAtPruneForCopiesOfAnotherLayout() throws IOException {
        Path dir = tmp.resolve("cache");
        Files.createDirectories(dir);
        Path older = olderLayout(dir.resolve("old-12345678.int8.jpk"));
        Path orphan = dir.resolve("gone-1.int8.jpk");
        Files.write(orphan, CacheHeader.encode(tmp.resolve("gone.gguf"), 1, 1, 1, "t Q4_0 1 32 0\n"));
        for (Path p : List.of(older, orphan)) {
            try (var f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
                f.setLength(100L << 20);
            }
        }
        java.io.PrintStream err = System.err;
        var captured = new java.io.ByteArrayOutputStream();
        try {
            System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
            assertThat(builds(model("a.gguf"), dir)).isTrue();
        } finally {
            System.setErr(err);
        }
        assertThat(captured.toString(java.nio.charset.StandardCharsets.UTF_8))
                .contains("jemma: removed 1 weight cache file whose model file is gone or changed (100 MiB freed)")
                .contains("jemma: 100 MiB of the weight cache (1 file) is of another Jemma version's layout; 'jemma cache prune' removes it");
        assertThat(orphan).doesNotExist();
        assertThat(older).exists();
    }

    /** The older-layout copy of the model being built is removed before the build (no disk for both), without a hint. */
    @Test
    void aBuildFirstRemovesTheUnusableFileUnderItsOwnName() throws IOException {
        Path dir = tmp.resolve("cache");
        Files.createDirectories(dir);
        Path model = model("a.gguf");
        Path own = olderLayout(dir.resolve(RepackCache.cacheName(model, null)));
        try (var f = new java.io.RandomAccessFile(own.toFile(), "rw")) {
            f.setLength(100L << 20);
        }
        java.io.PrintStream err = System.err;
        var captured = new java.io.ByteArrayOutputStream();
        try {
            System.setErr(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
            assertThat(builds(model, dir)).isTrue();
        } finally {
            System.setErr(err);
        }
        assertThat(captured.toString(java.nio.charset.StandardCharsets.UTF_8)).doesNotContain("another Jemma version's layout");
        assertThat(CacheDirectory.list(dir)).singleElement().satisfies(c -> {
            assertThat(c.file()).isEqualTo(own);
            assertThat(c.state()).isEqualTo(CachedCopy.State.IN_USE);
        });
    }

    @Test
    void noDirectoryListsNothing() {
        assertThat(CacheDirectory.list(tmp.resolve("none"))).isEmpty();
        assertThat(CacheDirectory.prune(tmp.resolve("none")).bytes()).isZero();
    }
}
