package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

/**
 * Q6_K: 256-weight super-blocks of 210 bytes: 128 bytes ql (low 4 bits), 64 bytes qh (high 2 bits), 16 int8
 * scales (one per 16 weights), f16 d. In half {@code h} (128 weights), weight {@code 128h + 32k + l} takes
 * nibble {@code k/2} of ql byte {@code 64h + 32(k&1) + l} and bits {@code 2k..2k+1} of qh byte {@code 32h + l};
 * w = (d·sc)·(q−32).
 */
public final class Q6_KFormat implements BlockFormat {
    static final int BLOCK_BYTES = 210;

    @Override
    public GgmlType type() {
        return GgmlType.Q6_K;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / 256; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = Float.float16ToFloat(data.get(Le.I16, bo + 208));
            int o = dstOffset + 256 * b;
            for (int s = 0; s < 16; s++) {
                float dl = d * data.get(Le.I8, bo + 192 + s);
                int h = s >>> 3, k = (s >>> 1) & 3, l0 = (s & 1) * 16;
                long qlo = bo + 64 * h + 32 * (k & 1);
                int shift = 4 * (k >>> 1);
                for (int l = l0; l < l0 + 16; l++) {
                    int ql = ((data.get(Le.I8, qlo + l) & 0xff) >>> shift) & 0x0f;
                    int qh = ((data.get(Le.I8, bo + 128 + 32 * h + l) & 0xff) >>> (2 * k)) & 3;
                    dst[o + 16 * s + l - l0] = dl * ((ql | qh << 4) - 32);
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int n, float[] scratch) {
        if (!VDot.OK) return BlockFormat.super.dot(data, offset, x, xOffset, n, scratch);
        // one call site per loop body: the Vector API expands to many IR nodes, and C2 stops inlining (leaving
        // boxed vectors) when a method grows past its node budget
        FloatVector acc = FloatVector.zero(VDot.F);
        for (int b = 0; b < n / 256; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = VDot.f16(data, bo + 208);
            int xb = xOffset + 256 * b;
            for (int g = 0; g < 8; g++) {   // 32-weight group g = 4h + k
                int h = g >>> 2, k = g & 3;
                long qlo = bo + 64 * h + 32 * (k & 1), qho = bo + 128 + 32 * h;
                int nib = 4 * (k >>> 1), hs = 2 * k;
                for (int c = 0; c < 32; c += VDot.BL) {
                    ByteVector q = VDot.shr(VDot.load(data, qlo + c), nib).and((byte) 0x0f)
                            .or(VDot.shl(VDot.shr(VDot.load(data, qho + c), hs).and((byte) 3), 4))
                            .sub((byte) 32);
                    acc = VDot.fma(q, d * data.get(Le.I8, bo + 192 + 2 * g + (c >>> 4)), x, xb + 32 * g + c, acc);
                }
            }
        }
        return VectorOps.sum(acc);
    }
}
