package dev.jemma.core.fuzz;

import dev.jemma.core.JemmaException;
import dev.jemma.core.Printable;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What every harness holds the code to: for any input, either success or a {@link JemmaException} whose message is one
 * printable line — never a NullPointerException, an index out of bounds, a NumberFormatException, an
 * OutOfMemoryError or a stack overflow (those propagate and Jazzer reports them as findings).
 */
final class Fuzzing {
    private Fuzzing() {
    }

    /** A step of the code under test. */
    @FunctionalInterface
    interface Step {
        void run() throws Exception;
    }

    /** Runs {@code step}; returns false when it refused the input cleanly, true when it succeeded. */
    static boolean clean(Step step) {
        try {
            step.run();
            return true;
        } catch (JemmaException e) {
            checkMessage(e.getMessage());
            return false;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new AssertionError("checked exception escaped: " + e, e);
        }
    }

    static void checkMessage(String m) {
        if (m == null || m.isBlank()) throw new AssertionError("a refusal without a message");
        if (!Printable.line(m).equals(m)) throw new AssertionError("a refusal whose message is not one printable line: " + Printable.line(m));
        if (m.length() > Printable.MAX_LINE + 64) throw new AssertionError("a refusal of " + m.length() + " characters");
    }

    /** A scratch directory for one harness class (files are rewritten for every input). */
    static Path scratch(String name) {
        try {
            Path shm = Path.of("/dev/shm");
            Path d = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "jemma-fuzz-" + name)
                    : Files.createTempDirectory("jemma-fuzz-" + name);
            d.toFile().deleteOnExit();
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void write(Path p, byte[] bytes) {
        try {
            Files.write(p, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
