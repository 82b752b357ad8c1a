package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/** F16: IEEE binary16 weights, widened exactly to f32. */
public final class F16Format implements BlockFormat {
    private static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, VectorShape.forBitSize(Math.max(64, 16 * VDot.L)));
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, VDot.F.vectorShape());

    @Override
    public GgmlType type() {
        return GgmlType.F16;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int i = 0; i < n; i++) dst[dstOffset + i] = Float.float16ToFloat(data.get(Le.I16, offset + 2L * i));
    }

    /**
     * The Vector API has no half-float conversion, so the widening is done on the bits (see {@link #widen}); that
     * trick is exact for every finite half, and a row holding Inf/NaN halves (never seen in real weights) is
     * redone by the scalar twin so the result stays identical to {@link Float#float16ToFloat}.
     */
    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int n, float[] scratch) {
        if (!VDot.OK || SS.length() != VDot.L) return BlockFormat.super.dot(data, offset, x, xOffset, n, scratch);
        FloatVector acc0 = FloatVector.zero(VDot.F), acc1 = FloatVector.zero(VDot.F);
        IntVector maxAbs = IntVector.zero(IS);
        final int step = VDot.L;
        int i = 0;
        for (; i + 2 * step <= n; i += 2 * step) {
            IntVector h0 = load(data, offset + 2L * i), h1 = load(data, offset + 2L * (i + step));
            maxAbs = maxAbs.max(h0.and(0x7fff)).max(h1.and(0x7fff));
            acc0 = widen(h0).fma(FloatVector.fromArray(VDot.F, x, xOffset + i), acc0);
            acc1 = widen(h1).fma(FloatVector.fromArray(VDot.F, x, xOffset + i + step), acc1);
        }
        if (maxAbs.reduceLanes(VectorOperators.MAX) >= 0x7c00) return BlockFormat.super.dot(data, offset, x, xOffset, n, scratch);
        float s = VectorOps.sum(acc0.add(acc1));
        for (; i < n; i++) s += Float.float16ToFloat(data.get(Le.I16, offset + 2L * i)) * x[xOffset + i];
        return s;
    }

    /** L halves, sign-extended to int lanes. */
    static IntVector load(MemorySegment data, long off) {
        return (IntVector) ShortVector.fromMemorySegment(SS, data, off, VDot.LE).convertShape(VectorOperators.S2I, IS, 0);
    }

    /**
     * Widens sign-extended halves exactly, for every finite half: shifted left by 13 the sign lands in bits 28–31
     * and exponent+mantissa in bits 13–27; keeping bit 31 and bits 13–27 gives an f32 whose value is the half's
     * times 2^-112 (subnormal halves become f32 subnormals), and multiplying by 2^112 is exact. Inf/NaN halves
     * come out as finite values ≥ 65536 and must be handled by the caller.
     */
    static FloatVector widen(IntVector h) {
        return h.lanewise(VectorOperators.LSHL, 13).and(0x8fffe000).reinterpretAsFloats().mul(0x1p112f);
    }
}
