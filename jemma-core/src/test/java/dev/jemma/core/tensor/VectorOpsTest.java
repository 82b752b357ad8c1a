package dev.jemma.core.tensor;

import dev.jemma.core.testing.SameBits;
import org.junit.jupiter.api.Test;

import java.util.Random;

/**
 * The element-wise vector forms Gemma 3n's AltUp and residual steps use give the bits of the scalar loops they replaced
 * (each product and sum rounded on its own, in the loops' order), for every length from 1 to past two vectors at any
 * width (whole vectors and tails), and at offsets that are not a vector's multiple.
 */
class VectorOpsTest {
    private static final int MAX = 70, OFF = 3;

    @Test
    void elementOpsMatchTheScalarLoops() {
        Random rnd = new Random(29);
        for (int n = 1; n <= MAX; n++) {
            float[][] x = {values(rnd), values(rnd), values(rnd), values(rnd)};
            float[] w = values(rnd), y = values(rnd), z = values(rnd);

            float[] got = new float[OFF + MAX], want = new float[OFF + MAX];
            VectorOps.mix(x, w, 2, y, got, OFF, n);
            for (int e = OFF; e < OFF + n; e++) {
                float acc = 0;
                for (int j = 0; j < x.length; j++) acc += x[j][e] * w[2 + j];
                want[e] = acc + y[e];
            }
            SameBits.assertSameBits(got, want, "mix, n = " + n);

            float[][] outGot = new float[3][OFF + MAX], outWant = new float[3][OFF + MAX];
            float[][] p = {x[0], x[1], x[2]};
            VectorOps.spread(y, z, w, 1, p, outGot, OFF, n);
            for (int e = OFF; e < OFF + n; e++) {
                float d = y[e] - z[e];
                for (int k = 0; k < 3; k++) outWant[k][e] = d * w[1 + k] + p[k][e];
            }
            for (int k = 0; k < 3; k++) SameBits.assertSameBits(outGot[k], outWant[k], "spread " + k + ", n = " + n);

            float[] sGot = z.clone(), sWant = z.clone();
            VectorOps.sumDiv(x[0], x[1], sGot, OFF, n, 1.4142135f);
            for (int e = OFF; e < OFF + n; e++) sWant[e] = (x[0][e] + x[1][e] + sWant[e]) / 1.4142135f;
            SameBits.assertSameBits(sGot, sWant, "sumDiv, n = " + n);

            float[] mGot = z.clone(), mWant = z.clone();
            VectorOps.mulDiv(mGot, OFF, n, 0.7f, 3.3f);
            for (int e = OFF; e < OFF + n; e++) mWant[e] = mWant[e] * 0.7f / 3.3f;
            SameBits.assertSameBits(mGot, mWant, "mulDiv, n = " + n);

            float[] pGot = new float[OFF + MAX], pWant = new float[OFF + MAX];
            VectorOps.mul(x[3], OFF, w, 0, pGot, OFF, n);
            for (int e = 0; e < n; e++) pWant[OFF + e] = x[3][OFF + e] * w[e];
            SameBits.assertSameBits(pGot, pWant, "mul, n = " + n);
        }
    }

    /** Values whose products and sums round (not small integers), some of them negative. */
    private static float[] values(Random rnd) {
        float[] v = new float[OFF + MAX];
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * 3.1);
        return v;
    }
}
