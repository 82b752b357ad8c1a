package dev.jemma.core.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The sum of a float vector's lanes in one fixed order, whatever runs it: lane-wise adds of the vector and its
 * butterfly partners (lane i with lane i ^ L/2, then i ^ L/4, …, i ^ 1), then lane 0.
 *
 * <p>Why not {@code reduceLanes(ADD)}: the Vector API leaves its order open, and HotSpot uses that. The interpreter
 * and C1 run the Java fallback, which adds lanes 0, 1, 2, … in sequence; C2's intrinsic adds them as a tree of its
 * own. So a kernel's sums changed bits when C2 compiled it, and in the default mode one such ulp can flip an int8
 * activation's rounding and change a seeded generation's answer in a warm JVM (docs/PERFORMANCE.md, "Same bits cold
 * or warm"). Lane-wise add and rearrange are exact operations in every tier, so this tree gives the same bits
 * everywhere. It costs a few tenths of a nanosecond more than the intrinsic per sum (4 permutes and adds at 512
 * bits), paid once per dot product, not per element.
 *
 * <p>Callers hold one per species ({@link VectorOps#sum}, the kernels' own) as static finals, so C2 sees the
 * shuffles as constants; the vector passed must be of that species.
 */
public final class LaneSum {
    private LaneSum() {
    }

    /** The partner shuffle of step {@code k} (1, 2, …): lane i ↔ lane i ^ (L >> k); the identity past the last step. */
    public static VectorShuffle<Float> partner(VectorSpecies<Float> species, int k) {
        int h = species.length() >> k;
        return VectorShuffle.fromOp(species, i -> h == 0 ? i : i ^ h);
    }

    /**
     * Σ lanes of {@code v} (of {@code lanes} lanes, exact class {@code type}) with the partner shuffles of steps 1–4
     * of its species ({@link #partner}); vectors of more than 16 lanes sum their lanes as the same tree in scalar code.
     */
    public static float sum(FloatVector v, Class<FloatVector> type, int lanes, VectorShuffle<Float> p1,
                            VectorShuffle<Float> p2, VectorShuffle<Float> p3, VectorShuffle<Float> p4) {
        if (lanes > 16) return sum(v.toArray());
        FloatVector s = type.cast(v);
        if (lanes >= 2) s = type.cast(s.add(s.rearrange(p1)));
        if (lanes >= 4) s = type.cast(s.add(s.rearrange(p2)));
        if (lanes >= 8) s = type.cast(s.add(s.rearrange(p3)));
        if (lanes >= 16) s = type.cast(s.add(s.rearrange(p4)));
        return s.lane(0);
    }

    /** The same tree over an array of 2^k values (the reference the tests hold the vector form to). */
    public static float sum(float[] lanes) {
        float[] s = lanes.clone();
        for (int h = s.length / 2; h >= 1; h /= 2) {
            float[] t = new float[s.length];
            for (int i = 0; i < s.length; i++) t[i] = s[i] + s[i ^ h];
            s = t;
        }
        return s[0];
    }
}
