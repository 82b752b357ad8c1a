package dev.jemma.core.tensor;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link StableMath} and {@link LaneSum}: the vector forms give their scalar twins' bits (the twins are plain Java
 * arithmetic, the same in every JIT tier), before and after a warm-up that lets C2 compile them, and the functions are
 * within their documented ulps of the double-precision ones.
 */
class StableMathTest {
    private static final int L = VectorOps.F.length();

    /** Arguments: N(0, 3²), U(−10, 10), softmax's range [−100, 0], and the edges. */
    private static float[] arguments() {
        Random rnd = new Random(11);
        float[] special = {0f, -0f, 1e-30f, -1e-30f, 0.625f, -0.625f, Math.nextDown(0.625f), -87.33654f, -87.34f, -88f,
                -104f, 88.37626f, 89f, 20f, -20f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, 1e-3f, -1e-3f};
        float[] x = new float[L * ((30_000 + special.length) / L + 1)];
        System.arraycopy(special, 0, x, 0, special.length);
        for (int i = special.length; i < x.length; i++) {
            x[i] = switch (i % 3) {
                case 0 -> (float) rnd.nextGaussian() * 3;
                case 1 -> rnd.nextFloat() * 20 - 10;
                default -> -rnd.nextFloat() * 100;
            };
        }
        return x;
    }

    /** softmax's {@link StableMath#expShiftedSum}: the scalar twin's bits in every slot, the vector sum's in the result. */
    private static int shiftedMismatches(float[] x) {
        float[] s = x.clone();
        float max = 3f;
        float sum = StableMath.expShiftedSum(s, 0, s.length, max);
        int bad = 0;
        float[] v = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            v[i] = StableMath.exp(x[i] - max);
            if (Float.floatToIntBits(s[i]) != Float.floatToIntBits(v[i])) bad++;
        }
        // the lane-wise running sum in scalar code (a FloatVector passed as a Vector makes the verifier load the vector
        // types, and surefire links this class in Maven's own JVM, without jdk.incubator.vector, to list the width legs' tests)
        float[] acc = new float[L];
        for (int i = 0; i < x.length; i += L) for (int j = 0; j < L; j++) acc[j] = v[i + j] + acc[j];
        if (Float.floatToIntBits(sum) != Float.floatToIntBits(LaneSum.sum(acc))) bad++;
        return bad;
    }

    /** The GELU loop's vector tanh: {@code OpsTest.vectorGelusGiveTheScalarBitsColdAndWarm}. */
    @Test
    void vectorExpGivesItsScalarTwinsBitsColdAndWarm() {
        float[] x = arguments();
        assertThat(shiftedMismatches(x)).as("softmax exp, first calls").isZero();
        for (int r = 0; r < 200; r++) shiftedMismatches(x);
        assertThat(shiftedMismatches(x)).as("softmax exp, after 200 rounds").isZero();
    }

    private static double ulps(float a, double ref) {
        return Math.abs(a - ref) / Math.ulp((float) ref);
    }

    @Test
    void expAndTanhAreWithinTheirUlpBounds() {
        double worstExp = 0, worstTanh = 0;
        for (float x : arguments()) {
            if (Float.isNaN(x) || Float.isInfinite(x)) continue;
            if (x >= -87f && x <= 88f) worstExp = Math.max(worstExp, ulps(StableMath.exp(x), Math.exp(x)));
            worstTanh = Math.max(worstTanh, ulps(StableMath.tanh(x), Math.tanh(x)));
        }
        assertThat(worstExp).as("exp's worst error in ulps").isLessThanOrEqualTo(1.05);
        assertThat(worstTanh).as("tanh's worst error in ulps").isLessThanOrEqualTo(1.35);
        assertThat(StableMath.exp(0f)).isEqualTo(1f);
        assertThat(StableMath.exp(Float.NEGATIVE_INFINITY)).isEqualTo(0f);
        assertThat(StableMath.exp(-100f)).isEqualTo(0f);
        assertThat(StableMath.exp(Float.NaN)).isNaN();
        assertThat(StableMath.tanh(0f)).isEqualTo(0f);
        assertThat(StableMath.tanh(20f)).isEqualTo(1f);
        assertThat(StableMath.tanh(-20f)).isEqualTo(-1f);
        assertThat(StableMath.tanh(Float.POSITIVE_INFINITY)).isEqualTo(1f);
        assertThat(StableMath.tanh(Float.NaN)).isNaN();
    }

    @Test
    void laneSumIsTheButterflyTreeColdAndWarm() {
        Random rnd = new Random(5);
        float[] x = new float[L * 4096];
        // mixed magnitudes, so that any other order of additions rounds differently somewhere
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(7) - 3));
        assertThat(sumMismatches(x)).as("first calls").isZero();
        for (int r = 0; r < 200; r++) sumMismatches(x);
        assertThat(sumMismatches(x)).as("after 200 rounds").isZero();
    }

    private static int sumMismatches(float[] x) {
        int bad = 0;
        float[] lanes = new float[L];
        for (int i = 0; i < x.length; i += L) {
            System.arraycopy(x, i, lanes, 0, L);
            if (Float.floatToIntBits(VectorOps.sum(FloatVector.fromArray(VectorOps.F, x, i))) != Float.floatToIntBits(LaneSum.sum(lanes))) bad++;
        }
        return bad;
    }
}
