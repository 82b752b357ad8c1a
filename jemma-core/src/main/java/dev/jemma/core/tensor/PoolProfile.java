package dev.jemma.core.tensor;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Where a {@link ThreadPool}'s threads spend their CPU time, loop by loop: a profiling aid for how several threads share
 * a forward (docs/PERFORMANCE.md, "How two threads share an embedding forward"), set with {@link ThreadPool#profile}.
 * Every {@code parallelFor} is filed under a label naming the kernel and the model line that called it, and per label
 * it sums, in CPU nanoseconds:
 * <ul>
 *   <li>{@code work[i]}: thread i inside its share of the loop (thread 0 is the caller's);</li>
 *   <li>{@code callerWait}: the caller after its share, spinning or parked until the last worker is done (imbalance);</li>
 *   <li>{@code workerIdle}: the workers after their share until their next loop starts: imbalance in this loop, then
 *       the caller's serial work after it (spinning workers burn CPU; parked ones do not);</li>
 *   <li>{@code serialBefore}: the caller between the previous loop and this one, the workers having nothing to do.</li>
 * </ul>
 * The caller's reads of its stack (for the label) are not counted anywhere. Not thread-safe: one caller thread.
 */
public final class PoolProfile {
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
    private static final StackWalker WALKER = StackWalker.getInstance();

    /** Sums for one label. */
    public static final class Entry {
        public long calls, items, callerWait, workerIdle, serialBefore;
        public final long[] work;

        Entry(int threads) {
            work = new long[threads];
        }

        public long work() {
            long s = 0;
            for (long w : work) s += w;
            return s;
        }
    }

    private final int threads;
    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private Entry last;
    private long lastExit = -1;
    private final long[] workerEnd;

    public PoolProfile(int threads) {
        this.threads = threads;
        this.workerEnd = new long[threads];
    }

    /** This thread's CPU clock in nanoseconds. */
    static long cpu() {
        return CPU.getCurrentThreadCpuTime();
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    /**
     * Ends a measured stretch (say, one embedding call): the caller's CPU since the last loop is filed under
     * {@code label} as serial work (its {@code calls} count the stretches), and the next loop's serial time counts from
     * the next {@link #start}.
     */
    public void mark(String label) {
        long now = cpu();
        Entry e = entry(label);
        e.calls++;
        if (lastExit >= 0) e.serialBefore += now - lastExit;
        lastExit = -1;
        last = null;
        java.util.Arrays.fill(workerEnd, 0);
    }

    /** Starts a stretch: serial time counts from now. */
    public void start() {
        lastExit = cpu();
        last = null;
        java.util.Arrays.fill(workerEnd, 0);
    }

    /** The calling kernel's class.method, the blocks between, and the model line that called it; then the item count. */
    String label(int n) {
        String site = WALKER.walk(frames -> {
            var list = frames.dropWhile(f -> f.getClassName().equals(ThreadPool.class.getName()))
                    .takeWhile(f -> !f.getClassName().startsWith("dev.jemma.core.model.") || f.getClassName().endsWith("DecoderBlocks")
                            || f.getClassName().contains("DecoderBlocks$"))
                    .collect(Collectors.toList());
            return list;
        }).stream().map(f -> simple(f.getClassName()) + "." + f.getMethodName()).distinct().collect(Collectors.joining(" < "));
        String caller = WALKER.walk(frames -> frames
                .filter(f -> f.getClassName().startsWith("dev.jemma.core.model.") && !f.getClassName().contains("DecoderBlocks"))
                .findFirst().map(f -> simple(f.getClassName()) + "." + f.getMethodName() + ":" + f.getLineNumber()).orElse("?"));
        return site + " < " + caller + " [n=" + n + "]";
    }

    private static String simple(String className) {
        String s = className.substring(className.lastIndexOf('.') + 1);
        int lambda = s.indexOf("$$Lambda");
        return lambda >= 0 ? s.substring(0, lambda) : s;
    }

    private Entry entry(String label) {
        return entries.computeIfAbsent(label, k -> new Entry(threads));
    }

    /**
     * One loop: the caller entered at CPU {@code enter}, had its label at {@code start}, ran its share over
     * [{@code callerStart}, {@code callerEnd}] and returned at {@code exit}; workers' shares in {@code ws}/{@code we}
     * (null: the loop ran on the caller alone; −1: that worker took no chunk of it).
     */
    void loop(String label, int n, long enter, long start, long callerStart, long callerEnd, long exit, long[] ws, long[] we) {
        Entry e = entry(label);
        e.calls++;
        e.items += n;
        if (lastExit >= 0) e.serialBefore += enter - lastExit;
        e.work[0] += callerEnd - callerStart;
        e.callerWait += (exit - callerEnd) + (callerStart - start);
        if (ws != null) {
            long labelling = start - enter;
            for (int i = 1; i < threads; i++) {
                // a worker that came late and found every chunk taken took no part: its idle time runs on to its next share
                if (ws[i] < 0) continue;
                e.work[i] += we[i] - ws[i];
                // the worker spun from its last share's end to this one's start, minus the caller's stack walk
                if (last != null && workerEnd[i] > 0) last.workerIdle += Math.max(0, ws[i] - workerEnd[i] - labelling);
                workerEnd[i] = we[i];
            }
        }
        last = e;
        lastExit = exit;
    }
}
