package dev.jemma.core.tensor.formats;

import java.lang.foreign.MemorySegment;

/**
 * The 12-byte packed 6-bit scales and mins of Q4_K / Q5_K super-blocks (8 sub-blocks of 32 weights).
 * Sub-blocks 0–3 keep their 6 bits in the low bits of bytes 0–3 (scale) and 4–7 (min); sub-blocks 4–7 take
 * their low 4 bits from the nibbles of bytes 8–11 (scale low, min high) and their top 2 bits from the top
 * 2 bits of bytes 0–3 (scale) and 4–7 (min).
 */
public final class KScales {
    private KScales() {
    }

    /** Unsigned 6-bit scale of sub-block {@code j} (0–7); {@code so} is the byte offset of the 12 scale bytes. */
    public static int scale(MemorySegment data, long so, int j) {
        if (j < 4) return data.get(Le.I8, so + j) & 0x3f;
        return (data.get(Le.I8, so + j + 4) & 0x0f) | ((data.get(Le.I8, so + j - 4) & 0xc0) >>> 2);
    }

    /** Unsigned 6-bit min of sub-block {@code j} (0–7). */
    public static int min(MemorySegment data, long so, int j) {
        if (j < 4) return data.get(Le.I8, so + j + 4) & 0x3f;
        return ((data.get(Le.I8, so + j + 4) & 0xff) >>> 4) | ((data.get(Le.I8, so + j) & 0xc0) >>> 2);
    }
}
