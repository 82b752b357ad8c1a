package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q5_1: per 32 weights an f16 scale d, an f16 offset m, a little-endian u32 qh of fifth bits and 16 bytes of
 * low nibbles (weights 0–15 low, 16–31 high); w = q·d + m (product rounded, then sum rounded).
 */
public final class Q5_1Format implements BlockFormat {
    static final int BLOCK_BYTES = 24;

    @Override
    public GgmlType type() {
        return GgmlType.Q5_1;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / 32; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = Float.float16ToFloat(data.get(Le.I16, bo));
            float m = Float.float16ToFloat(data.get(Le.I16, bo + 2));
            int qh = data.get(Le.I32, bo + 4);
            int o = dstOffset + 32 * b;
            for (int i = 0; i < 16; i++) {
                int q = data.get(Le.I8, bo + 8 + i) & 0xff;
                int lo = (q & 0x0f) | ((qh >>> i) & 1) << 4;
                int hi = (q >>> 4) | ((qh >>> (i + 16)) & 1) << 4;
                dst[o + i] = lo * d + m;
                dst[o + i + 16] = hi * d + m;
            }
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int n, float[] scratch) {
        if (!VDot.OK) return BlockFormat.super.dot(data, offset, x, xOffset, n, scratch);
        FloatVector acc0 = FloatVector.zero(VDot.F), acc1 = FloatVector.zero(VDot.F);
        final long laneBits = (1L << VDot.BL) - 1;
        for (int b = 0; b < n / 32; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = VDot.f16(data, bo), m = VDot.f16(data, bo + 2);
            long qh = data.get(Le.I32, bo + 4) & 0xffffffffL;
            int xb = xOffset + 32 * b;
            for (int c = 0; c < 16; c += VDot.BL) {
                ByteVector v = VDot.load(data, bo + 8 + c);
                VectorMask<Byte> hl = VectorMask.fromLong(VDot.BS, (qh >>> c) & laneBits);
                VectorMask<Byte> hh = VectorMask.fromLong(VDot.BS, (qh >>> (16 + c)) & laneBits);
                acc0 = VDot.fmaAdd(v.and((byte) 0x0f).add((byte) 16, hl), d, m, x, xb + c, acc0);
                acc1 = VDot.fmaAdd(VDot.shr(v, 4).and((byte) 0x0f).add((byte) 16, hh), d, m, x, xb + 16 + c, acc1);
            }
        }
        return VectorOps.sum(acc0.add(acc1));
    }
}
