package dev.jemma.core.testing;

import java.time.Duration;
import java.util.List;

/**
 * The JIT compiles of Jemma methods that a compiler gave up on for size while this is open (JFR's {@code jdk.Compilation}
 * and {@code jdk.CompilationFailure}, joined on the compile id): C1's "out of virtual registers …" and C2's "out of nodes …".
 * Why a test cares (docs/PERFORMANCE.md, "Boxed once in a whole-model step"): a kernel too big for C1's profiled tier
 * fails that compile in every JVM, but only some JVMs then reach C2 — in the others (when the failed compile was the
 * on-stack-replacement one) it stays at C1's counting tier for good and boxes every vector operation. Counting the boxed
 * bytes catches those JVMs only; the bailout shows in every one.
 */
public final class JitSizeBailouts implements AutoCloseable {
    /** The compiles themselves, recorded from JFR (as the C1 scan reads them). */
    private final JitCompiles compiles = new JitCompiles();

    /**
     * Every size bailout of a Jemma method so far, one line each ("method at tier N: message"), once the JIT has gone
     * quiet (no Jemma method queued and no compile time added for half a second, at most 30 s) and JFR has delivered its
     * events.
     */
    public List<String> stop() {
        return compiles.stop(Duration.ofSeconds(30)).stream()
                .filter(c -> c.failure() != null && c.failure().startsWith("out of"))
                .map(c -> c.method() + " at tier " + c.level() + (c.osr() ? " (on-stack replacement)" : "") + ": " + c.failure())
                .toList();
    }

    @Override
    public void close() {
        compiles.close();
    }
}
