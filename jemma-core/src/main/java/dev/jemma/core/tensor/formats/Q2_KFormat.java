package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

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
}
