package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.formats.KScales;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The {@link Interleaved} "rows in lanes" layout for the K-quants Q4_K, Q5_K and Q6_K. A group's 32 rows are stored one
 * 256-column super-block at a time: a header with the 32 rows' super-block scales, then 8 sub-tiles of 32 columns.
 * Q4_K sub-tiles keep their quants in Q4_0's quad arrangement (quad q, lane r: the 4-bit values of columns 2q, 2q+16,
 * 2q+1, 2q+17 from the low bits up), so the int8 kernels' inner loop is Q4_0's; only the per-block scale arithmetic
 * differs. The integers and scales are the file's own (repacking moves bits, it does not requantize).
 *
 * <ul>
 *   <li>Q4_K super-block ({@value #Q4K_SB} bytes): 32 × d, 32 × dmin (f32: the f16 values widened, so that the
 *       kernels load them instead of converting — fewer Vector API calls keep C2 within its inlining budget; with
 *       f16 conversions in the kernel C2 left some unintrinsified and Q4_K ran at 8–27 instead of 28 G/s), then per
 *       sub-tile j: 32 16-bit lanes {@code sc | m << 8} (the 6-bit scale and min of sub-block j), then 8 quads of
 *       nibbles (w = d·sc·q − dmin·m);</li>
 *   <li>Q5_K super-block ({@value #Q5K_SB} bytes): header as Q4_K; per sub-tile the scale/min lanes, then the
 *       5-bit values in Q5_0's arrangement of three per 16-bit lane ({@link Interleaved});</li>
 *   <li>Q6_K super-block ({@value #Q6K_SB} bytes, as in the file plus the widened d): 32 × d (f32), then per
 *       sub-tile j: 32 16-bit lanes {@code sc[2j] & 0xff | sc[2j+1] << 8} (int8 scales of its two 16-column sub-blocks),
 *       then for each 8 columns 8k..8k+7 three vectors L0, L1, L2 holding the 8 six-bit values in 48 bits: L0 = a | b << 6
 *       | (c & 15) << 12, L1 = d | e << 6 | (f & 15) << 12, L2 = g | h << 6 | (c >> 4) << 12 | (f >> 4) << 14 — a value
 *       costs 1 to 4 operations (average 2.1) instead of the file's nibble-plus-high-pair 4 to 5 (w = d·sc·(q − 32)).</li>
 * </ul>
 */
public final class KQuantInterleaved {
    /** Bytes of a Q4_K sub-tile (32 rows × 32 columns): scale/min lanes, then quads. */
    static final int Q4K_SUB = 64 + 8 * 64;
    static final int Q4K_HEADER = 256;
    public static final int Q4K_SB = Q4K_HEADER + 8 * Q4K_SUB;
    /** Bytes of a Q6_K sub-tile: scale lanes, then 4 × 3 vectors of packed six-bit values. */
    static final int Q6K_SUB = 64 + 12 * 64;
    static final int Q6K_HEADER = 128;
    public static final int Q6K_SB = Q6K_HEADER + 8 * Q6K_SUB;
    /** Bytes of a Q5_K sub-tile: scale/min lanes, then Q5_0's 11 vectors of 5-bit triples. */
    static final int Q5K_SUB = 64 + 11 * 64;
    static final int Q5K_HEADER = 256;
    public static final int Q5K_SB = Q5K_HEADER + 8 * Q5K_SUB;

    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private KQuantInterleaved() {
    }

    static boolean isK(GgmlType type) {
        return type == GgmlType.Q4_K || type == GgmlType.Q5_K || type == GgmlType.Q6_K;
    }

    static int superBlockBytes(GgmlType type) {
        return type == GgmlType.Q4_K ? Q4K_SB : type == GgmlType.Q5_K ? Q5K_SB : Q6K_SB;
    }

    private static int headerBytes(GgmlType type) {
        return type == GgmlType.Q4_K ? Q4K_HEADER : type == GgmlType.Q5_K ? Q5K_HEADER : Q6K_HEADER;
    }

    private static int subTileBytes(GgmlType type) {
        return type == GgmlType.Q4_K ? Q4K_SUB : type == GgmlType.Q5_K ? Q5K_SUB : Q6K_SUB;
    }

    /** Offset of 32-column block {@code b}'s sub-tile within a group starting at {@code g}. */
    static long subTile(GgmlType type, long g, int b) {
        return g + (long) (b >>> 3) * superBlockBytes(type) + headerBytes(type) + (long) (b & 7) * subTileBytes(type);
    }

    /** Offset of the super-block header holding 32-column block {@code b}. */
    static long header(GgmlType type, long g, int b) {
        return g + (long) (b >>> 3) * superBlockBytes(type);
    }

    /** The 256 unsigned 4-, 5- or 6-bit quants of one Q4_K / Q5_K / Q6_K super-block, {@code blk} holding its bytes. */
    static void unpack(GgmlType type, byte[] blk, int[] q) {
        if (type == GgmlType.Q4_K || type == GgmlType.Q5_K) {
            boolean q5 = type == GgmlType.Q5_K;
            for (int j = 0; j < 8; j++) {
                int qo = (q5 ? 48 : 16) + 32 * (j >>> 1), shift = 4 * (j & 1);
                for (int l = 0; l < 32; l++) {
                    int v = ((blk[qo + l] & 0xff) >>> shift) & 0xf;
                    q[32 * j + l] = q5 ? v | (((blk[16 + l] & 0xff) >>> j) & 1) << 4 : v;
                }
            }
            return;
        }
        for (int w = 0; w < 256; w++) {
            int h = w >>> 7, k = (w >>> 5) & 3, l = w & 31;
            int ql = ((blk[64 * h + 32 * (k & 1) + l] & 0xff) >>> (4 * (k >>> 1))) & 0xf;
            int qh = ((blk[128 + 32 * h + l] & 0xff) >>> (2 * k)) & 3;
            q[w] = ql | qh << 4;
        }
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
        boolean q4 = type == GgmlType.Q4_K || type == GgmlType.Q5_K, q5 = type == GgmlType.Q5_K;
        byte[] blk = new byte[(int) type.typeSize];
        int[] q = new int[256];
        for (int g = g0; g < g1; g++) {
            long gOff = g * gBytes;
            dst.asSlice(gOff, gBytes).fill((byte) 0); // padding rows: scales 0, quants 0
            for (int i = 0; i < Interleaved.ROWS; i++) {
                int r = g * Interleaved.ROWS + i;
                if (r >= rows) break;
                for (int sb = 0; sb < nsb; sb++) {
                    long bo = r * w.rowBytes() + (long) sb * type.typeSize;
                    MemorySegment.copy(src, ValueLayout.JAVA_BYTE, bo, blk, 0, blk.length);
                    unpack(type, blk, q);
                    long h = gOff + (long) sb * superBlockBytes(type);
                    if (q4) {
                        dst.set(F32, h + 4L * i, Float.float16ToFloat(src.get(I16, bo)));
                        dst.set(F32, h + 128 + 4L * i, Float.float16ToFloat(src.get(I16, bo + 2)));
                    } else {
                        dst.set(F32, h + 4L * i, Float.float16ToFloat(src.get(I16, bo + 208)));
                    }
                    for (int j = 0; j < 8; j++) {
                        long t = subTile(type, gOff, 8 * sb + j);
                        int lanes = q4
                                ? KScales.scale(src, bo + 4, j) | KScales.min(src, bo + 4, j) << 8
                                : (blk[192 + 2 * j] & 0xff) | blk[193 + 2 * j] << 8;
                        dst.set(I16, t + 2L * i, (short) lanes);
                        int c0 = 32 * j;
                        if (q5) {
                            for (int c = 0; c < 32; c++) {
                                long o = t + 64 + 64L * Interleaved.q5Vector(c) + 2L * i;
                                dst.set(I16, o, (short) (dst.get(I16, o) | q[c0 + c] << (5 * Interleaved.q5Slot(c))));
                            }
                        } else if (q4) {
                            for (int qd = 0; qd < 8; qd++) {
                                int c = c0 + 2 * qd;
                                int quad = q[c] | q[c + 16] << 4 | q[c + 1] << 8 | q[c + 17] << 12;
                                dst.set(I16, t + 64 + 64L * qd + 2L * i, (short) quad);
                            }
                        } else {
                            for (int k = 0; k < 4; k++) {
                                int c = c0 + 8 * k;
                                long o = t + 64 + 192L * k + 2L * i;
                                dst.set(I16, o, (short) (q[c] | q[c + 1] << 6 | (q[c + 2] & 15) << 12));
                                dst.set(I16, o + 64, (short) (q[c + 3] | q[c + 4] << 6 | (q[c + 5] & 15) << 12));
                                dst.set(I16, o + 128, (short) (q[c + 6] | q[c + 7] << 6 | (q[c + 2] >>> 4) << 12 | (q[c + 5] >>> 4) << 14));
                            }
                        }
                    }
                }
            }
        }
    }

    /** Lane i of the Q6_K vector holding bits of column c's value: vector 3·(c / 8) + {0, 1, 2}. */
    private static long q6Lane(long t, int i, int c, int vector) {
        return t + 64 + 64L * (3 * (c >>> 3) + vector) + 2L * i;
    }

    /** The six-bit value of column {@code c} (0..31) for row lane {@code i} of the Q6_K sub-tile at {@code t}. */
    static int q6Get(MemorySegment packed, long t, int i, int c) {
        int l0 = packed.get(I16, q6Lane(t, i, c, 0)) & 0xffff, l1 = packed.get(I16, q6Lane(t, i, c, 1)) & 0xffff;
        int l2 = packed.get(I16, q6Lane(t, i, c, 2)) & 0xffff;
        return switch (c & 7) {
            case 0, 1 -> (l0 >>> (6 * (c & 7))) & 63;
            case 2 -> l0 >>> 12 | ((l2 >>> 12) & 3) << 4;
            case 3, 4 -> (l1 >>> (6 * ((c & 7) - 3))) & 63;
            case 5 -> l1 >>> 12 | (l2 >>> 14) << 4;
            default -> (l2 >>> (6 * ((c & 7) - 6))) & 63;
        };
    }

    /** Row {@code r} of a repacked matrix decoded exactly (the file's decoder's f32 operations, in its order). */
    static void dequantizeRow(GgmlType type, MemorySegment packed, int cols, int r, float[] dst, int off) {
        int i = r % Interleaved.ROWS;
        long g = (r / Interleaved.ROWS) * Interleaved.groupBytes(type, cols);
        for (int b = 0; b < cols / 32; b++) {
            long h = header(type, g, b), t = subTile(type, g, b);
            float d = packed.get(F32, h + 4L * i);
            int lanes = packed.get(I16, t + 2L * i);
            if (type == GgmlType.Q6_K) {
                for (int c = 0; c < 32; c++) {
                    int sc = c < 16 ? (byte) lanes : lanes >> 8;
                    float dl = d * sc;
                    dst[off + 32 * b + c] = dl * (q6Get(packed, t, i, c) - 32);
                }
                continue;
            }
            float dmin = packed.get(F32, h + 128 + 4L * i);
            if (type == GgmlType.Q5_K) {
                for (int c = 0; c < 32; c++) {
                    int v = ((packed.get(I16, t + 64 + 64L * Interleaved.q5Vector(c) + 2L * i) & 0xffff) >>> (5 * Interleaved.q5Slot(c))) & 31;
                    float dl = d * (lanes & 0xff);
                    float ml = dmin * ((lanes >>> 8) & 0xff);
                    dst[off + 32 * b + c] = dl * v - ml;
                }
                continue;
            }
            for (int q = 0; q < 8; q++) {
                int quad = packed.get(I16, t + 64 + 64L * q + 2L * i) & 0xffff;
                for (int s = 0; s < 4; s++) {
                    float dl = d * (lanes & 0xff);
                    float ml = dmin * ((lanes >>> 8) & 0xff);
                    dst[off + 32 * b + column(q, s)] = dl * ((quad >>> (4 * s)) & 0xf) - ml;
                }
            }
        }
    }
}
