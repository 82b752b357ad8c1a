package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q4_K: 256-weight super-blocks of 144 bytes: f16 d, f16 dmin, 12 bytes of packed 6-bit scales/mins
 * ({@link KScales}), 128 bytes of nibbles. Sub-block {@code j} (32 weights) uses the low ({@code j} even) or
 * high nibbles of bytes {@code 32·(j/2) .. +32}; w = (d·sc)·q − dmin·m.
 */
public final class Q4_KFormat implements BlockFormat {
    static final int BLOCK_BYTES = 144;

    @Override
    public GgmlType type() {
        return GgmlType.Q4_K;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / 256; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = Float.float16ToFloat(data.get(Le.I16, bo));
            float dmin = Float.float16ToFloat(data.get(Le.I16, bo + 2));
            int o = dstOffset + 256 * b;
            for (int j = 0; j < 8; j++) {
                float dl = d * KScales.scale(data, bo + 4, j);
                float ml = dmin * KScales.min(data, bo + 4, j);
                long qo = bo + 16 + 32 * (j >>> 1);
                int shift = 4 * (j & 1);
                for (int l = 0; l < 32; l++) {
                    int q = ((data.get(Le.I8, qo + l) & 0xff) >>> shift) & 0x0f;
                    dst[o + 32 * j + l] = dl * q - ml;
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int n, float[] scratch) {
        if (!VDot.OK) return BlockFormat.super.dot(data, offset, x, xOffset, n, scratch);
        FloatVector acc0 = FloatVector.zero(VDot.F), acc1 = FloatVector.zero(VDot.F);
        for (int b = 0; b < n / 256; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = VDot.f16(data, bo), dmin = VDot.f16(data, bo + 2);
            int xb = xOffset + 256 * b;
            for (int p = 0; p < 4; p++) {
                float d0 = d * KScales.scale(data, bo + 4, 2 * p), m0 = dmin * KScales.min(data, bo + 4, 2 * p);
                float d1 = d * KScales.scale(data, bo + 4, 2 * p + 1), m1 = dmin * KScales.min(data, bo + 4, 2 * p + 1);
                for (int c = 0; c < 32; c += VDot.BL) {
                    ByteVector v = VDot.load(data, bo + 16 + 32 * p + c);
                    acc0 = VDot.fmaSub(v.and((byte) 0x0f), d0, m0, x, xb + 64 * p + c, acc0);
                    acc1 = VDot.fmaSub(VDot.shr(v, 4).and((byte) 0x0f), d1, m1, x, xb + 64 * p + 32 + c, acc1);
                }
            }
        }
        return VectorOps.sum(acc0.add(acc1));
    }
}
