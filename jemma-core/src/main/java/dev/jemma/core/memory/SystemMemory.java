package dev.jemma.core.memory;

import dev.jemma.core.JemmaProperties;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * What memory this process can use: the JVM's maximum heap ({@code Runtime.maxMemory()}) for the on-heap KV cache
 * and scratch, and {@code MemAvailable} from /proc/meminfo (or the cgroup v2 limit's remaining room, when lower) for
 * everything. The system properties {@code jemma.memory.heap} and {@code jemma.memory.available} (bytes) override
 * both, for tests and for users who know better.
 */
public final class SystemMemory {
    private SystemMemory() {
    }

    /** The JVM's maximum heap, bytes ({@code -Djemma.memory.heap} overrides). */
    public static long heapLimit() {
        Long o = JemmaProperties.memoryHeap();
        return o != null ? o : Runtime.getRuntime().maxMemory();
    }

    /** MemAvailable (Linux), lowered to the cgroup v2 limit's remaining room when that is smaller; -1 if unknown. */
    public static long available() {
        Long o = JemmaProperties.memoryAvailable();
        if (o != null) return o;
        long avail = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    avail = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        try {
            Path max = Path.of("/sys/fs/cgroup/memory.max"), cur = Path.of("/sys/fs/cgroup/memory.current");
            if (Files.isReadable(max) && Files.isReadable(cur)) {
                String m = Files.readString(max).trim();
                if (!m.equals("max")) {
                    long room = Long.parseLong(m) - Long.parseLong(Files.readString(cur).trim());
                    if (room >= 0 && (avail < 0 || room < avail)) avail = room;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // no cgroup limit readable: MemAvailable stands
        }
        return avail;
    }

    /** "1.23 GB" (decimal units, like file sizes in ls -h --si and llama.cpp's logs). */
    public static String gb(long bytes) {
        if (bytes < 1_000_000) return String.format(Locale.ROOT, "%.1f KB", bytes / 1e3);
        if (bytes < 1_000_000_000) return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
        return String.format(Locale.ROOT, "%.2f GB", bytes / 1e9);
    }
}
