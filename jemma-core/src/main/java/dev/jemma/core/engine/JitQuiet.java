package dev.jemma.core.engine;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.function.BooleanSupplier;
import java.util.function.IntConsumer;
import java.util.function.LongSupplier;

/**
 * Runs a warm-up round again and again until the JIT is quiet: the one rule behind {@code jemma bench}'s untimed runs,
 * {@link Engine#warmUp} and {@link dev.jemma.core.embed.Embedder#warmUp}. A window of rounds (one round, or consecutive
 * rounds lasting at least {@link #window}) is quiet when the compilers spent under {@value #QUIET_PERCENT} % of its
 * wall time — or under {@link #quietUnder} ms — and, with {@link #untilC2Idle}, C2 holds none of Jemma's methods; the
 * first quiet window after at least {@link #atLeast} rounds ends the warm-up. It gives up once both {@link #atMost}'s
 * rounds and milliseconds have passed. A JVM that does not measure compile time gets {@link #blind} rounds.
 *
 * <p>Why compile time and not a round count: code that runs once per forward becomes hot only after a few rounds, and
 * its C2 compilation then takes one of a small machine's cores during what follows (a benchmark's timed runs, a
 * server's first requests). Why the queue too: the compilers' total time grows only when a compilation ends, so a round
 * shorter than one C2 compilation of a wide kernel (up to ~1 s) can look quiet while it runs ({@link JitQueue}).
 *
 * <p>Immutable: each setting returns a copy. {@link #ofThisJvm()}'s defaults: at least 1 round, no floor in ms, at most
 * 8 rounds (no time limit), windows of one round, 1 round blind, C2's queue not consulted.
 */
public final class JitQuiet {
    /** A window is quiet when the compilers spent under this share (%) of its wall time. */
    public static final int QUIET_PERCENT = 1;

    private final LongSupplier compileMillis;
    private final LongSupplier nanoTime;
    private final BooleanSupplier c2Busy;
    private final int minRounds, maxRounds, blindRounds;
    private final long quietMs, maxMs, windowMs;
    private final boolean untilC2Idle;

    private JitQuiet(LongSupplier compileMillis, LongSupplier nanoTime, BooleanSupplier c2Busy, int minRounds,
                     int maxRounds, long maxMs, long quietMs, long windowMs, int blindRounds, boolean untilC2Idle) {
        this.compileMillis = compileMillis;
        this.nanoTime = nanoTime;
        this.c2Busy = c2Busy;
        this.minRounds = minRounds;
        this.maxRounds = maxRounds;
        this.maxMs = maxMs;
        this.quietMs = quietMs;
        this.windowMs = windowMs;
        this.blindRounds = blindRounds;
        this.untilC2Idle = untilC2Idle;
    }

    /** Watches this JVM's compilers (total compile time, and C2's queue for Jemma's methods). */
    public static JitQuiet ofThisJvm() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean timed = jit != null && jit.isCompilationTimeMonitoringSupported();
        return watching(timed ? jit::getTotalCompilationTime : null, System::nanoTime, () -> JitQueue.c2Busy("dev.jemma."));
    }

    /**
     * Watches the given clocks (for tests): {@code compileMillis} the compilers' total time in ms (null: not measured),
     * {@code nanoTime} wall time, {@code c2Busy} whether C2 has one of Jemma's methods queued or in hand.
     */
    static JitQuiet watching(LongSupplier compileMillis, LongSupplier nanoTime, BooleanSupplier c2Busy) {
        return new JitQuiet(compileMillis, nanoTime, c2Busy, 1, 8, 0, 0, 0, 1, false);
    }

    /** Judges no window before {@code rounds} rounds have run. */
    public JitQuiet atLeast(int rounds) {
        return new JitQuiet(compileMillis, nanoTime, c2Busy, rounds, maxRounds, maxMs, quietMs, windowMs, blindRounds, untilC2Idle);
    }

    /** Gives up once {@code rounds} rounds have run and {@code millis} ms have passed (both). */
    public JitQuiet atMost(int rounds, long millis) {
        return new JitQuiet(compileMillis, nanoTime, c2Busy, minRounds, rounds, millis, quietMs, windowMs, blindRounds, untilC2Idle);
    }

    /** Also quiet: a window in which the compilers spent under {@code millis} ms, whatever its length. */
    public JitQuiet quietUnder(long millis) {
        return new JitQuiet(compileMillis, nanoTime, c2Busy, minRounds, maxRounds, maxMs, millis, windowMs, blindRounds, untilC2Idle);
    }

    /** Judges windows of consecutive rounds lasting at least {@code millis} ms (one round when a round is longer). */
    public JitQuiet window(long millis) {
        return new JitQuiet(compileMillis, nanoTime, c2Busy, minRounds, maxRounds, maxMs, quietMs, millis, blindRounds, untilC2Idle);
    }

    /** Runs {@code rounds} rounds where the JVM does not measure compile time. */
    public JitQuiet blind(int rounds) {
        return new JitQuiet(compileMillis, nanoTime, c2Busy, minRounds, maxRounds, maxMs, quietMs, windowMs, rounds, untilC2Idle);
    }

    /** A quiet window also needs C2 to hold none of Jemma's methods (queued or compiling). */
    public JitQuiet untilC2Idle() {
        return new JitQuiet(compileMillis, nanoTime, c2Busy, minRounds, maxRounds, maxMs, quietMs, windowMs, blindRounds, true);
    }

    /** Runs {@code round} (given its number, from 1) until the JIT is quiet; returns the rounds run. */
    public int run(IntConsumer round) {
        int rounds = 0;
        if (compileMillis == null) {
            while (rounds < blindRounds) round.accept(++rounds);
            return rounds;
        }
        final long start = nanoTime.getAsLong();
        // each window starts where the last ended: the checks between them are part of the next window's time
        long c0 = compileMillis.getAsLong(), t0 = start;
        while (true) {
            long now;
            do {
                round.accept(++rounds);
                now = nanoTime.getAsLong();
            } while (now - t0 < windowMs * 1_000_000L);
            long c1 = compileMillis.getAsLong(), compiled = c1 - c0;
            boolean quiet = compiled < quietMs || compiled * 1_000_000L * 100 < QUIET_PERCENT * (now - t0);
            if (rounds >= minRounds && quiet && !(untilC2Idle && c2Busy.getAsBoolean())) return rounds;
            if (rounds >= maxRounds && now - start >= maxMs * 1_000_000L) return rounds;
            c0 = c1;
            t0 = now;
        }
    }
}
