package dev.jemma.core.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Decodes one ggml storage type. Implementations are stateless and exact: {@link #dequantize} reproduces ggml's
 * {@code to_float} bit for bit (the fixtures' "exact" mode relies on it).
 */
public interface BlockFormat {
    GgmlType type();

    /**
     * Dequantizes {@code n} weights (a multiple of the block size) stored at byte offset {@code offset} of
     * {@code data} into {@code dst[dstOffset .. dstOffset+n)}.
     */
    void dequantize(MemorySegment data, long offset, float[] dst, int dstOffset, int n);

    /**
     * Exact dot product of {@code n} stored weights with {@code x[xOffset..]}, f32 arithmetic. The default
     * dequantizes block by block; formats override it with a fused Vector API version.
     */
    default float dot(MemorySegment data, long offset, float[] x, int xOffset, int n, float[] scratch) {
        dequantize(data, offset, scratch, 0, n);
        return VectorOps.dot(scratch, 0, x, xOffset, n);
    }
}
