package dev.jemma.core.tensor.kernels;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link KernelCompilation#EXCLUDED} names every kernel that C1's profiled tier cannot compile at this JVM's width: a
 * child JVM at the same width, C1 only ({@code -XX:TieredStopAtLevel=3}) and with no method kept out of C1
 * ({@code -Djemma.kernelsInC1=true}), runs the C1 scan ({@code dev.jemma.core.model.C1Scan}: every kernel variant on
 * small shapes, compile thresholds scaled down so that a few calls compile each), and every Jemma method whose compile
 * there bailed out for size must match an entry. Why the list matters: a kernel C1 gives up on while it already runs C1's
 * tier-2 code stays there for good, boxing every vector (docs/PERFORMANCE.md, "Kernels stuck in C1's tier-2 code"). The
 * build runs this at the machine's width and in the {@code width-256} / {@code width-128} executions.
 */
class KernelC1ListTest {

    @Test
    void everyKernelC1CannotCompileIsKeptOutOfC1() throws IOException, InterruptedException {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        Assumptions.assumeTrue(ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class) != null,
                "HotSpot's C1 only");
        List<String> lines = scan();
        List<String> bailouts = lines.stream().filter(l -> l.startsWith("BAILOUT ")).toList();
        TreeSet<String> missing = new TreeSet<>();
        for (String b : bailouts) {
            String method = b.substring("BAILOUT ".length(), b.indexOf(' ', "BAILOUT ".length()));
            if (!excluded(method)) missing.add(method);
        }
        assertThat(lines).as("the scan ran to its end (its output)").anyMatch(l -> l.startsWith("COVERAGE "));
        // what the drive reached, for the report: vector methods never compiled are other widths' kernels, or missed
        lines.stream().filter(l -> l.startsWith("COVERAGE ") || l.startsWith("MISSED ") || l.startsWith("TIME ")).forEach(System.out::println);
        assertThat(missing).as("methods C1's profiled tier bailed out of at %d bits, not in KernelCompilation.EXCLUDED (%s)",
                VectorWidth.BITS, String.join("; ", bailouts)).isEmpty();
    }

    /** Whether {@code method} ({@code package.Class.name}) matches one of {@link KernelCompilation#EXCLUDED}'s patterns. */
    static boolean excluded(String method) {
        for (String pattern : KernelCompilation.EXCLUDED) {
            String p = pattern.replace('/', '.');
            boolean prefix = p.endsWith("*");
            if (prefix) p = p.substring(0, p.length() - 1);
            if (prefix ? method.startsWith(p) : method.equals(p)) return true;
        }
        return false;
    }

    /** The scan's output lines, from a child JVM with this one's options (its width) plus C1-only ones. */
    private static List<String> scan() throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            // no debugger or agent of this JVM's, and the options set below
            if (a.startsWith("-agentlib") || a.startsWith("-javaagent") || a.startsWith("-XX:TieredStopAtLevel")
                    || a.equals("-XX:-TieredCompilation") || a.equals("-Xint") || a.equals("-Xcomp")
                    || a.startsWith("-Djemma.kernelsInC1") || a.startsWith("-XX:CompileCommand")) continue;
            cmd.add(a);
        }
        cmd.add("-XX:TieredStopAtLevel=3");
        cmd.add("-Djemma.kernelsInC1=true");
        // Jemma's methods at tier 3 after 2 calls instead of 200 (or 600 loop trips instead of 60,000): what is under test
        // is whether C1 compiles each kernel, and its code runs every vector operation as a call, so the fewer calls the
        // better (the JDK's methods keep their thresholds: scaled too, C1 spends the run compiling them)
        cmd.add("-XX:CompileCommand=quiet");
        cmd.add("-XX:CompileCommand=CompileThresholdScaling,dev.jemma.*::*,0.01");
        cmd.add("-Djemma.vectorBits=" + VectorWidth.BITS);
        String fixtures = System.getProperty("jemma.fixtures");
        if (fixtures != null) cmd.add("-Djemma.fixtures=" + fixtures);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.jemma.core.model.C1Scan");
        Path log = Files.createTempFile("jemma-c1scan", ".log");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(600, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("the C1 scan took over 600 s: " + Files.readString(log, StandardCharsets.UTF_8));
            }
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            assertThat(p.exitValue()).as("the C1 scan's exit status (output: %s)", String.join("\n", lines)).isZero();
            return lines;
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
