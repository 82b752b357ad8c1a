package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

/** Q8_0: per 32 weights an f16 scale d and 32 int8 q; w = q·d. */
public final class Q8_0Format implements BlockFormat {
    @Override
    public GgmlType type() {
        return GgmlType.Q8_0;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int b = 0; b < n / 32; b++) {
            long bo = offset + 34L * b;
            float d = Float.float16ToFloat(data.get(Le.I16, bo));
            int o = dstOffset + 32 * b;
            for (int i = 0; i < 32; i++) dst[o + i] = data.get(Le.I8, bo + 2 + i) * d;
        }
    }
}
