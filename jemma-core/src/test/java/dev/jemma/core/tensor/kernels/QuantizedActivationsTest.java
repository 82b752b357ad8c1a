package dev.jemma.core.tensor.kernels;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class QuantizedActivationsTest {

    /** The vectorized quantizer gives the scalar definition's integers, scales and start values bit for bit. */
    @Test
    void vectorizedEqualsScalarDefinition() {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs 512-bit vectors");
        int tokens = 7, cols = 256;
        Random rnd = new Random(3);
        float[] x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * (i % 5 == 0 ? 30 : 1);
        // ties: a block whose max is 127 exactly has id = 1, so k + 0.5 must round half to even as Math.rint does
        for (int i = 0; i < 32; i++) x[cols + i] = i == 0 ? 127f : (i % 2 == 0 ? 1 : -1) * (i + 0.5f);
        for (int i = 0; i < 32; i++) x[2 * cols + 32 + i] = 0f; // an all-zero block
        x[3 * cols + 64] = -1e-30f; // a block at the bottom of the range
        QuantizedActivations v = new QuantizedActivations(), s = new QuantizedActivations();
        v.reserve(tokens, cols);
        s.reserve(tokens, cols);
        v.quantize(x, 0, tokens);
        s.quantizeScalar(x, 0, tokens);
        assertThat(v.q).containsExactly(s.q);
        assertThat(v.d).containsExactly(s.d);
        assertThat(v.q4Bias).containsExactly(s.q4Bias);
        assertThat(v.q5BiasLo).containsExactly(s.q5BiasLo);
        assertThat(v.q5BiasHi).containsExactly(s.q5BiasHi);
        assertThat(v.q6Bias).containsExactly(s.q6Bias);
        assertThat(v.q[cols + 1]).isEqualTo((short) -2); // -1.5 -> -2 (half to even)
        assertThat(v.q[cols + 2]).isEqualTo((short) 2); // 2.5 -> 2
        assertThat(v.q[cols + 3]).isEqualTo((short) -4); // -3.5 -> -4
        assertThat(v.q[cols + 4]).isEqualTo((short) 4); // 4.5 -> 4
    }
}
