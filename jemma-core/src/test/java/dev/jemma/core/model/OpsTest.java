package dev.jemma.core.model;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The default mode's GELU gate ({@link Ops#geluGateFast}) against a double-precision GELU and against itself. */
class OpsTest {
    private static double gelu(double x) {
        return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    }

    @Test
    void fastGeluGateIsWithinTwoMillionthsOfTheDoubleFormula() {
        int n = 1 << 16;
        Random rnd = new Random(3);
        float[] g = new float[n], u = new float[n];
        for (int i = 0; i < n; i++) {
            // typical pre-activations, the far tails, and exact zeros
            g[i] = i % 97 == 0 ? 0f : (float) rnd.nextGaussian() * (i % 5 == 0 ? 12 : 3);
            u[i] = (float) rnd.nextGaussian();
        }
        float[] fast = g.clone(), jdk = g.clone();
        Ops.geluGateFast(fast, u, 0, n);
        Ops.geluGateVector(jdk, u, 0, n);
        double worst = 0, worstJdk = 0;
        for (int i = 0; i < n; i++) {
            double ref = gelu(g[i]) * u[i];
            double tol = 2e-6 * Math.max(1, Math.abs(u[i]) * Math.max(1, Math.abs(g[i])));
            worst = Math.max(worst, Math.abs(fast[i] - ref) / tol);
            worstJdk = Math.max(worstJdk, Math.abs(jdk[i] - ref) / tol);
        }
        assertThat(worst).as("fast GELU error in units of its bound").isLessThanOrEqualTo(1.0);
        // and not vacuous: the two differ somewhere, both close to the formula
        assertThat(fast).isNotEqualTo(jdk);
        assertThat(worstJdk).isLessThanOrEqualTo(1.0);
    }

    @Test
    void fastGeluGateGivesTheSameBitsWhereverARunIsSplit() {
        int n = 1000; // not a multiple of any vector length: the scalar tail runs
        Random rnd = new Random(4);
        float[] g = new float[n], u = new float[n];
        for (int i = 0; i < n; i++) {
            g[i] = (float) rnd.nextGaussian() * 4;
            u[i] = (float) rnd.nextGaussian();
        }
        float[] whole = g.clone(), pieces = g.clone();
        Ops.geluGateFast(whole, u, 0, n);
        for (int off = 0, len = 1; off < n; off += len, len = len % 13 + 1)
            Ops.geluGateFast(pieces, u, off, Math.min(len, n - off));
        assertThat(pieces).containsExactly(whole);
    }

    /**
     * The vectorized GELUs ({@code --exact}'s gate, Gemma 3n's per-layer-input gate, the vision towers' GELU) give the
     * scalar {@link Ops#gelu}'s bits in every lane and in the tail, before and after C2 compiles them: with the Vector
     * API's {@code lanewise(TANH)} (the JDK's vector math library once compiled, {@code Math.tanh} before) they did not.
     */
    @Test
    void vectorGelusGiveTheScalarBitsColdAndWarm() {
        int n = 4099; // not a multiple of any vector length: a tail
        Random rnd = new Random(7);
        float[] g = new float[n], u = new float[n];
        for (int i = 0; i < n; i++) {
            g[i] = (float) rnd.nextGaussian() * 3;
            u[i] = (float) rnd.nextGaussian();
        }
        assertThat(geluMismatches(g, u)).as("first calls").isZero();
        for (int r = 0; r < 300; r++) geluMismatches(g, u);
        assertThat(geluMismatches(g, u)).as("after 300 rounds").isZero();
    }

    private static int geluMismatches(float[] g, float[] u) {
        int n = g.length, bad = 0;
        float[] a = g.clone(), b = new float[n + 3], c = g.clone();
        Ops.geluGateVector(a, u, 0, n);
        System.arraycopy(g, 0, b, 3, n);
        Ops.geluGateVector(b, 3, u, 0, n);
        Ops.geluVector(c, 0, n);
        for (int i = 0; i < n; i++) {
            int gate = Float.floatToIntBits(Ops.gelu(g[i]) * u[i]);
            if (Float.floatToIntBits(a[i]) != gate) bad++;
            if (Float.floatToIntBits(b[3 + i]) != gate) bad++;
            if (Float.floatToIntBits(c[i]) != Float.floatToIntBits(Ops.gelu(g[i]))) bad++;
        }
        return bad;
    }

    /**
     * Gemma 3n's per-layer gate (256 values a row, a few vectors per call) and the vision towers' GELU allocate nothing once
     * compiled: a vector passed to a call C2 did not inline is boxed, and C2 does not inline a callee whose compiled body
     * is big, which is why the loop carries tanh's operations ({@code StableMath.geluTanh}). Mutation: the loop's last
     * step moved into a helper taking two vectors that C2 does not inline (40 more branches): 314,880 bytes per 30 rows.
     */
    @Test
    void gelusAllocateNothingOnceCompiled() {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        org.junit.jupiter.api.Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        final int n = 256;
        Random rnd = new Random(5);
        float[] g = new float[n], u = new float[n], work = new float[n];
        for (int i = 0; i < n; i++) {
            g[i] = (float) rnd.nextGaussian() * 2;
            u[i] = (float) rnd.nextGaussian();
        }
        Runnable call = () -> {
            for (int r = 0; r < 30; r++) {
                System.arraycopy(g, 0, work, 0, n);
                Ops.geluGateVector(work, 0, u, 0, n);
                Ops.geluVector(work, 0, n);
            }
        };
        long id = Thread.currentThread().threadId(), least = Long.MAX_VALUE;
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (least > 0 && System.nanoTime() < deadline) {
            for (int i = 0; i < 200; i++) call.run();
            long before = threads.getThreadAllocatedBytes(id);
            call.run();
            least = Math.min(least, threads.getThreadAllocatedBytes(id) - before);
        }
        assertThat(least).as("bytes allocated by 30 compiled rows of the gate and the GELU").isZero();
    }
}
