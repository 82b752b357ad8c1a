package dev.jemma.core.model;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Random;

/**
 * CPU nanoseconds per value of the two GELU gates, {@link Ops#geluGateVector} (the JDK's vector tanh, {@code --exact})
 * and {@link Ops#geluGateFast} (the default mode's rational tanh), alternated round by round in one JVM on a 1B FFN's
 * 64 tokens × 6912 values. Not a test; by hand (docs/PERFORMANCE.md, "Q4_0 prompts and short batches"):
 * <pre>
 *   java --add-modules jdk.incubator.vector [-XX:UseAVX=2] -cp jemma-core/target/classes:jemma-core/target/test-classes \
 *        dev.jemma.core.model.GeluSpeed [rounds]
 * </pre>
 */
public final class GeluSpeed {
    private static final boolean ONLY_FAST = Boolean.getBoolean("onlyFast");

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 6, n = 6912 * 64;
        float[] g0 = new float[n], u = new float[n], g = new float[n];
        Random rnd = new Random(1);
        for (int i = 0; i < n; i++) {
            g0[i] = (float) rnd.nextGaussian() * 3;
            u[i] = (float) rnd.nextGaussian();
        }
        ThreadMXBean cpu = ManagementFactory.getThreadMXBean();
        float sink = 0;
        for (int round = 0; round < rounds; round++) {
            for (int v = ONLY_FAST ? 1 : 0; v < 2; v++) {
                long copy = 0, t0 = cpu.getCurrentThreadCpuTime();
                for (int k = 0; k < 40; k++) {
                    long c = cpu.getCurrentThreadCpuTime();
                    System.arraycopy(g0, 0, g, 0, n);
                    copy += cpu.getCurrentThreadCpuTime() - c;
                    if (v == 0) Ops.geluGateVector(g, u, 0, n);
                    else Ops.geluGateFast(g, u, 0, n);
                    sink += g[k];
                }
                System.out.printf("%s %.2f ns/value  ", v == 0 ? "jdk-tanh" : "rational", (cpu.getCurrentThreadCpuTime() - t0 - copy) / 40.0 / n);
            }
            System.out.println();
        }
        if (sink == 42) System.out.println();
    }
}
