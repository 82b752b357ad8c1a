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
}
