package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q4_1: per 32 weights an f16 scale d, an f16 offset m and 16 bytes of nibbles (low nibbles are weights 0–15,
 * high nibbles 16–31); w = q·d + m, rounded after the product and again after the sum, as ggml does.
 */
public final class Q4_1Format implements BlockFormat {
    static final int BLOCK_BYTES = 20;

    @Override
    public GgmlType type() {
        return GgmlType.Q4_1;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / 32; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = Float.float16ToFloat(data.get(Le.I16, bo));
            float m = Float.float16ToFloat(data.get(Le.I16, bo + 2));
            int o = dstOffset + 32 * b;
            for (int i = 0; i < 16; i++) {
                int q = data.get(Le.I8, bo + 4 + i) & 0xff;
                dst[o + i] = (q & 0x0f) * d + m;
                dst[o + i + 16] = (q >>> 4) * d + m;
            }
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int n, float[] scratch) {
        if (!VDot.OK) return BlockFormat.super.dot(data, offset, x, xOffset, n, scratch);
        FloatVector acc0 = FloatVector.zero(VDot.F), acc1 = FloatVector.zero(VDot.F);
        for (int b = 0; b < n / 32; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = VDot.f16(data, bo), m = VDot.f16(data, bo + 2);
            int xb = xOffset + 32 * b;
            for (int c = 0; c < 16; c += VDot.BL) {
                ByteVector v = VDot.load(data, bo + 4 + c);
                acc0 = VDot.fmaAdd(v.and((byte) 0x0f), d, m, x, xb + c, acc0);
                acc1 = VDot.fmaAdd(VDot.shr(v, 4).and((byte) 0x0f), d, m, x, xb + 16 + c, acc1);
            }
        }
        return VectorOps.sum(acc0.add(acc1));
    }
}
