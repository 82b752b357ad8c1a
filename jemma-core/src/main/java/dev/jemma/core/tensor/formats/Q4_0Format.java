package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/** Q4_0: per 32 weights an f16 scale d and 16 bytes; low nibbles are weights 0–15, high nibbles 16–31; w = (q−8)·d. */
public final class Q4_0Format implements BlockFormat {
    @Override
    public GgmlType type() {
        return GgmlType.Q4_0;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / 32; b++) {
            long bo = offset + 18L * b;
            float d = Float.float16ToFloat(data.get(Le.I16, bo));
            int o = dstOffset + 32 * b;
            for (int i = 0; i < 16; i++) {
                int q = data.get(Le.I8, bo + 2 + i) & 0xff;
                dst[o + i] = ((q & 0x0f) - 8) * d;
                dst[o + i + 16] = ((q >>> 4) - 8) * d;
            }
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int n, float[] scratch) {
        if (!VDot.OK) return BlockFormat.super.dot(data, offset, x, xOffset, n, scratch);
        FloatVector acc0 = FloatVector.zero(VDot.F), acc1 = FloatVector.zero(VDot.F);
        for (int b = 0; b < n / 32; b++) {
            long bo = offset + 18L * b;
            float d = VDot.f16(data, bo);
            int xb = xOffset + 32 * b;
            for (int c = 0; c < 16; c += VDot.BL) {
                ByteVector v = VDot.load(data, bo + 2 + c);
                acc0 = VDot.fma(v.and((byte) 0x0f).sub((byte) 8), d, x, xb + c, acc0);
                acc1 = VDot.fma(VDot.shr(v, 4).and((byte) 0x0f).sub((byte) 8), d, x, xb + 16 + c, acc1);
            }
        }
        return VectorOps.sum(acc0.add(acc1));
    }
}
