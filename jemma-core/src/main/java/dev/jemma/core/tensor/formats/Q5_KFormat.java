package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q5_K: 256-weight super-blocks of 176 bytes: f16 d, f16 dmin, 12 bytes of packed 6-bit scales/mins
 * ({@link KScales}), 32 bytes qh, 128 bytes of nibbles. Sub-block {@code j} takes its nibbles as in Q4_K and
 * its fifth bit from bit {@code j} of qh byte {@code l}; w = (d·sc)·q − dmin·m.
 */
public final class Q5_KFormat implements BlockFormat {
    static final int BLOCK_BYTES = 176;

    @Override
    public GgmlType type() {
        return GgmlType.Q5_K;
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
                long qo = bo + 48 + 32 * (j >>> 1);
                int shift = 4 * (j & 1);
                for (int l = 0; l < 32; l++) {
                    int q = ((data.get(Le.I8, qo + l) & 0xff) >>> shift) & 0x0f;
                    q |= (((data.get(Le.I8, bo + 16 + l) & 0xff) >>> j) & 1) << 4;
                    dst[o + 32 * j + l] = dl * q - ml;
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int n, float[] scratch) {
        if (!VDot.OK) return BlockFormat.super.dot(data, offset, x, xOffset, n, scratch);
        FloatVector acc = FloatVector.zero(VDot.F);   // one call site: see Q6_KFormat.dot
        for (int b = 0; b < n / 256; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = VDot.f16(data, bo), dmin = VDot.f16(data, bo + 2);
            int xb = xOffset + 256 * b;
            for (int j = 0; j < 8; j++) {
                float dl = d * KScales.scale(data, bo + 4, j), ml = dmin * KScales.min(data, bo + 4, j);
                long qo = bo + 48 + 32 * (j >>> 1);
                int shift = 4 * (j & 1);
                for (int c = 0; c < 32; c += VDot.BL) {
                    ByteVector q = VDot.shr(VDot.load(data, qo + c), shift).and((byte) 0x0f)
                            .or(VDot.shl(VDot.shr(VDot.load(data, bo + 16 + c), j).and((byte) 1), 4));
                    acc = VDot.fmaSub(q, dl, ml, x, xb + 32 * j + c, acc);
                }
            }
        }
        return VectorOps.sum(acc);
    }
}
