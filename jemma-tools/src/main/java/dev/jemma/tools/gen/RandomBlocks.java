package dev.jemma.tools.gen;

import dev.jemma.core.tensor.GgmlType;

import java.util.Random;

/**
 * Writes random but well-formed ggml blocks whose dequantized weights are roughly N(0, std): random quant codes
 * (nibbles, int8, 6-bit codes …) with block scales chosen from the code distribution's spread, so a model made of
 * them produces finite, unremarkable activations. Nothing is quantized from floats: that keeps a multi-gigabyte
 * model's generation at disk speed. Float types draw from a 65 536-entry table of Gaussian samples.
 *
 * <p>Not thread-safe; one instance per tensor stream. Deterministic for a given seed.
 */
final class RandomBlocks {
    private static final int TABLE_BITS = 16;

    private final GgmlType type;
    private final float std;
    private long state;
    private final short[] halfTable;
    private final float[] floatTable;

    RandomBlocks(GgmlType type, float std, long seed) {
        if (!isWritable(type)) throw new IllegalArgumentException("cannot write random " + type + " blocks");
        this.type = type;
        this.std = std;
        this.state = seed ^ 0x9E3779B97F4A7C15L;
        float[] gauss = null;
        if (!type.isQuantized()) {
            Random r = new Random(seed);
            gauss = new float[1 << TABLE_BITS];
            for (int i = 0; i < gauss.length; i++) gauss[i] = (float) (r.nextGaussian() * std);
        }
        floatTable = type == GgmlType.F32 ? gauss : null;
        if (type == GgmlType.F16 || type == GgmlType.BF16) {
            halfTable = new short[gauss.length];
            for (int i = 0; i < gauss.length; i++) {
                halfTable[i] = type == GgmlType.F16 ? Float.floatToFloat16(gauss[i]) : toBf16(gauss[i]);
            }
        } else {
            halfTable = null;
        }
    }

    /** Types this class can produce. */
    static boolean isWritable(GgmlType t) {
        return switch (t) {
            case F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K -> true;
            default -> false;
        };
    }

    private static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        bits += 0x7FFF + ((bits >>> 16) & 1); // round to nearest even
        return (short) (bits >>> 16);
    }

    /** splitmix64: fast, good enough for weights nobody will train on. */
    private long next() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, 1). */
    private float unit() {
        return (next() >>> 40) * 0x1.0p-24f;
    }

    /** A block scale: {@code base} jittered by ±20 % so blocks differ like real ones. */
    private float jitter(float base) {
        return base * (0.8f + 0.4f * unit());
    }

    /**
     * A signed block scale for the symmetric types (Q4_0, Q5_0, Q8_0, Q3_K, Q6_K): uniform codes have mean −0.5, so a random
     * sign keeps the weights' mean at zero.
     */
    private float signedJitter(float base) {
        long r = next();
        float j = base * (0.8f + 0.4f * ((r >>> 40) * 0x1.0p-24f));
        return (r & 1) == 0 ? j : -j;
    }

    private void randomBytes(byte[] b, int off, int n) {
        int i = 0;
        for (; i + 8 <= n; i += 8) {
            long r = next();
            for (int k = 0; k < 8; k++) b[off + i + k] = (byte) (r >>> (8 * k));
        }
        if (i < n) {
            long r = next();
            for (int k = 0; i < n; i++, k++) b[off + i] = (byte) (r >>> (8 * k));
        }
    }

    private static void putShort(byte[] b, int off, short v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >>> 8);
    }

    private static void putHalf(byte[] b, int off, float v) {
        putShort(b, off, Float.floatToFloat16(v));
    }

    private static void putFloat(byte[] b, int off, float v) {
        int x = Float.floatToRawIntBits(v);
        b[off] = (byte) x;
        b[off + 1] = (byte) (x >>> 8);
        b[off + 2] = (byte) (x >>> 16);
        b[off + 3] = (byte) (x >>> 24);
    }

    /**
     * Fills {@code b[off ..]} with {@code blocks} blocks ({@code blocks × typeSize} bytes; for float types a block is
     * one element).
     */
    void fill(byte[] b, int off, int blocks) {
        int ts = type.typeSize;
        switch (type) {
            case F32 -> {
                for (int i = 0; i < blocks; i += 4) {
                    long r = next();
                    for (int k = 0; k < 4 && i + k < blocks; k++) {
                        putFloat(b, off + 4 * (i + k), floatTable[(int) (r >>> (16 * k)) & 0xFFFF]);
                    }
                }
            }
            case F16, BF16 -> {
                for (int i = 0; i < blocks; i += 4) {
                    long r = next();
                    for (int k = 0; k < 4 && i + k < blocks; k++) {
                        putShort(b, off + 2 * (i + k), halfTable[(int) (r >>> (16 * k)) & 0xFFFF]);
                    }
                }
            }
            // Code spreads: uniform 4-bit codes have sd 4.61, 5-bit 9.23, 8-bit 73.9, 6-bit (Q6_K) 18.5, 2-bit 1.12,
            // 3-bit 2.29. Each scale is std / spread (× the sub-block scale where there is one).
            case Q4_0 -> {
                for (int i = 0; i < blocks; i++, off += ts) {
                    putHalf(b, off, signedJitter(std / 4.61f));
                    randomBytes(b, off + 2, 16);
                }
            }
            case Q4_1 -> {
                for (int i = 0; i < blocks; i++, off += ts) {
                    float d = jitter(std / 4.61f);
                    putHalf(b, off, d);
                    putHalf(b, off + 2, -7.5f * d);
                    randomBytes(b, off + 4, 16);
                }
            }
            case Q5_0 -> {
                for (int i = 0; i < blocks; i++, off += ts) {
                    putHalf(b, off, signedJitter(std / 9.23f));
                    randomBytes(b, off + 2, 20);
                }
            }
            case Q5_1 -> {
                for (int i = 0; i < blocks; i++, off += ts) {
                    float d = jitter(std / 9.23f);
                    putHalf(b, off, d);
                    putHalf(b, off + 2, -15.5f * d);
                    randomBytes(b, off + 4, 20);
                }
            }
            case Q8_0 -> {
                for (int i = 0; i < blocks; i++, off += ts) {
                    putHalf(b, off, signedJitter(std / 73.9f));
                    randomBytes(b, off + 2, 32);
                }
            }
            case Q2_K -> {
                // scales[16] (low nibble scale 8..15, high nibble min 12), qs[64], d, dmin
                for (int i = 0; i < blocks; i++, off += ts) {
                    for (int j = 0; j < 16; j++) b[off + j] = (byte) ((8 + (int) (unit() * 8)) | (12 << 4));
                    randomBytes(b, off + 16, 64);
                    float d = jitter(std / (11.5f * 1.12f));
                    putHalf(b, off + 80, d);
                    putHalf(b, off + 82, d * 11.5f * 1.5f / 12f);
                }
            }
            case Q3_K -> {
                // hmask[32], qs[64], scales[12] (sixteen 6-bit codes, all 56 → scale 24), d
                for (int i = 0; i < blocks; i++, off += ts) {
                    randomBytes(b, off, 96);
                    for (int j = 0; j < 8; j++) b[off + 96 + j] = (byte) 0x88;
                    for (int j = 8; j < 12; j++) b[off + 96 + j] = (byte) 0xFF;
                    putHalf(b, off + 108, signedJitter(std / (24f * 2.29f)));
                }
            }
            case Q4_K, Q5_K -> {
                // d, dmin, scales[12] (eight 6-bit scales 40..63 and mins 63), [qh[32]], qs[128]
                boolean five = type == GgmlType.Q5_K;
                float spread = five ? 9.23f : 4.61f, mean = five ? 15.5f : 7.5f;
                int[] sc = new int[8];
                for (int i = 0; i < blocks; i++, off += ts) {
                    for (int j = 0; j < 8; j++) sc[j] = 40 + (int) (unit() * 24);
                    float d = jitter(std / (51.5f * spread));
                    putHalf(b, off, d);
                    putHalf(b, off + 2, d * 51.5f * mean / 63f);
                    packScalesK(b, off + 4, sc, 63);
                    randomBytes(b, off + 16, five ? 160 : 128);
                }
            }
            case Q6_K -> {
                // ql[128], qh[64], scales[16] int8 24..40, d
                for (int i = 0; i < blocks; i++, off += ts) {
                    randomBytes(b, off, 192);
                    for (int j = 0; j < 16; j++) b[off + 192 + j] = (byte) (24 + (int) (unit() * 17));
                    putHalf(b, off + 208, signedJitter(std / (32f * 18.5f)));
                }
            }
            default -> throw new AssertionError(type);
        }
    }

    /** The 12-byte packing of eight 6-bit scales and mins used by Q4_K and Q5_K. */
    private static void packScalesK(byte[] b, int off, int[] sc, int min) {
        for (int j = 0; j < 4; j++) {
            b[off + j] = (byte) ((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
            b[off + j + 4] = (byte) ((min & 63) | ((min >> 4) << 6));
            b[off + j + 8] = (byte) ((sc[j + 4] & 0xF) | ((min & 0xF) << 4));
        }
    }
}
