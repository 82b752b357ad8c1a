package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.VectorOps;

import java.lang.foreign.MemorySegment;

public final class F32Format implements BlockFormat {
    @Override
    public GgmlType type() {
        return GgmlType.F32;
    }

    @Override
    public void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n) {
        MemorySegment.copy(data, Le.F32, offset, dst, dstOffset, n);
    }

    @Override
    public float dot(MemorySegment data, long offset, float[] x, int xOffset, int n, float[] scratch) {
        return VectorOps.dotSegmentF32(data, offset, x, xOffset, n);
    }
}
