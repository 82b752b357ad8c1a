package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q2_K: 256-weight super-blocks of 84 bytes: 16 scale bytes (low nibble scale, high nibble min, one per 16
 * weights), 64 bytes of 2-bit quants, f16 d, f16 dmin. Weight {@code 128h + 32j + l} is bits {@code 2j..2j+1}
 * of quant byte {@code 32h + l}; w = (d·sc)·q − dmin·m.
 */
public final class Q2_KFormat implements BlockFormat {
    static final int BLOCK_BYTES = 84;

    @Override
    public GgmlType type() {
        return GgmlType.Q2_K;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / 256; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = Float.float16ToFloat(data.get(Le.I16, bo + 80));
            float dmin = Float.float16ToFloat(data.get(Le.I16, bo + 82));
            int o = dstOffset + 256 * b;
            for (int s = 0; s < 16; s++) {
                int sc = data.get(Le.I8, bo + s) & 0xff;
                float dl = d * (sc & 0x0f);
                float ml = dmin * (sc >>> 4);
                int h = s >>> 3, j = (s >>> 1) & 3, l0 = (s & 1) * 16;
                for (int l = l0; l < l0 + 16; l++) {
                    int q = ((data.get(Le.I8, bo + 16 + 32 * h + l) & 0xff) >>> (2 * j)) & 3;
                    dst[o + 16 * s + l - l0] = dl * q - ml;
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
            float d = VDot.f16(data, bo + 80), dmin = VDot.f16(data, bo + 82);
            int xb = xOffset + 256 * b;
            for (int g = 0; g < 8; g++) {   // 32-weight group g = 4h + j
                long qo = bo + 16 + 32 * (g >>> 2);
                int shift = 2 * (g & 3);
                for (int c = 0; c < 32; c += VDot.BL) {
                    int sc = data.get(Le.I8, bo + 2 * g + (c >>> 4)) & 0xff;
                    ByteVector q = VDot.shr(VDot.load(data, qo + c), shift).and((byte) 3);
                    acc = VDot.fmaSub(q, d * (sc & 0x0f), dmin * (sc >>> 4), x, xb + 32 * g + c, acc);
                }
            }
        }
        return VectorOps.sum(acc);
    }
}
