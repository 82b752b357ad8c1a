package dev.jemma.cli;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class WarmUpTest {
    /** A fake JVM: each run takes 1 s and the JIT compiles for compileMsPerRun[i] ms during run i. */
    private static int runs(long... compileMsPerRun) {
        AtomicLong compiled = new AtomicLong(), clock = new AtomicLong();
        int[] i = {0};
        return new WarmUp(compiled::get, clock::get).run(() -> {
            compiled.addAndGet(i[0] < compileMsPerRun.length ? compileMsPerRun[i[0]] : 0);
            clock.addAndGet(1_000_000_000L);
            i[0]++;
        });
    }

    @Test
    void stopsAtTheFirstQuietRun() {
        assertThat(runs(900, 300, 5)).isEqualTo(3);
        assertThat(runs(0)).isEqualTo(1);
        assertThat(runs(900, 9)).as("under 1 % of the run's wall time").isEqualTo(2);
    }

    /** Each run takes 50 ms (a 64-token embedding call) and the JIT compiles compileMs ms during each of the first n. */
    private static int shortRuns(long windowMs, long maxMs, int n, long compileMs) {
        AtomicLong compiled = new AtomicLong(), clock = new AtomicLong();
        int[] i = {0};
        return new WarmUp(compiled::get, clock::get).run(() -> {
            if (i[0]++ < n) compiled.addAndGet(compileMs);
            clock.addAndGet(50_000_000L);
        }, windowMs, maxMs);
    }

    @Test
    void judgesShortRunsOverAWindowOfRuns() {
        // 15 ms of compilation in each 50 ms run: one run alone reads quiet (under 20 ms), a second of them does not
        assertThat(shortRuns(0, 0, 30, 15)).isEqualTo(1);
        // windows of 20 runs: runs 1-20 compile 300 ms, 21-40 150 ms, 41-60 nothing
        assertThat(shortRuns(1_000, 30_000, 30, 15)).isEqualTo(60);
        assertThat(shortRuns(1_000, 30_000, 0, 0)).as("quiet from the start: one window").isEqualTo(20);
    }

    @Test
    void givesUpOnShortRunsAfterBothLimits() {
        assertThat(shortRuns(1_000, 3_000, 1_000, 15)).as("3 s of windows").isEqualTo(60);
        assertThat(shortRuns(10, 0, 1_000, 30)).as("MAX_RUNS windows of one run").isEqualTo(WarmUp.MAX_RUNS);
    }

    @Test
    void givesUpAfterTheMaximum() {
        assertThat(runs(500, 500, 500, 500, 500, 500, 500, 500, 500, 500)).isEqualTo(WarmUp.MAX_RUNS);
    }

    @Test
    void withoutCompilationMonitoringRunsOnce() {
        int[] n = {0};
        assertThat(new WarmUp(null, System::nanoTime).run(() -> n[0]++)).isEqualTo(1);
        assertThat(n[0]).isEqualTo(1);
    }
}
