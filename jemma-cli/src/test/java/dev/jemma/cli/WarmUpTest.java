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
