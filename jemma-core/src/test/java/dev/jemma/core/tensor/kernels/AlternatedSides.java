package dev.jemma.core.tensor.kernels;

import java.lang.management.ManagementFactory;
import java.util.Arrays;

/**
 * The A/B loop of this package's timing mains ({@link ResidualBatchSpeed}, {@link ResidualRowSpeed}): several sides run
 * in one JVM, warmed up together, then timed round by round with the order rotated each round, in process CPU time
 * (every pool thread and the caller), so that a loaded machine's swings fall on all sides alike.
 */
final class AlternatedSides {
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    private AlternatedSides() {
    }

    /** Runs every side in turn at least {@code minRounds} times and until {@code nanos} of wall time have passed. */
    static void warmUp(Runnable[] sides, int minRounds, long nanos) {
        long until = System.nanoTime() + nanos;
        for (int i = 0; i < minRounds || System.nanoTime() < until; i++) for (Runnable s : sides) s.run();
    }

    /** CPU nanoseconds of {@code loops} runs of each side in each of {@code reps} rounds; each side's times sorted. */
    static long[][] sortedCpuNanos(Runnable[] sides, int loops, int reps) {
        int n = sides.length;
        long[][] t = new long[n][reps];
        for (int r = 0; r < reps; r++) {
            for (int k = 0; k < n; k++) {
                int side = (k + r) % n;
                long c0 = OS.getProcessCpuTime();
                for (int i = 0; i < loops; i++) sides[side].run();
                t[side][r] = OS.getProcessCpuTime() - c0;
            }
        }
        for (long[] s : t) Arrays.sort(s);
        return t;
    }

    /** "   NAME best / median" per side, in {@code work} (per side's round) per CPU nanosecond, i.e. G per CPU second. */
    static String rates(String[] names, long[][] sorted, double work) {
        StringBuilder sb = new StringBuilder();
        for (int side = 0; side < sorted.length; side++) {
            long[] t = sorted[side];
            sb.append(String.format("   %s %5.1f / %5.1f", names[side], work / t[0], work / t[t.length / 2]));
        }
        return sb.toString();
    }
}
