package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q3_K: 256-weight super-blocks of 110 bytes: 32 bytes hmask, 64 bytes of 2-bit quants, 12 bytes of packed
 * 6-bit scales (one per 16 weights, stored +32), f16 d. Weight {@code i = 128h + 32j + l} takes its low 2 bits
 * from bits {@code 2j} of quant byte {@code 32h + l} and subtracts 4 unless bit {@code i/32} of hmask byte
 * {@code l} is set; w = (d·(sc−32))·q.
 */
public final class Q3_KFormat implements BlockFormat {
    static final int BLOCK_BYTES = 110;

    @Override
    public GgmlType type() {
        return GgmlType.Q3_K;
    }

    /** Signed scale (−32..31) of 16-weight group {@code s}; {@code so} is the offset of the 12 scale bytes. */
    static int scale(MemorySegment data, long so, int s) {
        int low = s < 8 ? data.get(Le.I8, so + s) & 0x0f : (data.get(Le.I8, so + s - 8) & 0xff) >>> 4;
        int high = ((data.get(Le.I8, so + 8 + (s & 3)) & 0xff) >>> (2 * (s >>> 2))) & 3;
        return (low | high << 4) - 32;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / 256; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = Float.float16ToFloat(data.get(Le.I16, bo + 108));
            int o = dstOffset + 256 * b;
            for (int s = 0; s < 16; s++) {
                float dl = d * scale(data, bo + 96, s);
                int h = s >>> 3, j = (s >>> 1) & 3, l0 = (s & 1) * 16, bit = s >>> 1;
                for (int l = l0; l < l0 + 16; l++) {
                    int ql = ((data.get(Le.I8, bo + 32 + 32 * h + l) & 0xff) >>> (2 * j)) & 3;
                    int hb = ((data.get(Le.I8, bo + l) & 0xff) >>> bit) & 1;
                    dst[o + 16 * s + l - l0] = dl * (ql - (hb != 0 ? 0 : 4));
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
            float d = VDot.f16(data, bo + 108);
            int xb = xOffset + 256 * b;
            for (int g = 0; g < 8; g++) {   // 32-weight group g = 4h + j; g is also its hmask bit
                long qo = bo + 32 + 32 * (g >>> 2);
                int shift = 2 * (g & 3);
                for (int c = 0; c < 32; c += VDot.BL) {
                    // subtract 4 where the hmask bit is clear
                    ByteVector q = VDot.shr(VDot.load(data, qo + c), shift).and((byte) 3)
                            .sub(VDot.shl(VDot.shr(VDot.load(data, bo + c).not(), g).and((byte) 1), 2));
                    acc = VDot.fma(q, d * scale(data, bo + 96, 2 * g + (c >>> 4)), x, xb + 32 * g + c, acc);
                }
            }
        }
        return VectorOps.sum(acc);
    }
}
