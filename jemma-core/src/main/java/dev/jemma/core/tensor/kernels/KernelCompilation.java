package dev.jemma.core.tensor.kernels;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Keeps the kernels C1 cannot compile out of C1: a compiler directive, added once when the kernels load, excludes them
 * from the client compiler, so they run interpreted (profiling) until C2 compiles them — what HotSpot itself does for a
 * method C1 refuses, provided C1 refuses it before it ever ran C1 code.
 *
 * <p>Why: C1 inlines the Vector API's {@code @ForceInline} methods without intrinsifying them, and for the larger
 * kernels ({@link #EXCLUDED}, at 256 and 128 bits) its profiled (tier 3) compile bails out with "out of virtual registers
 * in LIR generator", which marks the method not compilable by C1. When that happens to a method already running C1's
 * limited-profile (tier 2) code — chosen whenever C2's queue is long, as during a model's first steps on two cores —
 * the method never leaves it: the policy keeps asking for the tier-3 compile that can no longer happen, and tier-2 code
 * gathers no profile for C2 (PrintTieredEvents: level 2, compilable "c2,c2-osr", for the rest of the run). Such a kernel
 * boxes every vector from then on: a 256 × 1152 F16 GEMV allocated 29 MB per call after a conformance run
 * (KernelAllocationTest with Gemma3ConformanceTest in one JVM at 256 bits, 3 of 3 runs; the Q5_0 decode kernel too, once).
 * Excluding every kernel instead was tried and is worse: C2 code compiled from the interpreter's profile kept allocating
 * in the decode kernels (16 KB a call, all six types at 256 bits).
 *
 * <p>The directive goes through the {@code DiagnosticCommand} MBean ({@code Compiler.directives_add}), which needs no
 * command-line flag; where it is missing (another JVM, a runtime image without jdk.management) nothing changes.
 * {@code -Djemma.kernelsInC1=true} leaves C1 alone (to compare).
 */
final class KernelCompilation {
    /**
     * The kernels C1 cannot compile at its profiled tier at some width, as HotSpot's method patterns: class, then method (a
     * trailing {@code *} matches a prefix). Found by the C1 scan ({@code C1Scan} in the test sources: every kernel variant
     * on small shapes under {@code -XX:TieredStopAtLevel=3 -Djemma.kernelsInC1=true}, each size bailout named;
     * docs/PERFORMANCE.md, "Kernels stuck in C1's tier-2 code"), 2026-12-07:
     * <ul>
     *   <li>512 bits: none;</li>
     *   <li>256 bits: gemvF16Scaled, gemvF16 (its on-stack-replacement compile), q5Pairs, q8Pairs (on-stack replacement),
     *       q5kPairs; since 2026-12-08 q6kPairs (tier 3 and its on-stack replacement: its f32 step reads half-width
     *       vectors, docs/PERFORMANCE.md "Gemma 3n E2B generation at 256 bits");</li>
     *   <li>128 bits: gemvF16Scaled and gemvF16 (on-stack replacement), q5Pairs, q8Pairs (on-stack replacement) —
     *       q5kPairs does not run there (one slice per pass).</li>
     * </ul>
     * One list for every width: the two-slice kernels run only below 512 bits, and at 512 bits the two F16 GEMVs named here
     * only hand over to their 512-bit forms ({@code gemvF16x512}, {@code gemvF16Scaledx512}), which C1 compiles and which
     * are therefore not named (the earlier {@code gemvF16*} kept them out of C1 as well). {@code KernelC1ListTest} runs the scan
     * at the build's widths and fails naming any method that bails out and is not here.
     */
    static final java.util.List<String> EXCLUDED = java.util.List.of(
            "dev/jemma/core/tensor/kernels/InterleavedGemm.gemvF16",
            "dev/jemma/core/tensor/kernels/InterleavedGemm.gemvF16Scaled",
            "dev/jemma/core/tensor/kernels/Int8Kernels.q5Pairs",
            "dev/jemma/core/tensor/kernels/Int8Kernels.q8Pairs",
            "dev/jemma/core/tensor/kernels/KQuantKernels.q5kPairs",
            "dev/jemma/core/tensor/kernels/KQuantKernels.q6kPairs");

    static final String DIRECTIVE = "[{match: [" + String.join(", ", EXCLUDED.stream().map(m -> '"' + m + '"').toList())
            + "], c1: {Exclude: true}}]";

    /** Whether the directive was added in this JVM. */
    static final boolean INSTALLED = install();

    private KernelCompilation() {
    }

    /** Forces the class's initialization (the directive is added once per JVM). */
    static boolean ensureInstalled() {
        return INSTALLED;
    }

    private static boolean install() {
        if (Boolean.getBoolean("jemma.kernelsInC1")) return false;
        Path file = null;
        try {
            file = Files.createTempFile("jemma-kernels", ".json");
            Files.writeString(file, DIRECTIVE);
            Object answer = ManagementFactory.getPlatformMBeanServer().invoke(
                    new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand"), "compilerDirectivesAdd",
                    new Object[]{new String[]{file.toString()}}, new String[]{String[].class.getName()});
            return String.valueOf(answer).contains("1 compiler directives added");
        } catch (Exception | LinkageError e) {
            return false; // not HotSpot, or no management: the kernels compile as the JVM chooses
        } finally {
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (java.io.IOException ignored) {
                    // a temporary file the OS cleans up
                }
            }
        }
    }
}
