package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** Q4_0: per 32 weights an f16 scale d and 16 bytes; low nibbles are weights 0–15, high nibbles 16–31; w = (q−8)·d. */
public final class Q4_0Format implements BlockFormat {
    @Override
    public GgmlType type() {
        return GgmlType.Q4_0;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / 32; b++) {
            long bo = offset + 18L * b;
            float d = Float.float16ToFloat(data.get(Le.I16, bo));
            int o = dstOffset + 32 * b;
            for (int i = 0; i < 16; i++) {
                int q = data.get(Le.I8, bo + 2 + i) & 0xff;
                dst[o + i] = ((q & 0x0f) - 8) * d;
                dst[o + i + 16] = ((q >>> 4) - 8) * d;
            }
        }
    }
}
