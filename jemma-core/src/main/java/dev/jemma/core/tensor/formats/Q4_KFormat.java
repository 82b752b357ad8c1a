package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

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
}
