package dev.jemma.core.repack;

import dev.jemma.core.tensor.ThreadPool;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Linux transparent huge pages for the weight copy (docs/PERFORMANCE.md, "2 MB pages by default"), two ways:
 * <ul>
 *   <li>{@link #mapFile}: the cache file itself mapped at a 2 MB-aligned address and advised {@code MADV_HUGEPAGE}, so
 *   that a fault's readahead fills the page cache with 2 MB folios, which the kernel then maps as 2 MB pages (file
 *   systems with large folios: ext4 from Linux 6.16, XFS earlier). No copy: the page cache's pages are the weights, shared
 *   by every process, and a later load finds them there. Folios a file already has in the cache keep their size, so
 *   {@link #dropCached} first where they are small (a just-written file's).</li>
 *   <li>{@link #allocate} + {@link #read}: anonymous memory aligned to 2 MB and advised before its first touch, the file
 *   read into it — the fallback where the page cache cannot hold 2 MB folios; costs the kernel's zeroing of every page
 *   (and compaction where free memory is fragmented) on each load, and private memory beside the page cache.</li>
 * </ul>
 * Best effort throughout: null or false where the calls are unavailable (not Linux, native access refused) or refused.
 */
final class HugePages {
    static final long HUGE = 2L << 20;
    private static final int PROT_NONE = 0, PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_PRIVATE = 2, MAP_FIXED = 0x10,
            MAP_ANONYMOUS = 0x20, MADV_DONTNEED = 4, MADV_HUGEPAGE = 14, MADV_POPULATE_READ = 22, MADV_POPULATE_WRITE = 23, POSIX_FADV_DONTNEED = 4, O_RDONLY = 0,
            O_CLOEXEC = 0x80000;
    /**
     * Bytes one pool thread reads in one go: large sequential reads (the page cache copies straight into the 2 MB pages,
     * no page table of the file's is ever built), and enough pieces for two threads to share a copy evenly.
     */
    static final long CHUNK = 32L << 20;
    private static final MethodHandle MMAP, MUNMAP, MADVISE, OPEN, CLOSE, FADVISE;

    static {
        MethodHandle mmap = null, munmap = null, madvise = null, open = null, close = null, fadvise = null;
        if (System.getProperty("os.name", "").toLowerCase().contains("linux")) {
            try {
                Linker l = Linker.nativeLinker();
                var lookup = l.defaultLookup();
                mmap = l.downcallHandle(lookup.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_LONG));
                munmap = l.downcallHandle(lookup.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
                madvise = l.downcallHandle(lookup.find("madvise").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
                open = l.downcallHandle(lookup.find("open").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT), Linker.Option.firstVariadicArg(2));
                close = l.downcallHandle(lookup.find("close").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
                fadvise = l.downcallHandle(lookup.find("posix_fadvise").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
            } catch (RuntimeException | Error e) {
                mmap = munmap = madvise = open = close = fadvise = null; // native access refused, or no such symbols
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
        OPEN = open;
        CLOSE = close;
        FADVISE = fadvise;
    }

    private HugePages() {
    }

    /**
     * Whether this JVM can map and advise memory at all (Linux, native access allowed) and the host's transparent huge
     * pages are not {@code never}.
     */
    static boolean available() {
        if (MMAP == null) return false;
        try {
            return !Files.readString(Path.of("/sys/kernel/mm/transparent_hugepage/enabled")).contains("[never]");
        } catch (IOException | RuntimeException e) {
            return false; // no THP in this kernel
        }
    }

    /** A file mapped by {@link #mapFile}, and how many of its bytes the kernel maps with 2 MB pages (-1: unknown). */
    record FileMapping(MemorySegment segment, long hugeBytes) {
    }

    /**
     * Bytes [0, {@code size}) of {@code file} mapped read-only and shared at a 2 MB-aligned address (file offset 0 on a
     * 2 MB boundary, so that every aligned 2 MB folio can be mapped as one page), advised {@code MADV_HUGEPAGE} and, where
     * the kernel offers it (5.14+), faulted in at once with {@code MADV_POPULATE_READ}; unmapped when {@code arena} closes.
     * Null where it cannot be mapped this way (the caller maps the file as usual).
     */
    static FileMapping mapFile(Path file, long size, Arena arena) {
        if (MMAP == null || size <= 0) return null;
        try {
            int fd = open(file);
            if (fd < 0) return null;
            try {
                long len = (size + HUGE - 1) / HUGE * HUGE;
                // reserve an aligned range (inaccessible), then map the file over its start
                long raw = (long) MMAP.invokeExact(0L, len + HUGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
                if (raw == -1L) return null;
                long start = (raw + HUGE - 1) / HUGE * HUGE;
                long at = (long) MMAP.invokeExact(start, size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0L);
                if (at != start) {
                    int unused = (int) MUNMAP.invokeExact(raw, len + HUGE);
                    return null;
                }
                // give back the reservation around the file's pages (the tail of its last page stays with the mapping)
                long fileEnd = start + (size + 4095) / 4096 * 4096;
                if (start > raw) {
                    int unused = (int) MUNMAP.invokeExact(raw, start - raw);
                }
                if (raw + len + HUGE > fileEnd) {
                    int unused = (int) MUNMAP.invokeExact(fileEnd, raw + len + HUGE - fileEnd);
                }
                int advised = (int) MADVISE.invokeExact(start, fileEnd - start, MADV_HUGEPAGE);
                int populated = (int) MADVISE.invokeExact(start, fileEnd - start, MADV_POPULATE_READ); // refused before 5.14: faults load it
                long mapped = fileEnd - start;
                MemorySegment seg = MemorySegment.ofAddress(start).reinterpret(size, arena, s -> {
                    try {
                        int unused = (int) MUNMAP.invokeExact(start, mapped);
                    } catch (Throwable ignored) {
                        // at close: nothing left to do
                    }
                });
                return new FileMapping(seg, populated == 0 ? pmdMappedBytes(start) : -1);
            } finally {
                int unused = (int) CLOSE.invokeExact(fd);
            }
        } catch (Throwable t) {
            return null;
        }
    }

    /** open(2) of {@code file} read-only: a descriptor, or -1. */
    private static int open(Path file) throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            return (int) OPEN.invokeExact(a.allocateFrom(file.toString()), O_RDONLY | O_CLOEXEC);
        }
    }

    /**
     * Drops {@code file}'s cached pages in [{@code offset}, {@code offset + length}) from the page cache
     * ({@code POSIX_FADV_DONTNEED}: clean pages no process maps; 0 length: to the end), so that the next read brings them
     * back in folios of the size the reader asks for. False where refused.
     */
    static boolean dropCached(Path file, long offset, long length) {
        if (FADVISE == null) return false;
        try {
            int fd = open(file);
            if (fd < 0) return false;
            try {
                return (int) FADVISE.invokeExact(fd, offset, length, POSIX_FADV_DONTNEED) == 0;
            } finally {
                int unused = (int) CLOSE.invokeExact(fd);
            }
        } catch (Throwable t) {
            return false;
        }
    }

    /**
     * Whether the page cache gives {@code file} 2 MB folios when read through a {@link #mapFile} mapping (the kernel and
     * the file system support large folios): its first 4 MB unmapped from {@code m} (pages a process maps are not
     * dropped), dropped from the cache, room made for them, mapped again on their own and checked. Costs one 4 MB read.
     */
    static boolean fileGetsHugeFolios(Path file, FileMapping m) {
        long probe = 2 * HUGE;
        if (m.segment().byteSize() < probe) return false;
        try {
            int unmapped = (int) MADVISE.invokeExact(m.segment().address(), probe, MADV_DONTNEED);
        } catch (Throwable t) {
            return false;
        }
        if (!dropCached(file, 0, probe)) return false;
        makeRoom(probe);
        try (Arena a = Arena.ofConfined()) {
            FileMapping test = mapFile(file, probe, a);
            return test != null && test.hugeBytes() >= HUGE;
        }
    }

    /** Pieces {@link #refault} works in: what it adds to memory use at a time, per thread. */
    static final long REFAULT_PIECE = 256L << 20;

    /**
     * Reads {@code file}, mapped at {@code m}, into the page cache again in 2 MB folios: piece by piece (the pool's threads
     * taking {@link #REFAULT_PIECE}s), each piece's pages unmapped here and dropped from the page cache, {@link #makeRoom
     * room made} for it, and faulted in again (readahead then allocates 2 MB folios, which stay cached for later loads).
     * Returns how many bytes are mapped as 2 MB pages afterwards (-1: unknown).
     */
    static long refault(Path file, FileMapping m, ThreadPool pool) {
        MemorySegment seg = m.segment();
        long size = seg.byteSize();
        int pieces = (int) ((size + REFAULT_PIECE - 1) / REFAULT_PIECE);
        pool.parallelFor(pieces, (p0, p1, worker) -> {
            for (int p = p0; p < p1; p++) {
                long off = p * REFAULT_PIECE, n = Math.min(REFAULT_PIECE, size - off), pages = (n + 4095) / 4096 * 4096;
                try {
                    int unmapped = (int) MADVISE.invokeExact(seg.address() + off, pages, MADV_DONTNEED);
                    dropCached(file, off, n);
                    makeRoom(n);
                    int populated = (int) MADVISE.invokeExact(seg.address() + off, pages, MADV_POPULATE_READ);
                } catch (Throwable t) {
                    // best effort: whatever is not faulted in now is faulted in when read
                }
            }
        }, pieces);
        return pmdMappedBytes(seg.address());
    }

    /**
     * Leaves about {@code bytes} of free memory in 2 MB blocks: faults in that much anonymous memory advised for 2 MB
     * pages (for which the kernel compacts free memory, as the page cache's readahead, which only tries lightly, does
     * not) and unmaps it again at once. Costs the kernel's zeroing of those pages — and in a VM whose host took the
     * free memory back, the host's faults: ~2–5 ms per 2 MB page on this bench's machine.
     */
    static void makeRoom(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            Region r = allocate(bytes, a);
            if (r == null || !r.advised()) return;
            long len = (bytes + HUGE - 1) / HUGE * HUGE;
            int populated = (int) MADVISE.invokeExact(r.segment().address(), len, MADV_POPULATE_WRITE);
        } catch (Throwable t) {
            // best effort: the readahead then gets what free memory offers
        }
    }

    /** Whether an smaps line opens a mapping ("7f12a0000000-7f12a2000000 r--s …") rather than being one of its fields. */
    private static boolean isMappingLine(String line) {
        int dash = line.indexOf('-'), space = line.indexOf(' ');
        if (dash <= 0 || space <= dash) return false;
        for (int i = 0; i < space; i++) {
            if (i != dash && Character.digit(line.charAt(i), 16) < 0) return false;
        }
        return true;
    }

    /** FilePmdMapped of the mapping that starts at {@code address}, from /proc/self/smaps, in bytes; -1 when unknown. */
    static long pmdMappedBytes(long address) {
        String prefix = Long.toHexString(address) + "-";
        try (var lines = Files.lines(Path.of("/proc/self/smaps"))) {
            boolean inside = false;
            for (String line : (Iterable<String>) lines::iterator) {
                if (isMappingLine(line)) {
                    inside = line.startsWith(prefix);
                } else if (inside && line.startsWith("FilePmdMapped:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /**
     * {@code bytes} of zeroed anonymous memory starting on a 2 MB boundary, unmapped when {@code arena} closes; null where
     * that cannot be had (the caller then keeps what it had). {@link #advised} says whether the kernel took the
     * {@code MADV_HUGEPAGE} advice (refused where THP is compiled out; with THP {@code never} it is taken and ignored).
     */
    static Region allocate(long bytes, Arena arena) {
        if (MMAP == null || bytes <= 0) return null;
        try {
            long len = (bytes + HUGE - 1) / HUGE * HUGE;
            // over-reserve by 2 MB and trim, so the region starts on a 2 MB boundary (mmap only promises 4 KB)
            long raw = (long) MMAP.invokeExact(0L, len + HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
            if (raw == -1L) return null;
            long start = (raw + HUGE - 1) / HUGE * HUGE;
            if (start > raw) {
                int unused = (int) MUNMAP.invokeExact(raw, start - raw);
            }
            long tail = raw + len + HUGE - (start + len);
            if (tail > 0) {
                int unused = (int) MUNMAP.invokeExact(start + len, tail);
            }
            boolean advised = (int) MADVISE.invokeExact(start, len, MADV_HUGEPAGE) == 0;
            long base = start;
            MemorySegment seg = MemorySegment.ofAddress(base).reinterpret(bytes, arena, s -> {
                try {
                    int unused = (int) MUNMAP.invokeExact(base, len);
                } catch (Throwable ignored) {
                    // at close: nothing left to do
                }
            });
            return new Region(seg, advised);
        } catch (Throwable t) {
            return null;
        }
    }

    /** An anonymous region from {@link #allocate}, and whether the kernel took the huge-page advice for it. */
    record Region(MemorySegment segment, boolean advised) {
    }

    /**
     * Bytes [0, {@code size}) of the file open on {@code ch} read into {@code dst} by {@code pool}'s threads, each taking
     * {@link #CHUNK}-sized pieces (disjoint ranges) with positional reads. No mapping of the file is made: its pages stay
     * in the page cache (reclaimable, not this process's resident set), and each piece is one copy out of it. The
     * destination's pages are faulted in by the read itself, one fault per 2 MB page: faulting them in first with
     * {@code MADV_POPULATE_WRITE} measured no cheaper (the faults' cost is the kernel zeroing and, where free memory
     * is fragmented, compacting it, which populating first does not avoid).
     */
    static void read(FileChannel ch, long size, MemorySegment dst, ThreadPool pool) {
        int pieces = (int) ((size + CHUNK - 1) / CHUNK);
        pool.parallelFor(pieces, (p0, p1, worker) -> {
            for (int p = p0; p < p1; p++) {
                long off = p * CHUNK;
                readFully(ch, dst.asSlice(off, Math.min(CHUNK, size - off)).asByteBuffer(), off);
            }
        }, pieces);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) {
        try {
            while (buf.hasRemaining()) {
                int r = ch.read(buf, pos);
                if (r < 0) throw new IOException("the file ended early");
                pos += r;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
