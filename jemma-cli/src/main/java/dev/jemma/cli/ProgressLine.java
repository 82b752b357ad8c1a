package dev.jemma.cli;

import java.io.PrintStream;

/**
 * A one-line progress bar on stderr for long local jobs (quantize, convert, perplexity): redrawn in place on a
 * terminal, a plain line every few seconds (and at the end) otherwise, so logs stay readable.
 */
final class ProgressLine {
    private final PrintStream out;
    private final String label;
    private final boolean tty;
    private final long start = System.nanoTime();
    private long lastPlain;
    private boolean drawn;

    /** Ctrl-C mid-job ends the JVM: end the drawn line first, or the shell's prompt follows the bar on its line. */
    private final Thread endLineOnExit = new Thread(this::finish, "jemma-progress-line");
    private boolean hooked;

    ProgressLine(PrintStream out, String label) {
        this(out, label, System.console() != null && System.console().isTerminal());
    }

    ProgressLine(PrintStream out, String label, boolean tty) {
        this.out = out;
        this.label = label;
        this.tty = tty;
    }

    /** Shows {@code done} of {@code total} with a short note (e.g. the current tensor or the running estimate). */
    synchronized void update(long done, long total, String note) {
        double frac = total > 0 ? Math.min(1, (double) done / total) : 0;
        int width = 24, full = (int) Math.round(frac * width);
        double secs = (System.nanoTime() - start) / 1e9;
        String eta = frac > 0.01 && frac < 1 ? String.format(" ETA %ds", Math.round(secs / frac * (1 - frac))) : "";
        String text = String.format("%s %3d%% [%s%s] %.1fs%s %s", label, (int) (frac * 100), "#".repeat(full),
                " ".repeat(width - full), secs, eta, note == null ? "" : note);
        if (tty) {
            if (!hooked) {
                Runtime.getRuntime().addShutdownHook(endLineOnExit);
                hooked = true;
            }
            out.print("\r" + text + "\u001b[K");
            out.flush();
            drawn = true;
        } else {
            long now = System.nanoTime();
            if (now - lastPlain > 5_000_000_000L || done >= total) {
                out.println(text);
                lastPlain = now;
            }
        }
    }

    synchronized void finish() {
        if (drawn) out.println();
        out.flush();
        drawn = false;
        if (hooked) {
            hooked = false;
            try {
                Runtime.getRuntime().removeShutdownHook(endLineOnExit);
            } catch (IllegalStateException exiting) {
                // called from the hook itself, as the JVM exits
            }
        }
    }
}
