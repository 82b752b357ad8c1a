package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.formats.KScales;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The {@link Interleaved} "rows in lanes" layout for the K-quants Q4_K and Q6_K. A group's 32 rows are stored one
 * 256-column super-block at a time: a header with the 32 rows' f16 super-block scales, then 8 sub-tiles of 32 columns.
 * Every sub-tile keeps its quants in Q4_0's quad arrangement (quad q, lane r: the 4-bit values of columns 2q, 2q+16,
 * 2q+1, 2q+17 from the low bits up), so the int8 kernels' inner loop is Q4_0's; only the per-block scale arithmetic
 * differs. The integers and scales are the file's own (repacking moves bits, it does not requantize).
 *
 * <ul>
 *   <li>Q4_K super-block ({@value #Q4K_SB} bytes): 32 × d, 32 × dmin (f32: the f16 values widened, so that the
 *       kernels load them instead of converting — fewer Vector API calls keep C2 within its inlining budget), then per sub-tile j: 32 16-bit lanes
 *       {@code sc | m << 8} (the 6-bit scale and min of sub-block j), then 8 quads of low nibbles (w = d·sc·q − dmin·m);</li>
 *   <li>Q6_K super-block ({@value #Q6K_SB} bytes): 32 × d (f32), then per sub-tile j: 32 16-bit lanes
 *       {@code sc[2j] & 0xff | sc[2j+1] << 8} (int8 scales of its two 16-column sub-blocks), 8 quads of the values'
 *       low 4 bits, and 4 vectors of high 2-bit pairs: vector k, lane r holds quads 2k and 2k+1's four columns each,
 *       quad 2k+e's slot s (column order as above) at bits {@code 8e + 2s} (w = d·sc·(q − 32)).</li>
 * </ul>
 */
public final class KQuantInterleaved {
    /** Bytes of a Q4_K sub-tile (32 rows × 32 columns): scale/min lanes, then quads. */
    static final int Q4K_SUB = 64 + 8 * 64;
    static final int Q4K_HEADER = 256;
    public static final int Q4K_SB = Q4K_HEADER + 8 * Q4K_SUB;
    /** Bytes of a Q6_K sub-tile: scale lanes, low-nibble quads, high-bit vectors. */
    static final int Q6K_SUB = 64 + 8 * 64 + 4 * 64;
    static final int Q6K_HEADER = 128;
    public static final int Q6K_SB = Q6K_HEADER + 8 * Q6K_SUB;

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private KQuantInterleaved() {
    }

    static boolean isK(GgmlType type) {
        return type == GgmlType.Q4_K || type == GgmlType.Q6_K;
    }

    static int superBlockBytes(GgmlType type) {
        return type == GgmlType.Q4_K ? Q4K_SB : Q6K_SB;
    }

    /** Offset of 32-column block {@code b}'s sub-tile within a group starting at {@code g}. */
    static long subTile(GgmlType type, long g, int b) {
        return type == GgmlType.Q4_K
                ? g + (long) (b >>> 3) * Q4K_SB + Q4K_HEADER + (long) (b & 7) * Q4K_SUB
                : g + (long) (b >>> 3) * Q6K_SB + Q6K_HEADER + (long) (b & 7) * Q6K_SUB;
    }

    /** Offset of the super-block header holding 32-column block {@code b}. */
    static long header(GgmlType type, long g, int b) {
        return g + (long) (b >>> 3) * superBlockBytes(type);
    }

    /** The unsigned 4-bit (Q4_K) or 6-bit (Q6_K) quant of column {@code c} of a row whose data starts at {@code row}. */
    static int quant(GgmlType type, MemorySegment src, long row, int c) {
        long bo = row + (long) (c >>> 8) * type.typeSize;
        int w = c & 255;
        if (type == GgmlType.Q4_K) {
            int j = w >>> 5;
            return ((src.get(ValueLayout.JAVA_BYTE, bo + 16 + 32L * (j >>> 1) + (w & 31)) & 0xff) >>> (4 * (j & 1))) & 0xf;
        }
        int h = w >>> 7, k = (w >>> 5) & 3, l = w & 31;
        int ql = ((src.get(ValueLayout.JAVA_BYTE, bo + 64L * h + 32L * (k & 1) + l) & 0xff) >>> (4 * (k >>> 1))) & 0xf;
        int qh = ((src.get(ValueLayout.JAVA_BYTE, bo + 128 + 32L * h + l) & 0xff) >>> (2 * k)) & 3;
        return ql | qh << 4;
    }

    /** Column of quad slot {@code s} (0..3) of quad {@code q} within a 32-column block. */
    static int column(int q, int s) {
        return 2 * q + (s & 1) * 16 + (s >>> 1);
    }

    /** Writes groups {@code [g0, g1)} of {@code w}'s repacked form into {@code dst} (which holds the whole matrix). */
    static void repack(WeightMatrix w, MemorySegment dst, int g0, int g1) {
        GgmlType type = w.type();
        MemorySegment src = w.data();
        int rows = w.rows(), cols = w.cols(), nsb = cols / 256;
        long gBytes = Interleaved.groupBytes(type, cols);
        boolean q4 = type == GgmlType.Q4_K;
        for (int g = g0; g < g1; g++) {
            long gOff = g * gBytes;
            dst.asSlice(gOff, gBytes).fill((byte) 0); // padding rows: scales 0, quants 0
            for (int i = 0; i < Interleaved.ROWS; i++) {
                int r = g * Interleaved.ROWS + i;
                if (r >= rows) break;
                long row = r * w.rowBytes();
                for (int sb = 0; sb < nsb; sb++) {
                    long bo = row + (long) sb * type.typeSize;
                    long h = gOff + (long) sb * superBlockBytes(type);
                    if (q4) {
                        dst.set(F32, h + 4L * i, Float.float16ToFloat(src.get(I16, bo)));
                        dst.set(F32, h + 128 + 4L * i, Float.float16ToFloat(src.get(I16, bo + 2)));
                    } else {
                        dst.set(F32, h + 4L * i, Float.float16ToFloat(src.get(I16, bo + 208)));
                    }
                    for (int j = 0; j < 8; j++) {
                        int b = 8 * sb + j;
                        long t = subTile(type, gOff, b);
                        int lanes = q4
                                ? KScales.scale(src, bo + 4, j) | KScales.min(src, bo + 4, j) << 8
                                : (src.get(ValueLayout.JAVA_BYTE, bo + 192 + 2 * j) & 0xff) | src.get(ValueLayout.JAVA_BYTE, bo + 193 + 2 * j) << 8;
                        dst.set(I16, t + 2L * i, (short) lanes);
                        for (int q = 0; q < 8; q++) {
                            int quad = 0, high = 0;
                            for (int s = 0; s < 4; s++) {
                                int v = quant(type, src, row, 32 * b + column(q, s));
                                quad |= (v & 0xf) << (4 * s);
                                high |= (v >>> 4) << (2 * s);
                            }
                            dst.set(I16, t + 64 + 64L * q + 2L * i, (short) quad);
                            if (!q4) {
                                long ho = t + 576 + 64L * (q >>> 1) + 2L * i;
                                dst.set(I16, ho, (short) (dst.get(I16, ho) | high << (8 * (q & 1))));
                            }
                        }
                    }
                }
            }
        }
    }

    /** Row {@code r} of a repacked matrix decoded exactly (the file's decoder's f32 operations, in its order). */
    static void dequantizeRow(GgmlType type, MemorySegment packed, int cols, int r, float[] dst, int off) {
        int i = r % Interleaved.ROWS;
        long g = (r / Interleaved.ROWS) * Interleaved.groupBytes(type, cols);
        for (int b = 0; b < cols / 32; b++) {
            long h = header(type, g, b), t = subTile(type, g, b);
            float d = packed.get(F32, h + 4L * i);
            int lanes = packed.get(I16, t + 2L * i);
            for (int q = 0; q < 8; q++) {
                int quad = packed.get(I16, t + 64 + 64L * q + 2L * i) & 0xffff;
                int high = type == GgmlType.Q6_K ? (packed.get(I16, t + 576 + 64L * (q >>> 1) + 2L * i) & 0xffff) >>> (8 * (q & 1)) : 0;
                for (int s = 0; s < 4; s++) {
                    int c = column(q, s), v = (quad >>> (4 * s)) & 0xf;
                    if (type == GgmlType.Q4_K) {
                        float dl = d * (lanes & 0xff);
                        float ml = packed.get(F32, h + 128 + 4L * i) * ((lanes >>> 8) & 0xff);
                        dst[off + 32 * b + c] = dl * v - ml;
                    } else {
                        int sc = c < 16 ? (byte) lanes : lanes >> 8;
                        float dl = d * sc;
                        dst[off + 32 * b + c] = dl * ((v | ((high >>> (2 * s)) & 3) << 4) - 32);
                    }
                }
            }
        }
    }
}
