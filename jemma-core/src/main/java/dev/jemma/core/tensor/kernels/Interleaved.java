package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The "rows in lanes" layout of Q4_0 and Q8_0 weights that {@link Int8Kernels} read: rows are taken 32 at a time
 * (a group; the last group is padded with zero rows), and for every 32-column block of a group the 32 rows' f16
 * scales come first, then the quants column by column with the 32 rows side by side. One 512-bit load then holds
 * the same column of 32 rows, so a broadcast activation times that vector updates 32 dot products at once and no
 * horizontal sum is ever needed — the formulation that lets 16-bit integer lanes do the work of the int8 dot
 * products the Vector API has no instruction for. Repacking only moves bytes: the quants and scales are the
 * file's own, so results do not depend on the layout.
 *
 * <p>Per (group, block) tile, little-endian:
 * <ul>
 *   <li>Q4_0 ({@value #Q4_TILE} bytes): 32 f16 scales (row order), then 8 "quads" of 32 × 2 bytes: quad q, lane r
 *       holds bytes {@code qs[2q]} and {@code qs[2q+1]} of row r's block, i.e. the nibbles of columns 2q, 2q+16,
 *       2q+1, 2q+17 (from the low bits up);</li>
 *   <li>Q5_0 ({@value #Q5_TILE} bytes): 32 f16 scales, then 11 vectors of 32 16-bit lanes holding three 5-bit values
 *       each (bits 0, 5, 10): vectors 0..4 columns 3k..3k+2 (0..14), vector 5 columns 15 and 31, vectors 6..10 columns
 *       16 + 3(k − 6) .. +2 (16..30) — so a value costs a shift and a mask, as a Q4_0 nibble does, and the columns of
 *       each half-block stay apart ({@link Int8Kernels#q5} sums the halves separately);</li>
 *   <li>F16 ({@value #F16_TILE} bytes): 32 columns of 32 f16 values, rows in order (no scales);</li>
 *   <li>Q8_0 ({@value #Q8_TILE} bytes): 32 f16 scales (row order), then 32 columns of 32 bytes; within a column,
 *       byte 2i is row i and byte 2i+1 is row 16+i, so that the even 16-bit lanes of a widened column are rows
 *       0..15 and the odd ones rows 16..31.</li>
 *   <li>Q4_K and Q6_K: super-block tiles described in {@link KQuantInterleaved}.</li>
 * </ul>
 * Copies persist in {@link dev.jemma.core.repack.RepackCache} files: any change to a layout must bump its format version.
 */
public final class Interleaved {
    public static final int ROWS = 32;
    public static final int Q4_TILE = 64 + 8 * 64;
    public static final int Q8_TILE = 64 + 32 * 32;
    public static final int F16_TILE = 32 * 64;
    public static final int Q5_TILE = 64 + 11 * 64;

    private Interleaved() {
    }

    /** Whether a matrix of this type and width can be repacked (and so run on the int8 kernels). */
    public static boolean supports(GgmlType type, int cols) {
        if (KQuantInterleaved.isK(type)) return cols % 256 == 0 && cols > 0;
        return (type == GgmlType.Q4_0 || type == GgmlType.Q5_0 || type == GgmlType.Q8_0 || type == GgmlType.F16)
                && cols % 32 == 0 && cols > 0;
    }

    /** Whether single-token steps over this type's copy use int8 activations ({@link Int8Kernels}); F16 keeps f32. */
    public static boolean int8Activations(GgmlType type) {
        return type == GgmlType.Q4_0 || type == GgmlType.Q5_0 || type == GgmlType.Q8_0 || KQuantInterleaved.isK(type);
    }

    /** Groups per work chunk: about 256 KB of a matrix's copy, which stays in L2 while a batch passes over it. */
    static int groupsPerChunk(GgmlType type, int cols) {
        return (int) Math.max(1, (256 << 10) / groupBytes(type, cols));
    }

    public static int groups(int rows) {
        return (rows + ROWS - 1) / ROWS;
    }

    static int tileBytes(GgmlType type) {
        return switch (type) {
            case Q4_0 -> Q4_TILE;
            case Q8_0 -> Q8_TILE;
            case F16 -> F16_TILE;
            case Q5_0 -> Q5_TILE;
            default -> throw new IllegalArgumentException("no interleaved layout for " + type);
        };
    }

    /** Bytes of one group (32 rows × all columns). */
    public static long groupBytes(GgmlType type, int cols) {
        if (KQuantInterleaved.isK(type)) return (long) KQuantInterleaved.superBlockBytes(type) * (cols / 256);
        return (long) tileBytes(type) * (cols / 32);
    }

    /** Bytes the repacked form of {@code w} takes. */
    public static long byteSize(GgmlType type, int rows, int cols) {
        return groupBytes(type, cols) * groups(rows);
    }

    /**
     * Row {@code r} of a repacked matrix decoded exactly to f32 (what {@link WeightMatrix#dequantizeRow} gives from the
     * original rows): lets an embedding lookup read the copy the output projection keeps resident anyway.
     */
    public static void dequantizeRow(GgmlType type, MemorySegment packed, int cols, int r, float[] dst, int off) {
        if (KQuantInterleaved.isK(type)) {
            KQuantInterleaved.dequantizeRow(type, packed, cols, r, dst, off);
            return;
        }
        int nb = cols / 32, tile = tileBytes(type), i = r % ROWS;
        long g = (r / ROWS) * groupBytes(type, cols);
        for (int b = 0; b < nb; b++) {
            long t = g + (long) b * tile;
            if (type == GgmlType.F16) {
                for (int c = 0; c < 32; c++) dst[off + 32 * b + c] = Float.float16ToFloat(packed.get(F16, t + 64L * c + 2L * i));
                continue;
            }
            float d = Float.float16ToFloat(packed.get(F16, t + 2L * i));
            int o = off + 32 * b;
            if (type == GgmlType.Q5_0) {
                for (int c = 0; c < 32; c++) {
                    int lanes = packed.get(F16, t + 64 + 64L * q5Vector(c) + 2L * i) & 0xffff;
                    dst[o + c] = (((lanes >>> (5 * q5Slot(c))) & 31) - 16) * d;
                }
            } else if (type == GgmlType.Q4_0) {
                for (int q = 0; q < 8; q++) {
                    int lo = packed.get(ValueLayout.JAVA_BYTE, t + 64 + 64L * q + 2L * i) & 0xff;
                    int hi = packed.get(ValueLayout.JAVA_BYTE, t + 64 + 64L * q + 2L * i + 1) & 0xff;
                    dst[o + 2 * q] = ((lo & 0xF) - 8) * d;
                    dst[o + 2 * q + 16] = ((lo >> 4) - 8) * d;
                    dst[o + 2 * q + 1] = ((hi & 0xF) - 8) * d;
                    dst[o + 2 * q + 17] = ((hi >> 4) - 8) * d;
                }
            } else {
                int lane = i < 16 ? 2 * i : 2 * (i - 16) + 1;
                for (int c = 0; c < 32; c++) dst[o + c] = packed.get(ValueLayout.JAVA_BYTE, t + 64 + 32L * c + lane) * d;
            }
        }
    }

    /** The Q5_0 vector (0..10) holding column {@code c} of a block. */
    static int q5Vector(int c) {
        return c < 15 ? c / 3 : c == 15 || c == 31 ? 5 : 6 + (c - 16) / 3;
    }

    /** The column held in {@code slot} (0..2) of Q5_0 vector {@code k} (0..10), inverting the two above (vector 5 has no slot 2). */
    static int q5Column(int k, int slot) {
        if (k == 5) return slot == 0 ? 15 : 31;
        return (k < 5 ? 3 * k : 16 + 3 * (k - 6)) + slot;
    }

    /** The slot (bits 5·slot) of column {@code c} within its Q5_0 vector lane. */
    static int q5Slot(int c) {
        return c < 15 ? c % 3 : c == 15 ? 0 : c == 31 ? 1 : (c - 16) % 3;
    }

    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Writes groups {@code [g0, g1)} of {@code w}'s repacked form into {@code dst} (which holds the whole matrix). */
    public static void repack(WeightMatrix w, MemorySegment dst, int g0, int g1) {
        if (KQuantInterleaved.isK(w.type())) {
            KQuantInterleaved.repack(w, dst, g0, g1);
            return;
        }
        MemorySegment src = w.data();
        int cols = w.cols(), rows = w.rows(), nb = cols / 32;
        long rowBytes = w.rowBytes();
        long gBytes = groupBytes(w.type(), cols);
        boolean q4 = w.type() == GgmlType.Q4_0, f16 = w.type() == GgmlType.F16, q5 = w.type() == GgmlType.Q5_0;
        int tile = tileBytes(w.type());
        int srcBlock = q4 ? 18 : f16 ? 64 : q5 ? 22 : 34;
        for (int g = g0; g < g1; g++) {
            long gOff = g * gBytes;
            dst.asSlice(gOff, gBytes).fill((byte) 0); // padding rows: scale 0, quants 0
            for (int i = 0; i < ROWS; i++) {
                int r = g * ROWS + i;
                if (r >= rows) break;
                long rOff = r * rowBytes;
                for (int b = 0; b < nb; b++) {
                    long s = rOff + (long) b * srcBlock;
                    long t = gOff + (long) b * tile;
                    if (f16) {
                        for (int c = 0; c < 32; c++) dst.set(F16, t + 64L * c + 2L * i, src.get(F16, s + 2L * c));
                        continue;
                    }
                    dst.set(ValueLayout.JAVA_BYTE, t + 2 * i, src.get(ValueLayout.JAVA_BYTE, s));
                    dst.set(ValueLayout.JAVA_BYTE, t + 2 * i + 1, src.get(ValueLayout.JAVA_BYTE, s + 1));
                    if (q5) {
                        int qh = src.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), s + 2);
                        for (int c = 0; c < 32; c++) {
                            int nib = (src.get(ValueLayout.JAVA_BYTE, s + 6 + (c & 15)) & 0xff) >>> (c < 16 ? 0 : 4);
                            int v = (nib & 0xF) | ((qh >>> c) & 1) << 4;
                            long o = t + 64 + 64L * q5Vector(c) + 2L * i;
                            dst.set(F16, o, (short) (dst.get(F16, o) | v << (5 * q5Slot(c))));
                        }
                    } else if (q4) {
                        for (int q = 0; q < 8; q++) {
                            long o = t + 64 + 64L * q + 2L * i;
                            dst.set(ValueLayout.JAVA_BYTE, o, src.get(ValueLayout.JAVA_BYTE, s + 2 + 2 * q));
                            dst.set(ValueLayout.JAVA_BYTE, o + 1, src.get(ValueLayout.JAVA_BYTE, s + 3 + 2 * q));
                        }
                    } else {
                        int lane = i < 16 ? 2 * i : 2 * (i - 16) + 1;
                        for (int c = 0; c < 32; c++) {
                            dst.set(ValueLayout.JAVA_BYTE, t + 64 + 32L * c + lane, src.get(ValueLayout.JAVA_BYTE, s + 2 + c));
                        }
                    }
                }
            }
        }
    }
}
