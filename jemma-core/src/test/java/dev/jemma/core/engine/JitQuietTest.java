package dev.jemma.core.engine;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The one "until the JIT is quiet" rule, on a fake JVM, with the settings of its three users: {@code jemma bench}
 * (quiet under 20 ms or 1 %, at most 8 runs; the embedding bench over windows of 1 s), {@link Engine#warmUp} (at least
 * 2 rounds and C2 idle, at most 8 rounds and 30 s, 8 rounds blind) and the embedder's warm-up (at least 2, at most 4).
 */
class JitQuietTest {
    private static final UnaryOperator<JitQuiet> BENCH = q -> q.quietUnder(20).atMost(8, 0);
    private static final UnaryOperator<JitQuiet> ENGINE = q -> q.atLeast(2).atMost(Engine.WARM_UP_ROUNDS, Engine.MAX_WARM_UP_MS)
            .blind(Engine.WARM_UP_ROUNDS).untilC2Idle();
    private static final UnaryOperator<JitQuiet> EMBEDDER = q -> q.atLeast(2).atMost(4, 0);

    /**
     * A fake JVM: round i takes {@code roundMs} and the JIT compiles compileMs[i] ms during it (0 past the array); C2
     * holds one of Jemma's methods after each of the first {@code c2BusyRounds} rounds.
     */
    private static int rounds(UnaryOperator<JitQuiet> rule, long roundMs, int c2BusyRounds, long... compileMs) {
        AtomicLong compiled = new AtomicLong(), clock = new AtomicLong();
        int[] i = {0};
        JitQuiet quiet = rule.apply(JitQuiet.watching(compiled::get, clock::get, () -> i[0] <= c2BusyRounds));
        return quiet.run(round -> {
            assertThat(round).as("rounds numbered from 1").isEqualTo(i[0] + 1);
            compiled.addAndGet(i[0] < compileMs.length ? compileMs[i[0]] : 0);
            clock.addAndGet(roundMs * 1_000_000L);
            i[0]++;
        });
    }

    @Test
    void benchStopsAtTheFirstQuietRun() {
        assertThat(rounds(BENCH, 1000, 0, 900, 300, 5)).isEqualTo(3);
        assertThat(rounds(BENCH, 1000, 0, 0)).isEqualTo(1);
        assertThat(rounds(BENCH, 1000, 0, 900, 9)).as("under 1 % of the run's wall time").isEqualTo(2);
        assertThat(rounds(BENCH, 1000, 5, 900, 9)).as("C2's queue not consulted").isEqualTo(2);
    }

    /** Each run takes 50 ms (a 64-token embedding call) and the JIT compiles compileMs ms during each of the first n. */
    private static int shortRuns(long windowMs, long maxMs, int n, long compileMs) {
        long[] c = new long[n];
        java.util.Arrays.fill(c, compileMs);
        return rounds(q -> BENCH.apply(q).window(windowMs).atMost(8, maxMs), 50, 0, c);
    }

    @Test
    void embeddingBenchJudgesShortRunsOverAWindowOfRuns() {
        // 15 ms of compilation in each 50 ms run: one run alone reads quiet (under 20 ms), a second of them does not
        assertThat(shortRuns(0, 0, 30, 15)).isEqualTo(1);
        // windows of 20 runs: runs 1-20 compile 300 ms, 21-40 150 ms, 41-60 nothing
        assertThat(shortRuns(1_000, 30_000, 30, 15)).isEqualTo(60);
        assertThat(shortRuns(1_000, 30_000, 0, 0)).as("quiet from the start: one window").isEqualTo(20);
    }

    @Test
    void embeddingBenchGivesUpOnShortRunsAfterBothLimits() {
        assertThat(shortRuns(1_000, 3_000, 1_000, 15)).as("3 s of windows").isEqualTo(60);
        assertThat(shortRuns(10, 0, 1_000, 30)).as("8 windows of one run").isEqualTo(8);
    }

    @Test
    void benchGivesUpAfterTheMaximum() {
        assertThat(rounds(BENCH, 1000, 0, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500)).isEqualTo(8);
    }

    @Test
    void engineJudgesFromTheSecondRoundAndWaitsForC2() {
        assertThat(rounds(ENGINE, 1000, 0)).as("quiet from the start, but judged from round 2").isEqualTo(2);
        assertThat(rounds(ENGINE, 1000, 0, 900, 300, 5)).isEqualTo(3);
        assertThat(rounds(ENGINE, 1000, 0, 900, 15)).as("no 20 ms floor: 15 ms is 1.5 % of the round").isEqualTo(3);
        assertThat(rounds(ENGINE, 1000, 4, 900, 5)).as("quiet by time from round 2, C2 busy through round 4").isEqualTo(5);
    }

    @Test
    void engineGivesUpAfterBothEightRoundsAndThirtySeconds() {
        long[] busy = new long[1000];
        java.util.Arrays.fill(busy, 500);
        assertThat(rounds(ENGINE, 1000, 0, busy)).as("30 rounds of 1 s").isEqualTo(30);
        assertThat(rounds(ENGINE, 10_000, 0, busy)).as("8 rounds of 10 s").isEqualTo(8);
        assertThat(rounds(ENGINE, 10_000, 1000)).as("C2 never idle").isEqualTo(8);
    }

    @Test
    void embedderJudgesFromTheSecondRoundAndStopsAtFour() {
        assertThat(rounds(EMBEDDER, 1000, 0)).isEqualTo(2);
        assertThat(rounds(EMBEDDER, 1000, 0, 900, 300, 5)).isEqualTo(3);
        assertThat(rounds(EMBEDDER, 1000, 0, 500, 500, 500, 500, 500, 500)).isEqualTo(4);
        assertThat(rounds(EMBEDDER, 1000, 9, 900, 5)).as("C2's queue not consulted").isEqualTo(2);
    }

    @Test
    void withoutCompilationMonitoringRunsTheBlindRounds() {
        for (var rule : java.util.List.of(BENCH, EMBEDDER, ENGINE)) {
            int[] n = {0};
            JitQuiet quiet = rule.apply(JitQuiet.watching(null, System::nanoTime, () -> true));
            int rounds = quiet.run(round -> assertThat(round).isEqualTo(++n[0]));
            assertThat(rounds).isEqualTo(n[0]).isEqualTo(rule == ENGINE ? Engine.WARM_UP_ROUNDS : 1);
        }
    }
}
