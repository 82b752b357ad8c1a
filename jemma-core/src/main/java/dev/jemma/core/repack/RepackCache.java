package dev.jemma.core.repack;

import dev.jemma.core.JemmaProperties;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.memory.SystemMemory;
import dev.jemma.core.memory.WeightCopy;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.kernels.Interleaved;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The {@link Interleaved} copies of a model's Q4_0/Q8_0/F16 matrices, made once and kept in a cache file that later
 * loads map read-only (zero-copy, like the GGUF itself). Because the model then reads its matrices only from the
 * cache, the GGUF's pages for them are never touched: resident memory stays about one copy of the weights.
 *
 * <p>The cache file lives in {@code -Djemma.cache.dir}, else {@code $JEMMA_HOME/cache} (default
 * {@code ~/.jemma/cache}), one per model path. It is trusted only when its header matches the GGUF's size,
 * modification time, a CRC-32C fingerprint (metadata and tensor table plus 16 sampled data pages), and the exact
 * tensor list; anything else rebuilds it. It is written under a temporary name and renamed into place, so an
 * interrupted build never leaves a file that looks valid. Where no cache can be written (read-only or full
 * disk) the copies are built in memory for this run instead. The header ({@link CacheHeader}) records the model file's
 * real path, so that a build first removes the copies whose model file is gone or was rewritten ({@link CacheDirectory}).
 */
public final class RepackCache implements AutoCloseable {

    private final Arena arena;
    private final Map<String, MemorySegment> segments;
    private final Path path;
    private final boolean built;
    private final String pages;

    private RepackCache(Arena arena, Map<String, MemorySegment> segments, Path path, boolean built, String pages) {
        this.arena = arena;
        this.segments = segments;
        this.path = path;
        this.built = built;
        this.pages = pages;
    }

    /**
     * Anonymous copies (where the page cache cannot hold the file in 2 MB folios) from this size on, unless {@code
     * -Djemma.hugePages=false}: a single-token step streams the
     * whole copy, and through 4 KB pages of the page cache each page costs a TLB walk (two-dimensional in a VM) and
     * stops the hardware prefetcher at its boundary (docs/PERFORMANCE.md, "2 MB pages by default": the 12B's F16
     * output projection 2x faster per CPU second). Below it the copy's few hundred milliseconds per load are not
     * repaid: a copy that is not much larger than the last-level cache is read from it in part anyway.
     */
    static final long HUGE_PAGES_FROM = 1L << 30;
    /**
     * Memory left free beside the copy and the heap's uncommitted part: the copy is anonymous memory the kernel cannot
     * drop and re-read as it can a file mapping's pages, so it is made only where it leaves this much.
     */
    static final long HUGE_PAGES_SPARE = 2L << 30;
    /**
     * Cache files from this size on are mapped for the page cache's 2 MB folios by default: that costs no copy and no
     * memory, only the mapping's advice and a check of how it was mapped (a small test model's few MiB stay as they were).
     */
    static final long HUGE_FOLIOS_FROM = 64L << 20;

    /**
     * Why a copy of {@code bytes} stays on the file mapping, or null when it goes to 2 MB pages: {@code
     * -Djemma.hugePages=true|false} decides where set; unset, copies of at least {@link #HUGE_PAGES_FROM} that leave
     * {@link #HUGE_PAGES_SPARE} of the available memory besides the heap's growth.
     */
    static String hugePagesRefusal(long bytes) {
        Boolean asked = JemmaProperties.hugePages();
        // the anonymous copy's policy
        if (Boolean.FALSE.equals(asked)) return "-Djemma.hugePages=false";
        if (!HugePages.available()) return "no mmap/madvise here: Linux with native access enabled only";
        if (Boolean.TRUE.equals(asked)) return null;
        if (bytes < HUGE_PAGES_FROM) return "copy below " + (HUGE_PAGES_FROM >> 20) + " MiB";
        long avail = SystemMemory.available();
        Runtime rt = Runtime.getRuntime();
        long heapGrowth = Math.max(0, rt.maxMemory() - rt.totalMemory());
        if (avail >= 0 && bytes + heapGrowth + HUGE_PAGES_SPARE > avail) {
            return String.format(java.util.Locale.ROOT, "%d MiB of copy and %d MiB of heap growth would leave under %d MiB of the %d MiB available",
                    bytes >> 20, heapGrowth >> 20, HUGE_PAGES_SPARE >> 20, avail >> 20);
        }
        return null;
    }

    /** Where the copies live, in words: "2 MB pages (anonymous copy)", "file mapping, 4 KB pages (why)", "in memory", "none". */
    public String pages() {
        return pages;
    }

    /** The directory cache files go to (see the class comment). */
    public static Path defaultDir() {
        return JemmaProperties.cacheDir();
    }

    /** The interleaved copies of {@code matrices}, from the cache in {@link #defaultDir} (built first when missing or stale). */
    public static RepackCache open(GgufFile file, List<WeightMatrix> matrices, ThreadPool pool) {
        return open(file, null, matrices, pool, defaultDir());
    }

    /**
     * As {@link #open(GgufFile, List, ThreadPool)} for one part of a file that holds several users of the cache (a
     * single-file model's vision tower beside its text weights): each part gets a cache file of its own, so that the
     * parts do not rebuild each other's.
     *
     * @param part a short name ({@code [a-z0-9]+}), or null for the file's main (text) weights
     */
    public static RepackCache open(GgufFile file, String part, List<WeightMatrix> matrices, ThreadPool pool) {
        return open(file, part, matrices, pool, defaultDir());
    }

    /** As {@link #open(GgufFile, List, ThreadPool)}, with the cache in {@code dir}. */
    public static RepackCache open(GgufFile file, List<WeightMatrix> matrices, ThreadPool pool, Path dir) {
        return open(file, null, matrices, pool, dir);
    }

    /** As {@link #open(GgufFile, String, List, ThreadPool)}, with the cache in {@code dir}. */
    static RepackCache open(GgufFile file, String part, List<WeightMatrix> matrices, ThreadPool pool, Path dir) {
        if (part != null && !part.matches("[a-z0-9]+")) throw new IllegalArgumentException("cache part '" + part + "'");
        Map<String, WeightMatrix> byName = new LinkedHashMap<>();
        for (WeightMatrix w : matrices) {
            if (Interleaved.supports(w.type(), w.cols())) byName.putIfAbsent(w.name(), w);
        }
        if (byName.isEmpty()) return new RepackCache(null, Map.of(), null, false, "none");
        List<Matrix> shapes = byName.values().stream().map(Matrix::of).toList();
        byte[] header = header(file, shapes);
        Map<String, Long> offsets = new HashMap<>();
        long end = layout(header, shapes, offsets);
        Path cache = dir.resolve(cacheName(file.path(), part));
        RepackCache hit = tryMap(cache, header, byName, offsets, end, pool);
        if (hit != null) return hit;
        if (end >= 64L << 20 && !JemmaProperties.quiet()) {
            // a one-time cost of seconds (1B: ~4 s, 4B: ~13 s on 2 cores): say what is happening
            System.err.println(preparingLine(end, cache));
        }
        try {
            Files.createDirectories(dir);
            // the file under this copy's name is of no use (stale, damaged, another layout: it did not map) and the build
            // replaces it: remove it first, so that the build does not need the disk space of both (17 GB for a 27B)
            Files.deleteIfExists(cache);
            removeOrphans(dir);
            // writing through a mapping into a full disk raises SIGBUS (an InternalError), not an IOException
            if (Files.getFileStore(dir).getUsableSpace() < end + (64L << 20)) {
                throw new IOException("not enough free space in " + dir);
            }
            Path tmp = dir.resolve(cache.getFileName() + ".part-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
            // Ctrl-C during the build runs shutdown hooks but no finally blocks: remove the partial file there too
            Thread cleanup = new Thread(() -> {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort at exit
                }
            });
            Runtime.getRuntime().addShutdownHook(cleanup);
            try {
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
                     Arena build = Arena.ofShared()) {
                    MemorySegment seg = ch.map(FileChannel.MapMode.READ_WRITE, 0, end, build);
                    fill(seg, byName, offsets, pool);
                    MemorySegment.copy(MemorySegment.ofArray(header), 0, seg, 0, header.length);
                    seg.force();
                }
                try {
                    Files.move(tmp, cache, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, cache, StandardCopyOption.REPLACE_EXISTING);
                }
            } finally {
                Files.deleteIfExists(tmp);
                try {
                    Runtime.getRuntime().removeShutdownHook(cleanup);
                } catch (IllegalStateException ignored) {
                    // already shutting down
                }
            }
            RepackCache made = tryMap(cache, header, byName, offsets, end, pool);
            if (made != null) return new RepackCache(made.arena, made.segments, cache, true, made.pages);
        } catch (IOException | RuntimeException | InternalError e) {
            // fall through: a cache is an optimisation, never a reason to fail a load
            if (!JemmaProperties.quiet()) {
                System.err.println("jemma: cannot write the weight cache in " + dir + " (" + why(e) + "); keeping the copy in memory for this run");
            }
        }
        Arena mem = Arena.ofShared();
        MemorySegment seg = mem.allocate(end, 4096);
        fill(seg, byName, offsets, pool);
        return new RepackCache(mem, slices(seg, byName, offsets), null, true, "in memory (no cache file)");
    }

    /**
     * A matrix as a copy records it (name, type, shape): enough to name and size the copy without mapping anything. A
     * matrix the model narrows (a MatFormer slice) has the name the model gives it.
     */
    public record Matrix(String name, GgmlType type, int rows, int cols) {
        public static Matrix of(WeightMatrix w) {
            return new Matrix(w.name(), w.type(), w.rows(), w.cols());
        }

        /** The tensor as stored: ggml's dims list the row length first. */
        public static Matrix of(GgufTensorInfo t) {
            return new Matrix(t.name(), t.type(), (int) t.rows(), (int) t.dims()[0]);
        }
    }

    /**
     * The copy {@link #open(GgufFile, String, List, ThreadPool)} would use for {@code matrices} in {@code dir}, without
     * building it: its file, its size, whether a valid one is there already, and the GGUF bytes it replaces; null when
     * none of the matrices has an interleaved layout ({@link Interleaved#supports}).
     */
    public static WeightCopy plan(GgufFile file, String part, List<Matrix> matrices, Path dir) {
        Map<String, Matrix> byName = new LinkedHashMap<>();
        for (Matrix m : matrices) {
            if (Interleaved.supports(m.type(), m.cols())) byName.putIfAbsent(m.name(), m);
        }
        if (byName.isEmpty()) return null;
        List<Matrix> shapes = List.copyOf(byName.values());
        byte[] header = header(file, shapes);
        long end = layout(header, shapes, new HashMap<>());
        long source = 0;
        for (Matrix m : shapes) source += m.type().bytesFor(m.cols()) * m.rows();
        Path cache = dir.resolve(cacheName(file.path(), part));
        return new WeightCopy(cache, end, matches(cache, header, end), source);
    }

    /** The copy's layout: each matrix's offset into {@code offsets}, page-aligned after the header; returns the file size. */
    private static long layout(byte[] header, List<Matrix> shapes, Map<String, Long> offsets) {
        long end = align(header.length, 4096);
        for (Matrix m : shapes) {
            offsets.put(m.name(), end);
            end = align(end + Interleaved.byteSize(m.type(), m.rows(), m.cols()), 4096);
        }
        return end;
    }

    /** Whether {@code cache} is a copy of this layout and size with this header (a positional read, no mapping). */
    private static boolean matches(Path cache, byte[] header, long end) {
        if (!Files.isRegularFile(cache)) return false;
        try (FileChannel ch = FileChannel.open(cache, StandardOpenOption.READ)) {
            if (ch.size() != end) return false;
            byte[] head = new byte[header.length];
            java.nio.ByteBuffer hb = java.nio.ByteBuffer.wrap(head);
            while (hb.hasRemaining() && ch.read(hb, hb.position()) > 0) {
                // read until the header is complete or the file ends
            }
            return java.util.Arrays.equals(head, header);
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    static String why(Throwable e) {
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) return f.getReason();
        if (e instanceof java.nio.file.AccessDeniedException) return "permission denied";
        if (e instanceof java.nio.file.FileSystemException) {
            return e.getClass().getSimpleName().replace("Exception", "").replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase();
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /**
     * What a build says it writes, in the units and rounding {@code jemma show}'s "weight copy" line uses for the same
     * file (SystemMemory.gb), so that the two numbers a user sees one after the other are the same number.
     */
    static String preparingLine(long bytes, Path cache) {
        return "jemma: preparing " + SystemMemory.gb(bytes) + " of weights in the interleaved layout the fast kernels read, in "
                + cache + " (first load of this file only)";
    }

    /**
     * Before a build adds a copy: removes the copies of models that are gone or were rewritten, and builds killed without
     * running their hooks, saying how much that freed (a user who deletes a model expects its space back).
     */
    private static void removeOrphans(Path dir) {
        CacheDirectory.Removal r = CacheDirectory.removeOrphans(dir);
        if (JemmaProperties.quiet()) return;
        // as the "preparing" line, only for sizes a user notices: a test's tiny copies go without a word
        if (r.bytes() >= 64L << 20) {
            System.err.printf(java.util.Locale.ROOT, "jemma: removed %d weight cache file%s whose model file is gone or changed (%d MiB freed)%n",
                    r.removed().size(), r.removed().size() == 1 ? "" : "s", r.bytes() >> 20);
        }
        // copies of another layout record no model file (or one this Jemma cannot read), so nothing tells whether their
        // model is still there: only the user may remove them, and a build (rare) is when to say so
        List<CachedCopy> other = CacheDirectory.list(dir).stream().filter(c -> c.state() == CachedCopy.State.OTHER_LAYOUT).toList();
        long bytes = other.stream().mapToLong(CachedCopy::bytes).sum();
        if (bytes >= 64L << 20) {
            System.err.printf(java.util.Locale.ROOT, "jemma: %d MiB of the weight cache (%d file%s) is of another Jemma version's layout; 'jemma cache prune' removes it%n",
                    bytes >> 20, other.size(), other.size() == 1 ? "" : "s");
        }
    }

    private static RepackCache tryMap(Path cache, byte[] header, Map<String, WeightMatrix> byName, Map<String, Long> offsets, long end,
                                      ThreadPool pool) {
        if (!matches(cache, header, end)) return null;
        try (FileChannel ch = FileChannel.open(cache, StandardOpenOption.READ)) {
            Boolean asked = JemmaProperties.hugePages();
            String refusal = Boolean.FALSE.equals(asked) ? "-Djemma.hugePages=false"
                    : !HugePages.available() ? "no transparent huge pages here (Linux with THP not 'never', native access enabled)"
                    : end < HUGE_FOLIOS_FROM && asked == null ? "copy below " + (HUGE_FOLIOS_FROM >> 20) + " MiB" : null;
            if (refusal == null) {
                RepackCache huge = hugePages(cache, end, byName, offsets, ch, pool);
                if (huge != null) return huge;
                refusal = hugePagesRefusal(end);
                if (refusal == null) refusal = "the kernel gave no 2 MB pages";
            }
            if (Boolean.TRUE.equals(asked) && !JemmaProperties.quiet()) {
                System.err.println("jemma: no 2 MB pages for the weights (" + refusal + "); reading them through the file mapping");
            }
            Arena arena = Arena.ofShared();
            try {
                MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, end, arena);
                return new RepackCache(arena, slices(seg, byName, offsets), cache, false, "file mapping, 4 KB pages (" + refusal + ")");
            } catch (IOException | RuntimeException e) {
                arena.close();
                throw e;
            }
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * The cache file on 2 MB pages, or null: first as the page cache's own 2 MB folios ({@link HugePages#mapFile}; where
     * the file's cached folios are small, e.g. just after it was written, they are dropped and read again once, if a
     * 4 MB probe shows that the page cache gives this file 2 MB folios), else as an anonymous copy where
     * {@link #hugePagesRefusal} allows one.
     */
    private static RepackCache hugePages(Path cache, long end, Map<String, WeightMatrix> byName, Map<String, Long> offsets,
                                         FileChannel ch, ThreadPool pool) {
        Arena mapped = Arena.ofShared();
        HugePages.FileMapping m = HugePages.mapFile(cache, end, mapped);
        long huge = m == null ? 0 : m.hugeBytes();
        String how = "as the page cache's 2 MB folios";
        if (m != null && huge >= 0 && huge < end * 9 / 10 && HugePages.fileGetsHugeFolios(cache, m)) {
            // the file is cached in small folios (written through a 4 KB mapping, or read while free memory had no 2 MB
            // blocks): read it again in 2 MB folios, once; later loads find them in the page cache
            if (!JemmaProperties.quiet() && end >= 1L << 30) {
                System.err.printf("jemma: reading the %d MiB weight copy into 2 MB pages of the page cache (once, until the system needs the memory)%n", end >> 20);
            }
            huge = HugePages.refault(cache, m, pool);
            how = "as the page cache's 2 MB folios, read again in them now";
        }
        if (m != null && (huge < 0 || huge >= end / 2)) {
            String what = huge < 0 ? "file mapping advised for 2 MB pages (how many the kernel gave is not known)"
                    : String.format(java.util.Locale.ROOT, "2 MB pages: %d of %d MiB %s", huge >> 20, end >> 20, how);
            return new RepackCache(mapped, slices(m.segment(), byName, offsets), cache, false, what);
        }
        long pageCacheHuge = Math.max(0, huge);
        mapped.close();
        if (hugePagesRefusal(end) != null) return null;
        // the page cache keeps this file in small folios (a file system without large folios: ext4 before Linux 6.16):
        // a private copy on 2 MB pages, read with positional reads (no mapping of the file beside the copy; the file's
        // pages stay in the page cache, reclaimable)
        Arena anon = Arena.ofShared();
        HugePages.Region r = HugePages.allocate(end, anon);
        if (r == null) {
            anon.close();
            return null;
        }
        try {
            HugePages.read(ch, end, r.segment(), pool);
        } catch (RuntimeException e) {
            anon.close();
            throw e;
        }
        return new RepackCache(anon, slices(r.segment(), byName, offsets), cache, false, (r.advised() ? "2 MB pages (anonymous copy"
                : "anonymous copy, 4 KB pages (MADV_HUGEPAGE refused") + "; the page cache gave " + (pageCacheHuge >> 20) + " MiB of 2 MB folios)");
    }

    private static Map<String, MemorySegment> slices(MemorySegment seg, Map<String, WeightMatrix> byName, Map<String, Long> offsets) {
        Map<String, MemorySegment> out = new HashMap<>();
        for (WeightMatrix w : byName.values()) {
            out.put(w.name(), seg.asSlice(offsets.get(w.name()), Interleaved.byteSize(w.type(), w.rows(), w.cols())));
        }
        return out;
    }

    private static void fill(MemorySegment seg, Map<String, WeightMatrix> byName, Map<String, Long> offsets, ThreadPool pool) {
        for (WeightMatrix w : byName.values()) {
            MemorySegment dst = seg.asSlice(offsets.get(w.name()), Interleaved.byteSize(w.type(), w.rows(), w.cols()));
            pool.parallelFor(Interleaved.groups(w.rows()), (g0, g1, worker) -> Interleaved.repack(w, dst, g0, g1));
        }
    }

    /** Everything the cache's validity depends on, serialized: compared byte for byte on every load. */
    private static byte[] header(GgufFile file, List<Matrix> shapes) {
        long mtime;
        try {
            mtime = Files.getLastModifiedTime(file.path()).toMillis();
        } catch (IOException e) {
            mtime = -1;
        }
        StringBuilder table = new StringBuilder();
        for (Matrix w : shapes) {
            GgufTensorInfo t = file.tensor(w.name());
            table.append(w.name()).append(' ').append(w.type()).append(' ').append(w.rows()).append(' ').append(w.cols())
                    .append(' ').append(t == null ? -1 : t.offset()).append('\n');
        }
        return CacheHeader.encode(realPath(file.path()), file.fileSize(), mtime, fingerprint(file), table.toString());
    }

    /** CRC-32C of the metadata and tensor table (up to 16 MB) and of 16 evenly spaced 4 KB pages of tensor data. */
    private static long fingerprint(GgufFile file) {
        CRC32C crc = new CRC32C();
        MemorySegment all = file.segment();
        long head = Math.min(file.dataStart(), 16L << 20);
        crc.update(all.asSlice(0, head).asByteBuffer());
        long dataLen = file.fileSize() - file.dataStart();
        for (int i = 0; i < 16 && dataLen > 0; i++) {
            long off = file.dataStart() + dataLen * i / 16;
            crc.update(all.asSlice(off, Math.min(4096, file.fileSize() - off)).asByteBuffer());
        }
        return crc.getValue();
    }

    /** The cache file a model at {@code model} uses in {@link #defaultDir} (whether or not it exists). */
    public static Path cacheFileFor(Path model) {
        return defaultDir().resolve(cacheName(model, null));
    }

    /**
     * Every cache file in {@link #defaultDir} that belongs to the file at {@code path} (its main weights' and each part's:
     * a single-file model's vision tower, an mmproj's), existing now; for whoever deletes the file.
     */
    public static List<Path> cacheFilesFor(Path path) {
        return CacheDirectory.copiesOf(defaultDir(), path);
    }

    /** The name of the cache file for {@code model}'s weights, or for one {@code part} of them. */
    static String cacheName(Path model, String part) {
        Path abs = realPath(model);
        CRC32C crc = new CRC32C();
        crc.update(abs.toString().getBytes(StandardCharsets.UTF_8));
        String base = abs.getFileName().toString().replaceAll("[^A-Za-z0-9._-]", "_");
        if (base.length() > 80) base = base.substring(0, 80);
        return base + "-" + Long.toHexString(crc.getValue()) + (part == null ? "" : "." + part) + CacheDirectory.SUFFIX;
    }

    /** {@code model}'s absolute real path (links resolved), or its normalized absolute path where it does not exist. */
    static Path realPath(Path model) {
        Path abs = model.toAbsolutePath().normalize();
        try {
            return abs.toRealPath();
        } catch (IOException ignored) {
            return abs;
        }
    }

    private static long align(long v, long a) {
        return (v + a - 1) / a * a;
    }

    /** {@code w} with its interleaved copy when this cache has one, else {@code w} itself. */
    public WeightMatrix attach(WeightMatrix w) {
        MemorySegment s = segments.get(w.name());
        return s == null ? w : w.withInterleaved(s);
    }

    /** Whether every one of {@code matrices} has an interleaved copy here. */
    public boolean covers(List<WeightMatrix> matrices) {
        for (WeightMatrix w : matrices) if (!segments.containsKey(w.name())) return false;
        return true;
    }

    /** The cache file in use (null when the copies live in memory or there are none). */
    public Path path() {
        return path;
    }

    /** Whether this load built the copies (rather than mapping an existing cache file). */
    public boolean built() {
        return built;
    }

    @Override
    public void close() {
        if (arena != null) arena.close();
    }
}
