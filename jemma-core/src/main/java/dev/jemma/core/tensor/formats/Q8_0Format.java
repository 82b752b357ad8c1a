package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/** Q8_0: per 32 weights an f16 scale d and 32 int8 q; w = q·d. */
public final class Q8_0Format implements BlockFormat {
    @Override
    public GgmlType type() {
        return GgmlType.Q8_0;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / 32; b++) {
            long bo = offset + 34L * b;
            float d = Float.float16ToFloat(data.get(Le.I16, bo));
            int o = dstOffset + 32 * b;
            for (int i = 0; i < 32; i++) dst[o + i] = data.get(Le.I8, bo + 2 + i) * d;
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int n, float[] scratch) {
        if (!VDot.OK) return BlockFormat.super.dot(data, offset, x, xOffset, n, scratch);
        FloatVector acc0 = FloatVector.zero(VDot.F), acc1 = FloatVector.zero(VDot.F);
        for (int b = 0; b < n / 32; b++) {
            long bo = offset + 34L * b;
            float d = VDot.f16(data, bo);
            int xb = xOffset + 32 * b;
            for (int c = 0; c < 32; c += 2 * VDot.BL) {
                acc0 = VDot.fma(VDot.load(data, bo + 2 + c), d, x, xb + c, acc0);
                acc1 = VDot.fma(VDot.load(data, bo + 2 + c + VDot.BL), d, x, xb + c + VDot.BL, acc1);
            }
        }
        return VectorOps.sum(acc0.add(acc1));
    }
}
