package dev.jemma.core.repack;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.kernels.Interleaved;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The on-disk cache of interleaved weights: built once, reused, rebuilt whenever it could be stale, never fatal. */
class RepackCacheTest {
    private static ThreadPool pool;
    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    private Path model() throws IOException {
        Path src = Fixtures.any().resolve("gemma3-tiny/gemma3-tiny-Q4_0.gguf");
        Path dst = tmp.resolve("model.gguf");
        if (!Files.exists(dst)) Files.copy(src, dst);
        return dst;
    }

    private static List<WeightMatrix> matrices(GgufFile f) {
        List<WeightMatrix> out = new ArrayList<>();
        for (GgufTensorInfo t : f.tensors().values()) {
            if (t.dims().length == 2 && (t.type() == GgmlType.Q4_0 || t.type() == GgmlType.Q8_0)) out.add(f.matrix(t));
        }
        return out;
    }

    /** The interleaved copy must be exactly what repacking the GGUF's rows gives. */
    private static void assertCopiesCorrect(RepackCache c, List<WeightMatrix> ms) {
        for (WeightMatrix w : ms) {
            MemorySegment expected = Arena.ofAuto().allocate(Interleaved.byteSize(w.type(), w.rows(), w.cols()));
            Interleaved.repack(w, expected, 0, Interleaved.groups(w.rows()));
            assertThat(c.attach(w).interleaved().mismatch(expected)).as(w.name()).isEqualTo(-1);
        }
    }

    private long cacheFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.count();
        }
    }

    @Test
    void buildsOnceThenMapsTheSameBytes() throws IOException {
        Path dir = tmp.resolve("cache");
        try (GgufFile f = GgufFile.open(model())) {
            List<WeightMatrix> ms = matrices(f);
            assertThat(ms).isNotEmpty();
            try (RepackCache first = RepackCache.open(f, ms, pool, dir)) {
                assertThat(first.built()).isTrue();
                assertThat(first.path()).exists();
                assertCopiesCorrect(first, ms);
            }
            try (RepackCache second = RepackCache.open(f, ms, pool, dir)) {
                assertThat(second.built()).as("second load maps the cache").isFalse();
                assertCopiesCorrect(second, ms);
            }
            assertThat(cacheFiles(dir)).as("one cache file, no leftover .part").isEqualTo(1);
        }
    }

    /**
     * -Djemma.hugePages=true: the cache file's bytes copied into anonymous memory (2 MB pages where the host gives them),
     * the same bytes as the mapping, and unmapped again when the cache closes.
     */
    @Test
    void hugePagesCopyHoldsTheSameBytes() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("os.name", "").toLowerCase().contains("linux"), "mmap/madvise: Linux");
        Path dir = tmp.resolve("cache");
        try (GgufFile f = GgufFile.open(model())) {
            List<WeightMatrix> ms = matrices(f);
            try (RepackCache built = RepackCache.open(f, ms, pool, dir)) {
                assertThat(built.built()).isTrue();
            }
            System.setProperty(dev.jemma.core.JemmaProperties.HUGE_PAGES, "true");
            try (RepackCache huge = RepackCache.open(f, ms, pool, dir)) {
                assertThat(huge.built()).isFalse();
                assertThat(huge.path()).as("still the cache file's copy").isNotNull();
                assertCopiesCorrect(huge, ms);
                MemorySegment any = huge.attach(ms.get(0)).interleaved();
                assertThat(any.isMapped()).as("an anonymous copy, not the file mapping").isFalse();
                assertThat(huge.pages()).contains("anonymous copy");
            } finally {
                System.clearProperty(dev.jemma.core.JemmaProperties.HUGE_PAGES);
            }
        }
    }

    /**
     * The default: 2 MB pages for copies of at least HUGE_PAGES_FROM that leave HUGE_PAGES_SPARE of the available memory;
     * -Djemma.hugePages=false always refuses, =true always takes them (where the OS offers the calls).
     */
    @Test
    void hugePagesByDefaultForLargeCopiesThatFit() {
        org.junit.jupiter.api.Assumptions.assumeTrue(System.getProperty("os.name", "").toLowerCase().contains("linux"), "mmap/madvise: Linux");
        String hp = dev.jemma.core.JemmaProperties.HUGE_PAGES, avail = dev.jemma.core.JemmaProperties.MEMORY_AVAILABLE;
        long big = RepackCache.HUGE_PAGES_FROM;
        long heapGrowth = Runtime.getRuntime().maxMemory() - Runtime.getRuntime().totalMemory();
        try {
            System.setProperty(avail, Long.toString(big + heapGrowth + RepackCache.HUGE_PAGES_SPARE + (64L << 20)));
            assertThat(RepackCache.hugePagesRefusal(big)).as("large, fits").isNull();
            assertThat(RepackCache.hugePagesRefusal(big - 1)).as("below the size").contains("copy below");
            System.setProperty(avail, Long.toString(big + heapGrowth + RepackCache.HUGE_PAGES_SPARE / 2));
            assertThat(RepackCache.hugePagesRefusal(big)).as("would not leave the spare").contains("available");
            System.setProperty(hp, "true");
            assertThat(RepackCache.hugePagesRefusal(1)).as("asked for").isNull();
            System.setProperty(hp, "false");
            System.setProperty(avail, Long.toString(Long.MAX_VALUE / 2));
            assertThat(RepackCache.hugePagesRefusal(big)).as("switched off").isEqualTo("-Djemma.hugePages=false");
        } finally {
            System.clearProperty(hp);
            System.clearProperty(avail);
        }
    }

    /**
     * The page-cache way to 2 MB pages: a file mapped at a 2 MB boundary reads back its own bytes (before and after its
     * cached pages are dropped and read again), and how much of it is mapped as 2 MB pages is known and within its size.
     */
    @Test
    void fileMappedForHugeFoliosReadsTheFile() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(HugePages.available(), "Linux with transparent huge pages");
        Path f = tmp.resolve("weights.bin");
        byte[] bytes = new byte[(int) (3 * HugePages.HUGE + 4096 + 123)];
        new java.util.Random(7).nextBytes(bytes);
        Files.write(f, bytes);
        for (int pass = 0; pass < 2; pass++) {
            try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
                HugePages.FileMapping m = HugePages.mapFile(f, bytes.length, a);
                assertThat(m).isNotNull();
                assertThat(m.segment().address() % HugePages.HUGE).as("2 MB-aligned").isZero();
                assertThat(m.segment().byteSize()).isEqualTo(bytes.length);
                assertThat(m.segment().mismatch(MemorySegment.ofArray(bytes))).as("pass %d", pass).isEqualTo(-1);
                assertThat(m.hugeBytes()).isBetween(-1L, (long) bytes.length);
            }
            assertThat(HugePages.dropCached(f, 0, 0)).isTrue();
        }
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofShared(); var twoThreads = new dev.jemma.core.tensor.ThreadPool(2)) {
            HugePages.FileMapping m = HugePages.mapFile(f, bytes.length, a);
            HugePages.fileGetsHugeFolios(f, m); // true or false with the file system: only that it leaves the bytes alone
            long huge = HugePages.refault(f, m, twoThreads);
            assertThat(huge).isBetween(-1L, (long) bytes.length);
            assertThat(m.segment().mismatch(MemorySegment.ofArray(bytes))).as("after the refault").isEqualTo(-1);
        }
    }

    @Test
    void rebuildsWhenTheModelChangesOrTheCacheIsDamaged() throws IOException {
        Path dir = tmp.resolve("cache");
        Path model = model();
        Path cacheFile;
        try (GgufFile f = GgufFile.open(model); RepackCache c = RepackCache.open(f, matrices(f), pool, dir)) {
            cacheFile = c.path();
        }
        // a newer modification time (e.g. the file was re-quantized in place)
        Files.setLastModifiedTime(model, FileTime.fromMillis(Files.getLastModifiedTime(model).toMillis() + 5000));
        try (GgufFile f = GgufFile.open(model); RepackCache c = RepackCache.open(f, matrices(f), pool, dir)) {
            assertThat(c.built()).as("rebuilt after mtime change").isTrue();
        }
        // a damaged header byte
        try (RandomAccessFile raf = new RandomAccessFile(cacheFile.toFile(), "rw")) {
            raf.seek(20);
            int b = raf.read();
            raf.seek(20);
            raf.write(b ^ 0xff);
        }
        try (GgufFile f = GgufFile.open(model); RepackCache c = RepackCache.open(f, matrices(f), pool, dir)) {
            assertThat(c.built()).as("rebuilt after header damage").isTrue();
            assertCopiesCorrect(c, matrices(f));
        }
        // a truncated cache
        try (RandomAccessFile raf = new RandomAccessFile(cacheFile.toFile(), "rw")) {
            raf.setLength(raf.length() / 2);
        }
        try (GgufFile f = GgufFile.open(model); RepackCache c = RepackCache.open(f, matrices(f), pool, dir)) {
            assertThat(c.built()).as("rebuilt after truncation").isTrue();
            assertCopiesCorrect(c, matrices(f));
        }
        assertThat(cacheFiles(dir)).isEqualTo(1);
    }

    @Test
    void aPartialFileLeftByAKilledBuildIsRemoved() throws IOException {
        Path dir = tmp.resolve("cache");
        Path model = model();
        Path cacheFile;
        try (GgufFile f = GgufFile.open(model); RepackCache c = RepackCache.open(f, matrices(f), pool, dir)) {
            cacheFile = c.path();
        }
        // a process id that cannot be alive (pid_max is at most 2^22 on Linux)
        Path abandoned = dir.resolve(cacheFile.getFileName() + ".part-99999999-1");
        Files.writeString(abandoned, "partial");
        Files.setLastModifiedTime(model, FileTime.fromMillis(Files.getLastModifiedTime(model).toMillis() + 5000));
        try (GgufFile f = GgufFile.open(model); RepackCache c = RepackCache.open(f, matrices(f), pool, dir)) {
            assertThat(c.built()).isTrue();
        }
        assertThat(abandoned).doesNotExist();
        assertThat(cacheFiles(dir)).isEqualTo(1);
    }

    @Test
    void anUnwritableCacheDirectoryFallsBackToMemory() throws IOException {
        Path notADir = tmp.resolve("file");
        Files.writeString(notADir, "x");
        try (GgufFile f = GgufFile.open(model()); RepackCache c = RepackCache.open(f, matrices(f), pool, notADir.resolve("cache"))) {
            assertThat(c.path()).isNull();
            assertThat(c.built()).isTrue();
            assertCopiesCorrect(c, matrices(f));
        }
    }

    /**
     * The build's line names the copy's size as jemma show's "weight copy" line does (270M Q4_0: 234,741,760 B is
     * "234.7 MB" in both), not in MiB ("223 MiB" beside show's "234.7 MB" read as two sizes). Mutation caught: the old
     * {@code %d MiB} format.
     */
    @Test
    void buildLineNamesTheSizeAsShowDoes() {
        Path cache = Path.of("/cache/m.gguf-1.int8.jpk");
        assertThat(RepackCache.preparingLine(234_741_760L, cache)).isEqualTo("jemma: preparing 234.7 MB of weights in the interleaved"
                + " layout the fast kernels read, in /cache/m.gguf-1.int8.jpk (first load of this file only)");
    }
}
