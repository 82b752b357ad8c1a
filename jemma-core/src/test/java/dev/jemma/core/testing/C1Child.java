package dev.jemma.core.testing;

import dev.jemma.core.tensor.kernels.VectorWidth;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a main class in a child JVM that never leaves C1 ({@code -XX:TieredStopAtLevel=1}: no Vector API intrinsics, so
 * every vector operation takes its Java fallback), at this JVM's vector width, with this JVM's other flags and
 * {@code jemma.*} properties: the "cold" side of the tests that hold results to the same bits in any JIT state
 * ({@code ColdWarmLogitsTest}, {@code PerplexityReproducibilityTest}).
 */
public final class C1Child {
    private static final long TIMEOUT_S = 300;

    private C1Child() {}

    /** Runs {@code main} with {@code args}; returns its output (stdout and stderr), failing unless it exits 0 in time. */
    public static String run(Class<?> main, List<String> args) throws IOException, InterruptedException {
        Path log = Files.createTempFile("jemma-c1", ".log");
        try {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
                if (a.startsWith("-agentlib") || a.startsWith("-javaagent") || a.startsWith("-XX:TieredStopAtLevel")
                        || a.equals("-XX:-TieredCompilation") || a.equals("-Xint") || a.equals("-Xcomp")) continue;
                cmd.add(a);
            }
            cmd.add("-XX:TieredStopAtLevel=1");
            cmd.add("-Djemma.vectorBits=" + VectorWidth.BITS);
            // surefire hands its system properties to this JVM, not to the command line
            for (String k : System.getProperties().stringPropertyNames()) {
                if (k.startsWith("jemma.") && !k.equals("jemma.vectorBits")) cmd.add("-D" + k + "=" + System.getProperty(k));
            }
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(main.getName());
            cmd.addAll(args);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("the C1-only child took over " + TIMEOUT_S + " s: " + Files.readString(log, StandardCharsets.UTF_8));
            }
            String out = Files.readString(log, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) throw new AssertionError("the C1-only child exited " + p.exitValue() + ": " + out);
            return out;
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
