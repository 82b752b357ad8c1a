package dev.jemma.core.tensor;

import dev.jemma.core.tensor.formats.Le;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** f32 vector primitives (Vector API with scalar tails). */
public final class VectorOps {
    public static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    @SuppressWarnings("unchecked")
    private static final Class<FloatVector> FV = (Class<FloatVector>) F.vectorType();
    private static final int LANES = F.length();
    private static final VectorShuffle<Float> P1 = LaneSum.partner(F, 1), P2 = LaneSum.partner(F, 2),
            P3 = LaneSum.partner(F, 3), P4 = LaneSum.partner(F, 4);

    private VectorOps() {
    }

    /**
     * Σ lanes of an {@link #F} vector in a fixed order ({@link LaneSum}): the same bits interpreted, in C1 and in C2,
     * which {@code reduceLanes(ADD)} does not give. Every float sum over lanes that feeds a result goes through this.
     */
    public static float sum(FloatVector v) {
        return LaneSum.sum(v, FV, LANES, P1, P2, P3, P4);
    }

    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int i = 0;
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int step = F.length();
        for (; i + 2 * step <= n; i += 2 * step) {
            acc0 = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc0);
            acc1 = FloatVector.fromArray(F, a, ao + i + step).fma(FloatVector.fromArray(F, b, bo + i + step), acc1);
        }
        for (; i + step <= n; i += step) {
            acc0 = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc0);
        }
        float s = sum(acc0.add(acc1));
        for (; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    public static float dotSegmentF32(MemorySegment seg, long off, float[] b, int bo, int n) {
        int i = 0;
        FloatVector acc = FloatVector.zero(F);
        int step = F.length();
        for (; i + step <= n; i += step) {
            acc = FloatVector.fromMemorySegment(F, seg, off + 4L * i, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.fromArray(F, b, bo + i), acc);
        }
        float s = sum(acc);
        for (; i < n; i++) s += seg.get(Le.F32, off + 4L * i) * b[bo + i];
        return s;
    }

    /** y[yo..] += a * x[xo..] */
    public static void axpy(float a, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        int step = F.length();
        FloatVector av = FloatVector.broadcast(F, a);
        for (; i + step <= n; i += step) {
            FloatVector.fromArray(F, x, xo + i).fma(av, FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] += a * x[xo + i];
    }

    public static void scale(float[] x, int xo, int n, float s) {
        int i = 0;
        int step = F.length();
        for (; i + step <= n; i += step) FloatVector.fromArray(F, x, xo + i).mul(s).intoArray(x, xo + i);
        for (; i < n; i++) x[xo + i] *= s;
    }

    public static float sumOfSquares(float[] x, int xo, int n) {
        int i = 0;
        int step = F.length();
        FloatVector acc = FloatVector.zero(F);
        for (; i + step <= n; i += step) {
            FloatVector v = FloatVector.fromArray(F, x, xo + i);
            acc = v.fma(v, acc);
        }
        float s = sum(acc);
        for (; i < n; i++) s += x[xo + i] * x[xo + i];
        return s;
    }

    /** x = x * rsqrt(mean(x²) + eps) * w, in place; w applied as stored (Gemma's +1 is folded into GGUF weights). */
    public static void rmsNorm(float[] x, int xo, int n, float[] w, float eps) {
        float ss = sumOfSquares(x, xo, n);
        float r = (float) (1.0 / Math.sqrt(ss / n + eps));
        int i = 0;
        int step = F.length();
        if (w == null) {
            scale(x, xo, n, r);
            return;
        }
        for (; i + step <= n; i += step) {
            FloatVector.fromArray(F, x, xo + i).mul(r).mul(FloatVector.fromArray(F, w, i)).intoArray(x, xo + i);
        }
        for (; i < n; i++) x[xo + i] = x[xo + i] * r * w[i];
    }

    /**
     * The largest of x[0..n) into {@code out[0]} and the smallest that is not −∞ into {@code out[1]} (+∞ when every one
     * is −∞): a sampler's logit range, masked tokens aside.
     */
    public static void range(float[] x, int n, float[] out) {
        int i = 0;
        int step = F.length();
        FloatVector hi = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY), lo = FloatVector.broadcast(F, Float.POSITIVE_INFINITY);
        for (; i + step <= n; i += step) {
            FloatVector v = FloatVector.fromArray(F, x, i);
            hi = hi.max(v);
            lo = lo.min(v.blend(Float.POSITIVE_INFINITY, v.eq(Float.NEGATIVE_INFINITY)));
        }
        float h = hi.reduceLanes(VectorOperators.MAX), l = lo.reduceLanes(VectorOperators.MIN);
        for (; i < n; i++) {
            h = Math.max(h, x[i]);
            if (x[i] != Float.NEGATIVE_INFINITY) l = Math.min(l, x[i]);
        }
        out[0] = h;
        out[1] = l;
    }

    /**
     * The index (from {@code off}) of the largest of x[off .. off + n), the lowest on ties: what the scalar scan
     * {@code best = 0; for i: if (x[off + i] > x[off + best]) best = i} returns, -0.0 and 0.0 counting as equal, NaN never
     * chosen unless it is the first value (a row holding a NaN takes that scan). Two vector passes, the maximum and then
     * its first position: a greedy stream's pick over Gemma 3's 262,144 logits, every token.
     */
    public static int argmax(float[] x, int off, int n) {
        if (n <= 0) throw new IllegalArgumentException("no values");
        // one pass over memory: the maximum of each block of ARGMAX_BLOCK values, the first block holding the largest
        // kept, then that block (still in L1) searched for its first occurrence — two whole passes over a 1 MB row ran
        // at the cache's bandwidth (SampleCost in docs/PERFORMANCE.md, "Serving: where a C = 4 step goes")
        int step = F.length();
        float max = Float.NEGATIVE_INFINITY;
        int at = 0;
        for (int b = 0; b < n; b += ARGMAX_BLOCK) {
            int e = Math.min(n, b + ARGMAX_BLOCK), i = b;
            FloatVector hi = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (; i + step <= e; i += step) hi = hi.max(FloatVector.fromArray(F, x, off + i));
            float m = hi.reduceLanes(VectorOperators.MAX);
            for (; i < e; i++) m = Math.max(m, x[off + i]);
            if (Float.isNaN(m)) return argmaxScalar(x, off, n);
            // strictly larger: on a tie the earlier block keeps the lead
            if (m > max || b == 0) {
                max = m;
                at = b;
            }
        }
        // no NaN anywhere, so the first value >= the maximum in its block is the first equal to it
        return firstAtLeast(x, off + at, off + Math.min(n, at + ARGMAX_BLOCK), max) - off;
    }

    /** Values per block of {@link #argmax}'s pass: 16 KB of floats, an L1's worth. */
    private static final int ARGMAX_BLOCK = 4096;

    /** {@link #argmax}'s definition, for rows holding a NaN. */
    private static int argmaxScalar(float[] x, int off, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) if (x[off + j] > x[off + best]) best = j;
        return best;
    }

    /**
     * The first index i in [from, to) with x[i] >= t or x[i] NaN, else {@code to}: a top-k scan skips, a vector at a
     * time, the logits that cannot displace the worst candidate it holds.
     */
    public static int firstAtLeast(float[] x, int from, int to, float t) {
        int i = from;
        int step = F.length();
        for (; i + step <= to; i += step) {
            FloatVector v = FloatVector.fromArray(F, x, i);
            VectorMask<Float> m = v.compare(VectorOperators.GE, t).or(v.test(VectorOperators.IS_NAN));
            if (m.anyTrue()) return i + m.firstTrue();
        }
        for (; i < to; i++) if (x[i] >= t || Float.isNaN(x[i])) return i;
        return to;
    }

    /** y += x elementwise. */
    public static void add(float[] y, int yo, float[] x, int xo, int n) {
        int i = 0;
        int step = F.length();
        for (; i + step <= n; i += step) {
            FloatVector.fromArray(F, y, yo + i).add(FloatVector.fromArray(F, x, xo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] += x[xo + i];
    }

    /** dst = x ⊙ w elementwise ({@code dst[dstOff + i] = x[xo + i] · w[wo + i]}). */
    public static void mul(float[] x, int xo, float[] w, int wo, float[] dst, int dstOff, int n) {
        int i = 0;
        int step = F.length();
        for (; i + step <= n; i += step) {
            FloatVector.fromArray(F, x, xo + i).mul(FloatVector.fromArray(F, w, wo + i)).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) dst[dstOff + i] = x[xo + i] * w[wo + i];
    }

    /** x = x · num / den elementwise, in that order (a multiply, then a division: not one scale by num/den). */
    public static void mulDiv(float[] x, int xo, int n, float num, float den) {
        int i = 0;
        int step = F.length();
        for (; i + step <= n; i += step) FloatVector.fromArray(F, x, xo + i).mul(num).div(den).intoArray(x, xo + i);
        for (; i < n; i++) x[xo + i] = x[xo + i] * num / den;
    }

    /** z = ((x + y) + z) / d elementwise, in that order. */
    public static void sumDiv(float[] x, float[] y, float[] z, int off, int n, float d) {
        int i = 0;
        int step = F.length();
        for (; i + step <= n; i += step) {
            FloatVector.fromArray(F, x, off + i).add(FloatVector.fromArray(F, y, off + i)).add(FloatVector.fromArray(F, z, off + i))
                    .div(d).intoArray(z, off + i);
        }
        for (; i < n; i++) z[off + i] = (x[off + i] + y[off + i] + z[off + i]) / d;
    }

    /**
     * dst[e] = (Σ_j x[j][e] · w[wo + j]) + y[e] for e in [off, off + n): the sum from 0 in j's order, then y, each
     * product and sum rounded on its own (no fused multiply-add), as the scalar loop {@code acc += x[j][e] · w[j]} does.
     */
    public static void mix(float[][] x, float[] w, int wo, float[] y, float[] dst, int off, int n) {
        final int m = x.length;
        int i = 0;
        int step = F.length();
        for (; i + step <= n; i += step) {
            FloatVector acc = FloatVector.zero(F);
            for (int j = 0; j < m; j++) acc = acc.add(FloatVector.fromArray(F, x[j], off + i).mul(w[wo + j]));
            acc.add(FloatVector.fromArray(F, y, off + i)).intoArray(dst, off + i);
        }
        for (; i < n; i++) {
            int e = off + i;
            float acc = 0;
            for (int j = 0; j < m; j++) acc += x[j][e] * w[wo + j];
            dst[e] = acc + y[e];
        }
    }

    /**
     * out[k][e] = (a[e] − b[e]) · c[co + k] + p[k][e] for every k and e in [off, off + n), each operation rounded on its
     * own (no fused multiply-add). {@code out} may be the arrays of neither {@code a}, {@code b} nor {@code p}.
     */
    public static void spread(float[] a, float[] b, float[] c, int co, float[][] p, float[][] out, int off, int n) {
        final int m = p.length;
        int i = 0;
        int step = F.length();
        for (; i + step <= n; i += step) {
            FloatVector d = FloatVector.fromArray(F, a, off + i).sub(FloatVector.fromArray(F, b, off + i));
            for (int k = 0; k < m; k++) d.mul(c[co + k]).add(FloatVector.fromArray(F, p[k], off + i)).intoArray(out[k], off + i);
        }
        for (; i < n; i++) {
            int e = off + i;
            float d = a[e] - b[e];
            for (int k = 0; k < m; k++) out[k][e] = d * c[co + k] + p[k][e];
        }
    }
}
