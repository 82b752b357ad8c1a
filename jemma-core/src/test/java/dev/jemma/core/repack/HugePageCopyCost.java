package dev.jemma.core.repack;

import dev.jemma.core.tensor.ThreadPool;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Where the copy of a weight cache file into 2 MB pages spends its time (docs/PERFORMANCE.md, "2 MB pages by default"):
 * each variant in turn, with its wall time, this process's user and system CPU and minor faults ({@code /proc/self/stat}),
 * the 2 MB pages it got ({@code AnonHugePages}) and the system's page-fault, compaction and reclaim counters
 * ({@code /proc/vmstat}, whole machine) around it. A measuring tool, not a test.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp … dev.jemma.core.repack.HugePageCopyCost FILE THREADS ROUNDS VARIANT,…
 *   map      the first version: the file mapped, copied 64 MB at a time, each chunk's file pages then MADV_DONTNEED
 *   pread    positional reads (32 MB) straight into the unpopulated 2 MB pages, THREADS threads
 *   popread  the same, each piece first faulted in with MADV_POPULATE_WRITE
 *   pop      MADV_POPULATE_WRITE of the whole region only (the faults and zeroing alone)
 *   readbuf  positional reads into one reused 32 MB buffer per thread (the copy out of the page cache alone)
 *   filethp  no copy: the file mapped shared at a 2 MB-aligned address, advised MADV_HUGEPAGE, faulted in with
 *            MADV_POPULATE_READ (readahead then fills the page cache with 2 MB folios, mapped as 2 MB pages)
 *   filedrop the same after POSIX_FADV_DONTNEED of the file (its cached small folios dropped: read again from disk)
 *   pump     the file's cached pages dropped and read again 256 MB at a time, each piece after faulting in and freeing
 *            256 MB of anonymous 2 MB pages (the kernel compacts free memory into 2 MB blocks for those; the file's
 *            readahead then finds them free for its 2 MB folios)
 *   collapse filethp, then MADV_COLLAPSE over the mapping (the kernel copies small folios into 2 MB ones, compacting)
 * </pre>
 */
public final class HugePageCopyCost {
    private static final String[] VMSTAT = {"thp_fault_alloc", "thp_fault_fallback", "compact_stall", "compact_success",
            "compact_fail", "pgscan_direct", "pgsteal_direct", "pgmajfault", "pgfault", "allocstall_normal", "allocstall_movable",
            "pgpgin"};

    public static void main(String[] args) throws Throwable {
        Path file = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]);
        int rounds = Integer.parseInt(args[2]);
        String[] variants = args[3].split(",");
        long size = Files.size(file);
        System.out.printf(Locale.ROOT, "file %s, %.2f GB, %d threads; THP %s, defrag %s%n", file, size / 1e9, threads,
                Files.readString(Path.of("/sys/kernel/mm/transparent_hugepage/enabled")).trim(),
                Files.readString(Path.of("/sys/kernel/mm/transparent_hugepage/defrag")).trim());
        try (ThreadPool pool = new ThreadPool(threads); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (int r = 0; r < rounds; r++) {
                for (String v : variants) run(v, ch, file, size, pool);
            }
        }
    }

    private static void run(String variant, FileChannel ch, Path file, long size, ThreadPool pool) throws Throwable {
        Map<String, Long> vm0 = vmstat();
        long[] s0 = stat();
        long t0 = System.nanoTime();
        long huge = -1;
        String extra = "";
        switch (variant) {
            case "map" -> {
                try (Arena a = Arena.ofShared(); Arena m = Arena.ofShared()) {
                    MemorySegment dst = HugePages.allocate(size, a).segment();
                    MemorySegment src = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, m);
                    long chunk = 64L << 20;
                    for (long o = 0; o < size; o += chunk) {
                        long n = Math.min(chunk, size - o);
                        MemorySegment.copy(src, o, dst, o, n);
                        int unused = (int) MADVISE.invokeExact(src.address() + o, n, 4);
                    }
                    huge = anonHuge();
                }
            }
            case "pread", "popread" -> {
                try (Arena a = Arena.ofShared()) {
                    MemorySegment dst = HugePages.allocate(size, a).segment();
                    boolean pop = variant.equals("popread");
                    int pieces = (int) ((size + HugePages.CHUNK - 1) / HugePages.CHUNK);
                    boolean[] refused = new boolean[1];
                    pool.parallelFor(pieces, (p0, p1, w) -> {
                        for (int p = p0; p < p1; p++) {
                            long off = p * HugePages.CHUNK;
                            MemorySegment piece = dst.asSlice(off, Math.min(HugePages.CHUNK, size - off));
                            if (pop && !populate(piece)) refused[0] = true;
                            var buf = piece.asByteBuffer();
                            try {
                                while (buf.hasRemaining()) {
                                    if (ch.read(buf, off + buf.position()) < 0) break;
                                }
                            } catch (IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                        }
                    }, pieces);
                    extra = refused[0] ? " (populate refused)" : "";
                    huge = anonHuge();
                }
            }
            case "pop" -> {
                try (Arena a = Arena.ofShared()) {
                    MemorySegment dst = HugePages.allocate(size, a).segment();
                    int pieces = (int) ((size + HugePages.CHUNK - 1) / HugePages.CHUNK);
                    pool.parallelFor(pieces, (p0, p1, w) -> {
                        for (int p = p0; p < p1; p++) {
                            long off = p * HugePages.CHUNK;
                            populate(dst.asSlice(off, Math.min(HugePages.CHUNK, size - off)));
                        }
                    }, pieces);
                    huge = anonHuge();
                }
            }
            case "readbuf" -> {
                try (Arena a = Arena.ofShared()) {
                    MemorySegment bufs = a.allocate(HugePages.CHUNK * pool.threads(), 4096);
                    int pieces = (int) ((size + HugePages.CHUNK - 1) / HugePages.CHUNK);
                    pool.parallelFor(pieces, (p0, p1, w) -> {
                        for (int p = p0; p < p1; p++) {
                            long off = p * HugePages.CHUNK, n = Math.min(HugePages.CHUNK, size - off);
                            var buf = bufs.asSlice(w * HugePages.CHUNK, n).asByteBuffer();
                            try {
                                while (buf.hasRemaining()) {
                                    int k = ch.read(buf, off + buf.position());
                                    if (k < 0) break;
                                }
                            } catch (IOException e) {
                                throw new java.io.UncheckedIOException(e);
                            }
                        }
                    }, pieces);
                }
            }
            case "pump" -> {
                int fd = (int) OPEN.invokeExact(Arena.ofAuto().allocateFrom(file.toString()), 0);
                long len = (size + HugePages.HUGE - 1) / HugePages.HUGE * HugePages.HUGE;
                long raw = (long) MMAP.invokeExact(0L, len + HugePages.HUGE, 0, 0x22, -1, 0L);
                long start = (raw + HugePages.HUGE - 1) / HugePages.HUGE * HugePages.HUGE;
                long at = (long) MMAP.invokeExact(start, size, 1, 0x11, fd, 0L);
                int hp = (int) MADVISE.invokeExact(start, len, 14);
                long piece = 256L << 20;
                double anonS = 0;
                for (long o = 0; o < size; o += piece) {
                    long n = Math.min(piece, size - o);
                    int d = (int) FADVISE.invokeExact(fd, o, n, 4);
                    long t1 = System.nanoTime();
                    long anon = (long) MMAP.invokeExact(0L, piece + HugePages.HUGE, 3, 0x22, -1, 0L);
                    long as = (anon + HugePages.HUGE - 1) / HugePages.HUGE * HugePages.HUGE;
                    int h2 = (int) MADVISE.invokeExact(as, piece, 14);
                    int pw = (int) MADVISE.invokeExact(as, piece, 23);
                    int u = (int) MUNMAP.invokeExact(anon, piece + HugePages.HUGE);
                    anonS += (System.nanoTime() - t1) / 1e9;
                    int pr = (int) MADVISE.invokeExact(start + o, (n + 4095) / 4096 * 4096, 22);
                }
                extra = String.format(Locale.ROOT, " anon part %.2f s, filePmdMapped %d MB, Rss %d MB", anonS, rollup("FilePmdMapped:") >> 10, rollup("Rss:") >> 10);
                int u1 = (int) MUNMAP.invokeExact(raw, len + HugePages.HUGE);
                int u2 = (int) CLOSE.invokeExact(fd);
            }
            case "filethp", "filedrop", "collapse" -> {
                int fd = (int) OPEN.invokeExact(Arena.ofAuto().allocateFrom(file.toString()), 0);
                if (fd < 0) throw new IOException("open " + file);
                if (variant.equals("filedrop")) {
                    int unused = (int) FADVISE.invokeExact(fd, 0L, 0L, 4);
                }
                long len = (size + HugePages.HUGE - 1) / HugePages.HUGE * HugePages.HUGE;
                long raw = (long) MMAP.invokeExact(0L, len + HugePages.HUGE, 0, 0x22, -1, 0L); // PROT_NONE, private anonymous
                long start = (raw + HugePages.HUGE - 1) / HugePages.HUGE * HugePages.HUGE;
                long at = (long) MMAP.invokeExact(start, size, 1, 0x11, fd, 0L); // PROT_READ, MAP_SHARED | MAP_FIXED
                if (at != start) throw new IOException("mmap fixed");
                int hp = (int) MADVISE.invokeExact(start, len, 14);
                long t1 = System.nanoTime();
                int pop = (int) MADVISE.invokeExact(start, size, 22); // MADV_POPULATE_READ
                extra = " madvise " + hp + " populate " + pop + String.format(Locale.ROOT, " (populate %.2f s)", (System.nanoTime() - t1) / 1e9)
                        + " filePmdMapped " + (rollup("FilePmdMapped:") >> 10) + " MB, Rss " + (rollup("Rss:") >> 10) + " MB";
                if (variant.equals("collapse")) {
                    long t2 = System.nanoTime();
                    long[] c0 = stat();
                    int col = (int) MADVISE.invokeExact(start, (size + 4095) / 4096 * 4096, 25);
                    long[] c1 = stat();
                    extra += String.format(Locale.ROOT, "; collapse %d in %.2f s (user %.2f sys %.2f), then filePmdMapped %d MB", col,
                            (System.nanoTime() - t2) / 1e9, (c1[2] - c0[2]) / 100.0, (c1[3] - c0[3]) / 100.0, rollup("FilePmdMapped:") >> 10);
                }
                int u1 = (int) MUNMAP.invokeExact(raw, len + HugePages.HUGE);
                int u2 = (int) CLOSE.invokeExact(fd);
            }
            default -> throw new IllegalArgumentException("variant " + variant);
        }
        long wall = System.nanoTime() - t0;
        long[] s1 = stat();
        Map<String, Long> vm1 = vmstat();
        StringBuilder d = new StringBuilder();
        for (String k : VMSTAT) {
            long dv = vm1.getOrDefault(k, 0L) - vm0.getOrDefault(k, 0L);
            if (dv != 0) d.append(' ').append(k).append('=').append(dv);
        }
        double tick = 100.0;
        System.out.printf(Locale.ROOT, "%-8s wall %6.2f s  user %6.2f s  sys %6.2f s  minflt %8d  majflt %6d  anonHuge %6d MB  load %s |%s%s%n",
                variant, wall / 1e9, (s1[2] - s0[2]) / tick, (s1[3] - s0[3]) / tick, s1[0] - s0[0], s1[1] - s0[1],
                huge < 0 ? 0 : huge >> 10, Files.readString(Path.of("/proc/loadavg")).split(" ")[0], d, extra);
    }

    private static final MethodHandle MADVISE, MMAP, MUNMAP, OPEN, CLOSE, FADVISE;

    /** MADV_POPULATE_WRITE (Linux 5.14+): faults the pages in now; false where refused. */
    private static boolean populate(MemorySegment seg) {
        try {
            return (int) MADVISE.invokeExact(seg.address(), seg.byteSize(), 23) == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    static {
        Linker l = Linker.nativeLinker();
        var lookup = l.defaultLookup();
        MADVISE = l.downcallHandle(lookup.find("madvise").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        MMAP = l.downcallHandle(lookup.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
        MUNMAP = l.downcallHandle(lookup.find("munmap").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        OPEN = l.downcallHandle(lookup.find("open").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
                Linker.Option.firstVariadicArg(2));
        CLOSE = l.downcallHandle(lookup.find("close").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        FADVISE = l.downcallHandle(lookup.find("posix_fadvise").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    }

    /** minflt, majflt, utime, stime (ticks) of this process. */
    private static long[] stat() throws IOException {
        String s = Files.readString(Path.of("/proc/self/stat"));
        String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
        // fields after the command: state(3) ppid pgrp session tty tpgid flags minflt(10) cminflt majflt(12) cmajflt utime(14) stime
        return new long[]{Long.parseLong(f[7]), Long.parseLong(f[9]), Long.parseLong(f[11]), Long.parseLong(f[12])};
    }

    /** AnonHugePages of this process, kB. */
    private static long anonHuge() throws IOException {
        return rollup("AnonHugePages:");
    }

    /** One field of /proc/self/smaps_rollup, kB. */
    private static long rollup(String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps_rollup"))) {
            if (line.startsWith(key)) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        return -1;
    }

    private static Map<String, Long> vmstat() throws IOException {
        Map<String, Long> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc/vmstat"))) {
            String[] kv = line.split(" ");
            m.put(kv[0], Long.parseLong(kv[1]));
        }
        return m;
    }
}
