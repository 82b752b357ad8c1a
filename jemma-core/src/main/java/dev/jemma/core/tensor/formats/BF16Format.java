package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;

import java.lang.foreign.MemorySegment;

public final class BF16Format implements BlockFormat {
    @Override
    public GgmlType type() {
        return GgmlType.BF16;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        for (int i = 0; i < n; i++) dst[dstOffset + i] = Float.intBitsToFloat((data.get(Le.I16, offset + 2L * i) & 0xffff) << 16);
    }
}
