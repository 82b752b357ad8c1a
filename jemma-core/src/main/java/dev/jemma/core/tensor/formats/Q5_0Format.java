package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/**
 * Q5_0: per 32 weights an f16 scale d, a little-endian u32 qh of fifth bits (bit j belongs to weight j) and
 * 16 bytes of low nibbles (low nibbles are weights 0–15, high nibbles 16–31); w = (q−16)·d.
 */
public final class Q5_0Format implements BlockFormat {
    static final int BLOCK_BYTES = 22;

    @Override
    public GgmlType type() {
        return GgmlType.Q5_0;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / 32; b++) {
            long bo = offset + (long) BLOCK_BYTES * b;
            float d = Float.float16ToFloat(data.get(Le.I16, bo));
            int qh = data.get(Le.I32, bo + 2);
            int o = dstOffset + 32 * b;
            for (int i = 0; i < 16; i++) {
                int q = data.get(Le.I8, bo + 6 + i) & 0xff;
                int lo = (q & 0x0f) | ((qh >>> i) & 1) << 4;
                int hi = (q >>> 4) | ((qh >>> (i + 16)) & 1) << 4;
                dst[o + i] = (lo - 16) * d;
                dst[o + i + 16] = (hi - 16) * d;
            }
        }
    }
}
