package dev.jemma.tools.quant;

import dev.jemma.core.tensor.GgmlType;

/** Test-side decoder of Q4_K/Q5_K/Q6_K blocks written from the block layouts, to measure quantizer error. */
final class KDequant {
    private KDequant() {
    }

    private static float f16(byte[] b, int o) {
        return Float.float16ToFloat((short) ((b[o] & 0xff) | (b[o + 1] << 8)));
    }

    static float[] dequantize(GgmlType t, byte[] q, int n) {
        float[] y = new float[n];
        for (int blk = 0; blk < n / 256; blk++) {
            int o = blk * t.typeSize, yo = blk * 256;
            switch (t) {
                case Q4_K, Q5_K -> {
                    float d = f16(q, o), dmin = f16(q, o + 2);
                    int sc = o + 4;
                    for (int j = 0; j < 8; j++) {
                        int s, m;
                        if (j < 4) {
                            s = q[sc + j] & 63;
                            m = q[sc + j + 4] & 63;
                        } else {
                            s = (q[sc + j + 4] & 0xF) | (((q[sc + j - 4] & 0xff) >> 6) << 4);
                            m = ((q[sc + j + 4] & 0xff) >> 4) | (((q[sc + j] & 0xff) >> 6) << 4);
                        }
                        // weights 64k..64k+31 are low nibbles of bytes 32k.., 64k+32.. the high nibbles
                        for (int i = 0; i < 32; i++) {
                            int byteIdx = (j / 2) * 32 + i;
                            int lq;
                            if (t == GgmlType.Q4_K) {
                                int v = q[o + 16 + byteIdx] & 0xff;
                                lq = (j % 2 == 0) ? v & 0xF : v >> 4;
                            } else {
                                int v = q[o + 48 + byteIdx] & 0xff;
                                lq = (j % 2 == 0) ? v & 0xF : v >> 4;
                                int h = (q[o + 16 + i] & 0xff) >> j & 1;
                                lq |= h << 4;
                            }
                            y[yo + 32 * j + i] = d * s * lq - dmin * m;
                        }
                    }
                }
                case Q6_K -> {
                    float d = f16(q, o + 208);
                    for (int half = 0; half < 2; half++) {
                        int ql = o + 64 * half, qh = o + 128 + 32 * half;
                        for (int l = 0; l < 32; l++) {
                            int h = q[qh + l] & 0xff;
                            int q1 = ((q[ql + l] & 0xF) | ((h & 3) << 4)) - 32;
                            int q2 = ((q[ql + l + 32] & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                            int q3 = (((q[ql + l] & 0xff) >> 4) | (((h >> 4) & 3) << 4)) - 32;
                            int q4 = (((q[ql + l + 32] & 0xff) >> 4) | (((h >> 6) & 3) << 4)) - 32;
                            int base = yo + 128 * half;
                            y[base + l] = d * q[o + 192 + 8 * half + l / 16] * q1;
                            y[base + l + 32] = d * q[o + 192 + 8 * half + l / 16 + 2] * q2;
                            y[base + l + 64] = d * q[o + 192 + 8 * half + l / 16 + 4] * q3;
                            y[base + l + 96] = d * q[o + 192 + 8 * half + l / 16 + 6] * q4;
                        }
                    }
                }
                default -> throw new IllegalArgumentException(t.toString());
            }
        }
        return y;
    }
}
