package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

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
}
