package dev.jemma.core.testing;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;

/**
 * Runs a scenario until the JIT has stopped changing the code it runs: a round of it after which the methods of the
 * classes doing vector arithmetic have the compiled code (HotSpot's {@code Compiler.codelist}: method and tier of the
 * code in use) they had before it, with nothing of theirs queued or compiling.
 *
 * <p>What it is for now: reaching the warm state on purpose. Since det27 a forward gives the same bits in any JIT
 * state, so comparisons no longer wait for the JIT before comparing (BatchForwardTest and Gemma3nConformanceTest did:
 * a C2-compiled {@code reduceLanes(ADD)} summed its lanes as a tree, the interpreter and C1 in sequence, and one such
 * ulp could flip an int8 activation's rounding); the tests that check that promise ({@code ColdWarmLogitsTest},
 * {@code PerplexityReproducibilityTest}) use this to get a C2-compiled run to compare with a cold one. Warming up
 * "enough" is a guess: a cold JVM needs 8–11 rounds at every width before {@code DecoderBlocks.normIntoRows}, called a
 * few times a round, reaches C2 — and C2's queue runs late on a loaded 2-core machine. This asks the JVM instead.
 */
public final class JitSettled {
    /**
     * The classes whose own code does vector arithmetic (the kernels, attention, norms, activations, formats): their code
     * reaching its final tier is what a warm run means. Dispatch and bookkeeping around them (FastMatMul, thread pool, lambda proxies)
     * and the Vector API's internals, which C2 inlines into the kernels, keep compiling for many rounds without
     * changing a result.
     */
    private static final String[] WATCHED = {"dev.jemma.core.tensor.kernels.", "dev.jemma.core.tensor.attention.",
            "dev.jemma.core.tensor.VectorOps.", "dev.jemma.core.tensor.formats.", "dev.jemma.core.model.Ops.",
            "dev.jemma.core.model.DecoderBlocks.", "dev.jemma.core.mobilenet.Conv2d."};

    private JitSettled() {
    }

    /**
     * Runs {@code round} until one leaves the watched compiled code unchanged (at least twice, at most
     * {@code maxRounds} or {@code budget}); returns the rounds run, or -1 when it did not settle in them (the caller
     * goes on: its comparison may then see a JIT transition, as before this existed).
     */
    public static int warmUp(Runnable round, int maxRounds, Duration budget) {
        long deadline = System.nanoTime() + budget.toNanos();
        round.run();
        Set<String> before = settledCode(deadline);
        for (int i = 2; i <= maxRounds; i++) {
            round.run();
            Set<String> after = settledCode(deadline);
            if (after != null && after.equals(before)) return i;
            if (System.nanoTime() > deadline) break;
            before = after;
        }
        System.err.println("JitSettled: the JIT was still compiling kernels after " + maxRounds + " rounds or " + budget
                + "; comparing anyway");
        return -1;
    }

    /** The watched methods' compiled code once nothing of theirs is queued or compiling; null past the deadline. */
    private static Set<String> settledCode(long deadline) {
        try {
            while (busy(dcmd("compilerQueue"))) {
                if (System.nanoTime() > deadline) return null;
                Thread.sleep(10);
            }
            // "id tier state method [addresses]": a method and the tier of its code in use (state 0); code made not
            // entrant stays listed until flushed, and its replacement is what runs
            Set<String> code = new TreeSet<>();
            for (String line : dcmd("compilerCodelist").split("\n")) {
                String[] f = line.split(" ", 5);
                if (f.length < 4 || !f[2].equals("0") || !watched(f[3])) continue;
                code.add(f[3] + " @" + f[1]);
            }
            return code;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private static boolean busy(String queue) {
        for (String line : queue.split("\n")) if (watched(line)) return true;
        return false;
    }

    private static boolean watched(String line) {
        if (line.contains("$$Lambda") || line.contains(".FastMatMul")) return false;
        for (String w : WATCHED) if (line.contains(w)) return true;
        return false;
    }

    /**
     * Waits until the JIT's total compile time stops growing for half a second, or {@code deadline} ({@link System#nanoTime})
     * passes; returns at once where the JVM does not measure compile time.
     */
    public static void awaitNoCompileTime(long deadline) {
        java.lang.management.CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        if (jit == null || !jit.isCompilationTimeMonitoringSupported()) return;
        long before = -1, now = jit.getTotalCompilationTime();
        while (now != before && System.nanoTime() < deadline) {
            before = now;
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            now = jit.getTotalCompilationTime();
        }
    }

    /** The text HotSpot's diagnostic command {@code operation} (e.g. {@code compilerCodelist}) answers, without arguments. */
    public static String dcmd(String operation) {
        return dev.jemma.core.engine.JitQueue.dcmd(operation);
    }
}
