import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a JFR recording says was allocated between two instants (tools/serve-alloc.sh): every thread's allocated bytes
 * from {@code jdk.ThreadAllocationStatistics} (the last sample at or before each instant), and the heaviest allocation
 * sites of the TLAB events in between (object class and the first Jemma / Jetty / Jackson frames, weighted by the
 * TLAB's size or the object's outside one). Streams the file: a whole recording printed as JSON was 10 GB.
 *
 * <p>usage: java [-Dsites=N] [-Dsite=TEXT] tools/AllocSites.java REC.jfr FROM_EPOCH_S TO_EPOCH_S GENERATED_TOKENS
 */
public class AllocSites {
    public static void main(String[] args) throws Exception {
        Instant from = seconds(args[1]), to = seconds(args[2]);
        long tokens = Long.parseLong(args[3]);
        Map<Long, long[]> atFrom = new HashMap<>(), atTo = new HashMap<>();
        Map<Long, String> names = new HashMap<>();
        Map<String, Long> sites = new HashMap<>();
        Map<Long, Long> overTime = new java.util.TreeMap<>();
        long sampled = 0;
        try (RecordingFile f = new RecordingFile(Path.of(args[0]))) {
            while (f.hasMoreEvents()) {
                RecordedEvent e = f.readEvent();
                String type = e.getEventType().getName();
                Instant t = e.getStartTime();
                if (type.equals("jdk.ThreadAllocationStatistics")) {
                    RecordedThread th = e.getThread("thread");
                    if (th == null) continue;
                    long id = th.getId(), bytes = e.getLong("allocated");
                    names.put(id, String.valueOf(th.getJavaName()));
                    if (!t.isAfter(from)) keepLatest(atFrom, id, t, bytes);
                    if (!t.isAfter(to)) keepLatest(atTo, id, t, bytes);
                } else if ((type.equals("jdk.ObjectAllocationInNewTLAB") || type.equals("jdk.ObjectAllocationOutsideTLAB")) && !t.isBefore(from) && !t.isAfter(to)) {
                    long size = e.hasField("tlabSize") ? e.getLong("tlabSize") : e.getLong("allocationSize");
                    StringBuilder where = new StringBuilder(e.getClass("objectClass").getName());
                    int n = 0;
                    if (e.getStackTrace() != null) {
                        for (RecordedFrame fr : e.getStackTrace().getFrames()) {
                            String type0 = fr.getMethod().getType().getName();
                            if (!type0.startsWith("dev.jemma") && !type0.startsWith("org.eclipse") && !type0.startsWith("com.fasterxml")) continue;
                            where.append(n == 0 ? "  " : " < ").append(type0.substring(type0.lastIndexOf('.') + 1)).append('.')
                                    .append(fr.getMethod().getName()).append(':').append(fr.getLineNumber());
                            if (++n == 3) break;
                        }
                    }
                    sites.merge(where.toString(), size, Long::sum);
                    String match = System.getProperty("site");
                    if (match != null && where.toString().contains(match)) {
                        // -Dsite=TEXT: that site's bytes per 30 s of the window (when it allocates: warm-up, every wave...)
                        overTime.merge((t.toEpochMilli() - from.toEpochMilli()) / 30_000, size, Long::sum);
                    }
                    sampled += size;
                }
            }
        }
        Map<String, Long> byThread = new HashMap<>();
        long total = 0;
        for (var en : atTo.entrySet()) {
            long[] a = atFrom.get(en.getKey());
            long d = en.getValue()[1] - (a == null ? 0 : a[1]);
            total += d;
            byThread.merge(names.get(en.getKey()).replaceAll("[-@]?[0-9]+$", ""), d, Long::sum);
        }
        double wall = (to.toEpochMilli() - from.toEpochMilli()) / 1e3;
        System.out.printf("%.1f MB allocated in %.1f s: %.2f MB/s, %.1f KB per generated token (%d tokens)%n", total / 1e6, wall,
                total / 1e6 / wall, total / 1e3 / Math.max(1, tokens), tokens);
        byThread.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(6)
                .forEach(en -> System.out.printf("  %9.1f MB  %s%n", en.getValue() / 1e6, en.getKey()));
        System.out.printf("  TLAB events in the window: %.1f MB; heaviest sites:%n", sampled / 1e6);
        List<Map.Entry<String, Long>> top = sites.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(Integer.getInteger("sites", 14)).toList();
        for (var en : top) System.out.printf("  %9.1f MB  %s%n", en.getValue() / 1e6, en.getKey());
        if (!overTime.isEmpty()) {
            System.out.print("  " + System.getProperty("site") + ", MB per 30 s:");
            overTime.forEach((k, v) -> System.out.printf(" [%d s] %.0f", k * 30, v / 1e6));
            System.out.println();
        }
    }

    private static void keepLatest(Map<Long, long[]> m, long id, Instant t, long bytes) {
        long[] cur = m.get(id);
        long ms = t.toEpochMilli();
        if (cur == null || cur[0] <= ms) m.put(id, new long[]{ms, bytes});
    }

    private static Instant seconds(String s) {
        double v = Double.parseDouble(s);
        return Instant.ofEpochMilli((long) (v * 1000));
    }
}
