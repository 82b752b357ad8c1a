package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.tensor.ThreadPool;

/** The {@code -t/--threads} flag's value as used: refused below {@code min}, capped at the cores with one warning line. */
final class Threads {
    private Threads() {
    }

    /** {@code requested} (0 = all cores where {@code min} is 0), at most one thread per core. */
    static int resolve(int requested, int min) {
        if (requested < min) throw new JemmaException("-t " + requested + ": threads must be at least " + Math.max(min, 1) + (min == 0 ? " (or 0 for all cores)" : ""));
        String warning = ThreadPool.capWarning("-t", requested);
        if (warning != null) System.err.println("jemma: warning: " + warning);
        return ThreadPool.capped(requested);
    }
}
