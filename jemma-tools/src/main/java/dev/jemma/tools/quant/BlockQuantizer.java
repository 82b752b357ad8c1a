package dev.jemma.tools.quant;

import dev.jemma.core.tensor.GgmlType;

/**
 * Encodes f32 weights into one ggml storage type, the inverse of {@link dev.jemma.core.tensor.BlockFormat}.
 * Implementations are stateless and thread-safe; each follows ggml's published reference rounding rule for its
 * type (the one {@code llama-quantize} uses when no importance matrix is given), so the simple formats give
 * the same blocks as gguf-py's {@code gguf.quants.quantize}.
 */
public interface BlockQuantizer {
    GgmlType type();

    /**
     * Encodes {@code n} weights (a multiple of the block size) from {@code src[srcOffset..]} into
     * {@code dst[dstOffset..]}, which must have room for {@code type().bytesFor(n)} bytes.
     */
    void quantize(float[] src, int srcOffset, int n, byte[] dst, int dstOffset);
}
