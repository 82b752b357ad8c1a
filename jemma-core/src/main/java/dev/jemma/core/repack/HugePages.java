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

/**
 * Linux transparent huge pages for the weight copy (docs/PERFORMANCE.md, "2 MB pages by default"): an anonymous mapping
 * aligned to 2 MB and advised {@code MADV_HUGEPAGE} before its first touch, so that the kernel backs it with 2 MB pages
 * where it can (the host's THP mode {@code madvise} or {@code always}; with {@code never} it stays 4 KB pages and works
 * the same). Best effort: null where the calls are unavailable (not Linux, native access refused).
 */
final class HugePages {
    static final long HUGE = 2L << 20;
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MADV_HUGEPAGE = 14;
    /**
     * Bytes one pool thread reads in one go: large sequential reads (the page cache copies straight into the 2 MB pages,
     * no page table of the file's is ever built), and enough pieces for two threads to share a copy evenly.
     */
    static final long CHUNK = 32L << 20;
    private static final MethodHandle MMAP, MUNMAP, MADVISE;

    static {
        MethodHandle mmap = null, munmap = null, madvise = null;
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
            } catch (RuntimeException | Error e) {
                mmap = munmap = madvise = null; // native access refused, or no such symbols
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
        MADVISE = madvise;
    }

    private HugePages() {
    }

    /** Whether this JVM can map and advise memory at all (Linux, native access allowed). */
    static boolean available() {
        return MMAP != null;
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
