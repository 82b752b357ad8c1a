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

/** BF16: the top 16 bits of an f32; widening is a shift. */
public final class BF16Format implements BlockFormat {
    private static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, VectorShape.forBitSize(Math.max(64, 16 * VDot.L)));
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, VDot.F.vectorShape());

    @Override
    public GgmlType type() {
        return GgmlType.BF16;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int i = 0; i < n; i++) dst[dstOffset + i] = Float.intBitsToFloat((data.get(Le.I16, offset + 2L * i) & 0xffff) << 16);
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int n, float[] scratch) {
        if (!VDot.OK || SS.length() != VDot.L) return BlockFormat.super.dot(data, offset, x, xOffset, n, scratch);
        FloatVector acc0 = FloatVector.zero(VDot.F), acc1 = FloatVector.zero(VDot.F);
        final int step = VDot.L;
        int i = 0;
        for (; i + 2 * step <= n; i += 2 * step) {
            acc0 = widen(data, offset + 2L * i).fma(FloatVector.fromArray(VDot.F, x, xOffset + i), acc0);
            acc1 = widen(data, offset + 2L * (i + step)).fma(FloatVector.fromArray(VDot.F, x, xOffset + i + step), acc1);
        }
        for (; i + step <= n; i += step) {
            acc0 = widen(data, offset + 2L * i).fma(FloatVector.fromArray(VDot.F, x, xOffset + i), acc0);
        }
        float s = VectorOps.sum(acc0.add(acc1));
        for (; i < n; i++) s += Float.intBitsToFloat((data.get(Le.I16, offset + 2L * i) & 0xffff) << 16) * x[xOffset + i];
        return s;
    }

    private static FloatVector widen(MemorySegment data, long off) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(SS, data, off, VDot.LE).convertShape(VectorOperators.S2I, IS, 0);
        return h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }
}
