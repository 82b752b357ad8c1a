package dev.jemma.core.repack;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Linux transparent huge pages for the weight copy ({@code -Djemma.hugePages=true}; docs/PERFORMANCE.md, "Huge pages and
 * the per-JVM spread"): an
 * anonymous mapping aligned to 2 MB and advised {@code MADV_HUGEPAGE} before its first touch, so that the kernel backs
 * it with 2 MB pages where it can (the host's THP mode {@code madvise} or {@code always}; with {@code never} it stays
 * 4 KB pages and works the same). Best effort: null where the calls are unavailable (not Linux, native access refused).
 */
final class HugePages {
    static final long HUGE = 2L << 20;
    private static final int PROT_READ = 1, PROT_WRITE = 2, MAP_PRIVATE = 2, MAP_ANONYMOUS = 0x20, MADV_DONTNEED = 4, MADV_HUGEPAGE = 14;
    /** Bytes copied between two releases of the source's pages: bounds what the copy adds to peak RSS. */
    private static final long CHUNK = 64L << 20;
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

    /**
     * {@code bytes} of zeroed anonymous memory starting on a 2 MB boundary and advised for huge pages, unmapped when
     * {@code arena} closes; null where that cannot be had (the caller then keeps what it had).
     */
    static MemorySegment allocate(long bytes, Arena arena) {
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
            int advised = (int) MADVISE.invokeExact(start, len, MADV_HUGEPAGE); // refused (THP never): 4 KB pages, same bytes
            long base = start;
            return MemorySegment.ofAddress(base).reinterpret(bytes, arena, s -> {
                try {
                    int unused = (int) MUNMAP.invokeExact(base, len);
                } catch (Throwable ignored) {
                    // at close: nothing left to do
                }
            });
        } catch (Throwable t) {
            return null;
        }
    }

    /**
     * A copy of the file mapping {@code src} in {@link #allocate anonymous huge-page memory}, or null (then nothing was
     * allocated). The source's pages are dropped from this process's page tables chunk by chunk ({@code MADV_DONTNEED}
     * on a read-only shared mapping: the page cache keeps them), so the copy adds about one chunk to peak RSS rather than
     * the whole mapping.
     */
    static MemorySegment copyOf(MemorySegment src, Arena arena) {
        MemorySegment dst = allocate(src.byteSize(), arena);
        if (dst == null) return null;
        for (long o = 0; o < src.byteSize(); o += CHUNK) {
            long n = Math.min(CHUNK, src.byteSize() - o);
            MemorySegment.copy(src, o, dst, o, n);
            try {
                int unused = (int) MADVISE.invokeExact(src.address() + o, n, MADV_DONTNEED);
            } catch (Throwable ignored) {
                // only peak RSS is at stake
            }
        }
        return dst;
    }
}
