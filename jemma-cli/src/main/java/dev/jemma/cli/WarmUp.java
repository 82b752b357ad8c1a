package dev.jemma.cli;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.util.function.LongSupplier;

/**
 * Untimed runs before a benchmark's timed ones, repeated until the JIT has settled: a run during which the compilers
 * spent under {@value #QUIET_PERCENT} % of its wall time (or under {@value #QUIET_MS} ms) ends the warm-up, at most
 * {@value #MAX_RUNS} runs. One run is not enough here: code that runs once per forward (the last token's logits
 * after a prompt batch) becomes hot only after a few runs, and its C2 compilation then took one of the machine's two
 * cores during timed runs (measured: 1B Q4_0 pp512 of one process 136–164 t/s, llama.cpp 169–177 in between).
 */
final class WarmUp {
    static final int MAX_RUNS = 8;
    static final long QUIET_MS = 20;
    static final int QUIET_PERCENT = 1;

    private final LongSupplier compileMillis;
    private final LongSupplier nanoTime;

    WarmUp(LongSupplier compileMillis, LongSupplier nanoTime) {
        this.compileMillis = compileMillis;
        this.nanoTime = nanoTime;
    }

    /** Watches this JVM's compilers; without compilation-time monitoring, one warm-up run as before. */
    static WarmUp ofThisJvm() {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        if (jit == null || !jit.isCompilationTimeMonitoringSupported()) return new WarmUp(null, System::nanoTime);
        return new WarmUp(jit::getTotalCompilationTime, System::nanoTime);
    }

    /** Runs {@code body} until the JIT is quiet; returns how many times it ran. */
    int run(Runnable body) {
        return run(body, 0, 0);
    }

    /**
     * As {@link #run(Runnable)}, judging the JIT over windows of consecutive runs of at least {@code windowMs} of wall
     * time (one run when a run is longer), and giving up only once both {@value #MAX_RUNS} runs and {@code maxMs} have
     * passed. A short body needs both: a 64-token embedding call (~50 ms) calls its per-layer and per-loop methods only
     * tens of times per run, so C2 was still compiling them when the {@value #MAX_RUNS} runs had passed, and in the
     * timed runs that followed (74, 73, 71 ms, then 43–48 ms from the fourth on: docs/PERFORMANCE.md, "One text of 64
     * tokens on two threads"); and {@value #QUIET_MS} ms of compilation is 40 % of such a run, so one run is no
     * measure of quiet.
     */
    int run(Runnable body, long windowMs, long maxMs) {
        int runs = 0;
        final long start = nanoTime.getAsLong();
        while (true) {
            long c0 = compileMillis == null ? 0 : compileMillis.getAsLong();
            long t0 = nanoTime.getAsLong(), wallMs;
            do {
                body.run();
                runs++;
                wallMs = (nanoTime.getAsLong() - t0) / 1_000_000;
            } while (compileMillis != null && wallMs < windowMs);
            if (compileMillis == null) return runs;
            long compiled = compileMillis.getAsLong() - c0;
            if (compiled < QUIET_MS || compiled * 100 < QUIET_PERCENT * wallMs) return runs;
            if (runs >= MAX_RUNS && (nanoTime.getAsLong() - start) / 1_000_000 >= maxMs) return runs;
        }
    }
}
