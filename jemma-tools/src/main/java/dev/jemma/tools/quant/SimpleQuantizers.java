package dev.jemma.tools.quant;

import dev.jemma.core.tensor.GgmlType;

/**
 * Quantizers for the unquantized storage types and the 32-weight block formats (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1).
 * Each follows ggml's reference rule step by step in f32 arithmetic (Java's float operations round exactly like
 * the scalar SSE code the reference compiles to), which is what makes the blocks identical to gguf-py's.
 */
final class SimpleQuantizers {
    private SimpleQuantizers() {
    }

    static void putF16(byte[] dst, int off, float v) {
        short h = Float.floatToFloat16(v); // round to nearest even, as ggml's fp32→fp16
        dst[off] = (byte) h;
        dst[off + 1] = (byte) (h >>> 8);
    }

    /** ggml's round-to-nearest-even bf16 conversion, NaNs forced quiet (ggml_compute_fp32_to_bf16). */
    static short toBf16(float v) {
        int u = Float.floatToRawIntBits(v);
        if ((u & 0x7fffffff) > 0x7f800000) return (short) ((u >>> 16) | 64);
        return (short) ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16);
    }

    /** C's roundf: halves away from zero (computed in double, where |v| + 0.5 is exact). */
    static int roundf(float v) {
        return (int) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }

    static final class F32 implements BlockQuantizer {
        public GgmlType type() {
            return GgmlType.F32;
        }

        public void quantize(float[] src, int so, int n, byte[] dst, int d) {
            for (int i = 0; i < n; i++) {
                int u = Float.floatToRawIntBits(src[so + i]);
                dst[d++] = (byte) u;
                dst[d++] = (byte) (u >>> 8);
                dst[d++] = (byte) (u >>> 16);
                dst[d++] = (byte) (u >>> 24);
            }
        }
    }

    static final class F16 implements BlockQuantizer {
        public GgmlType type() {
            return GgmlType.F16;
        }

        public void quantize(float[] src, int so, int n, byte[] dst, int d) {
            for (int i = 0; i < n; i++) putF16(dst, d + 2 * i, src[so + i]);
        }
    }

    static final class BF16 implements BlockQuantizer {
        public GgmlType type() {
            return GgmlType.BF16;
        }

        public void quantize(float[] src, int so, int n, byte[] dst, int d) {
            for (int i = 0; i < n; i++) {
                short h = toBf16(src[so + i]);
                dst[d + 2 * i] = (byte) h;
                dst[d + 2 * i + 1] = (byte) (h >>> 8);
            }
        }
    }

    /** Q8_0: d = amax/127, q = roundf(x/d). */
    static final class Q8_0 implements BlockQuantizer {
        public GgmlType type() {
            return GgmlType.Q8_0;
        }

        public void quantize(float[] x, int so, int n, byte[] dst, int d) {
            for (int b = 0; b < n / 32; b++, so += 32, d += 34) {
                float amax = 0;
                for (int j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[so + j]));
                float scale = amax / 127;
                float id = scale != 0 ? 1.0f / scale : 0.0f;
                putF16(dst, d, scale);
                for (int j = 0; j < 32; j++) dst[d + 2 + j] = (byte) roundf(x[so + j] * id);
            }
        }
    }

    /** The signed value of largest magnitude (the first one on ties), as ggml's Q4_0/Q5_0 take it. */
    private static float signedMax(float[] x, int so) {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++) {
            float v = x[so + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    /** Q4_0: d = max/−8 (max = signed value of largest magnitude), q = min(15, trunc(x/d + 8.5)). */
    static final class Q4_0 implements BlockQuantizer {
        public GgmlType type() {
            return GgmlType.Q4_0;
        }

        public void quantize(float[] x, int so, int n, byte[] dst, int d) {
            for (int b = 0; b < n / 32; b++, so += 32, d += 18) {
                float scale = signedMax(x, so) / -8;
                float id = scale != 0 ? 1.0f / scale : 0.0f;
                putF16(dst, d, scale);
                for (int j = 0; j < 16; j++) {
                    float x0 = x[so + j] * id, x1 = x[so + 16 + j] * id;
                    int q0 = Math.min(15, (int) (x0 + 8.5f)), q1 = Math.min(15, (int) (x1 + 8.5f));
                    dst[d + 2 + j] = (byte) (q0 | (q1 << 4));
                }
            }
        }
    }

    /** Q4_1: d = (max − min)/15, m = min, q = min(15, trunc((x − min)/d + 0.5)). */
    static final class Q4_1 implements BlockQuantizer {
        public GgmlType type() {
            return GgmlType.Q4_1;
        }

        public void quantize(float[] x, int so, int n, byte[] dst, int d) {
            for (int b = 0; b < n / 32; b++, so += 32, d += 20) {
                float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
                for (int j = 0; j < 32; j++) { // strict comparisons as ggml: decides −0 vs +0 for m
                    if (x[so + j] < min) min = x[so + j];
                    if (x[so + j] > max) max = x[so + j];
                }
                float scale = (max - min) / 15;
                float id = scale != 0 ? 1.0f / scale : 0.0f;
                putF16(dst, d, scale);
                putF16(dst, d + 2, min);
                for (int j = 0; j < 16; j++) {
                    float x0 = (x[so + j] - min) * id, x1 = (x[so + 16 + j] - min) * id;
                    int q0 = Math.min(15, (int) (x0 + 0.5f)), q1 = Math.min(15, (int) (x1 + 0.5f));
                    dst[d + 4 + j] = (byte) (q0 | (q1 << 4));
                }
            }
        }
    }

    private static void putI32(byte[] dst, int off, int v) {
        dst[off] = (byte) v;
        dst[off + 1] = (byte) (v >>> 8);
        dst[off + 2] = (byte) (v >>> 16);
        dst[off + 3] = (byte) (v >>> 24);
    }

    /** Q5_0: d = max/−16, q = min(31, trunc(x/d + 16.5)); bit 4 of each q goes to the 32-bit qh word. */
    static final class Q5_0 implements BlockQuantizer {
        public GgmlType type() {
            return GgmlType.Q5_0;
        }

        public void quantize(float[] x, int so, int n, byte[] dst, int d) {
            for (int b = 0; b < n / 32; b++, so += 32, d += 22) {
                float scale = signedMax(x, so) / -16;
                float id = scale != 0 ? 1.0f / scale : 0.0f;
                putF16(dst, d, scale);
                int qh = 0;
                for (int j = 0; j < 16; j++) {
                    float x0 = x[so + j] * id, x1 = x[so + 16 + j] * id;
                    int q0 = Math.min(31, (int) (x0 + 16.5f)), q1 = Math.min(31, (int) (x1 + 16.5f));
                    dst[d + 6 + j] = (byte) ((q0 & 15) | ((q1 & 15) << 4));
                    qh |= ((q0 >>> 4) & 1) << j;
                    qh |= ((q1 >>> 4) & 1) << (j + 16);
                }
                putI32(dst, d + 2, qh);
            }
        }
    }

    /** Q5_1: d = (max − min)/31, m = min, q = min(31, trunc((x − min)/d + 0.5)); high bits in qh. */
    static final class Q5_1 implements BlockQuantizer {
        public GgmlType type() {
            return GgmlType.Q5_1;
        }

        public void quantize(float[] x, int so, int n, byte[] dst, int d) {
            for (int b = 0; b < n / 32; b++, so += 32, d += 24) {
                float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
                for (int j = 0; j < 32; j++) { // strict comparisons as ggml: decides −0 vs +0 for m
                    if (x[so + j] < min) min = x[so + j];
                    if (x[so + j] > max) max = x[so + j];
                }
                float scale = (max - min) / 31;
                float id = scale != 0 ? 1.0f / scale : 0.0f;
                putF16(dst, d, scale);
                putF16(dst, d + 2, min);
                int qh = 0;
                for (int j = 0; j < 16; j++) {
                    float x0 = (x[so + j] - min) * id, x1 = (x[so + 16 + j] - min) * id;
                    int q0 = Math.min(31, (int) (x0 + 0.5f)), q1 = Math.min(31, (int) (x1 + 0.5f));
                    dst[d + 8 + j] = (byte) ((q0 & 15) | ((q1 & 15) << 4));
                    qh |= ((q0 >>> 4) & 1) << j;
                    qh |= ((q1 >>> 4) & 1) << (j + 16);
                }
                putI32(dst, d + 4, qh);
            }
        }
    }
}
