package dev.jemma.tools.quant;

import dev.jemma.core.tensor.GgmlType;

/**
 * K-quant quantizers (256-weight super-blocks): Q4_K, Q5_K, Q6_K, following ggml's published reference
 * algorithms without an importance matrix. Q4_K/Q5_K: each 32-weight sub-block gets a scale and a minimum
 * from a weighted least-squares search over candidate scales (weights |x| + rms), then the eight scales and
 * eight minimums are themselves quantized to 6 bits against two f16 super-block factors. Q6_K: each 16-weight
 * sub-block gets a symmetric scale from a small search around max/−32, scales stored as int8 against one f16.
 */
final class KQuantizers {
    private static final float GROUP_MAX_EPS = 1e-15f;

    private KQuantizers() {
    }

    /** Round to nearest, ties to even (ggml's nearest_int uses the FPU's default rounding). */
    static int nearestInt(float v) {
        return (int) Math.rint(v);
    }

    private static float f16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    /**
     * Asymmetric quantization of {@code n} values to 0..nmax with a scale and a (non-positive) offset, minimising
     * the weighted squared error over {@code nstep+1} candidate inverse scales (rmin + rdelta·i + nmax)/(max−min),
     * each refined by the closed-form least-squares fit. Returns the scale; {@code theMin[0]} gets −offset.
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] w, int[] l, int lo, float[] theMin,
                                int[] laux, float rmin, float rdelta, int nstep) {
        float min = x[xo], max = x[xo];
        float sumW = w[0], sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            float v = x[xo + i];
            if (v < min) min = v;
            if (v > max) max = v;
            sumW += w[i];
            sumX += w[i] * v;
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; i++) l[lo + i] = 0;
            theMin[0] = -min;
            return 0;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int q = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
            l[lo + i] = q;
            float diff = scale * q + min - x[xo + i];
            bestError += w[i] * diff * diff;
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++) {
                int q = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
                laux[i] = q;
                sumL += w[i] * q;
                sumL2 += w[i] * q * q;
                sumXL += w[i] * q * x[xo + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float err = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * laux[i] + thisMin - x[xo + i];
                    err += w[i] * diff * diff;
                }
                if (err < bestError) {
                    System.arraycopy(laux, 0, l, lo, n);
                    bestError = err;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin[0] = -min;
        return scale;
    }

    /**
     * Symmetric quantization of {@code n} values to −nmax..nmax−1 (stored +nmax) weighted by x², trying inverse
     * scales −(nmax + 0.1·i)/max for i in −9..9 and keeping the best least-squares fit. Returns the scale.
     */
    static float makeQxQuants(int n, int nmax, float[] x, int xo, int[] l, int lo) {
        float max = 0, amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) l[lo + i] = 0;
            return 0;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xo + i];
            int q = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
            l[lo + i] = nmax + q;
            float w = v * v;
            sumLX += w * v * q;
            sumL2 += w * q * q;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0;
        float best = scale * sumLX;
        for (int is = -9; is <= 9; is++) {
            if (is == 0) continue;
            iscale = -(nmax + 0.1f * is) / max;
            sumLX = 0;
            sumL2 = 0;
            for (int i = 0; i < n; i++) {
                float v = x[xo + i];
                int q = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
                float w = v * v;
                sumLX += w * v * q;
                sumL2 += w * q * q;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2) {
                for (int i = 0; i < n; i++) {
                    int q = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i])));
                    l[lo + i] = nmax + q;
                }
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }

    /** Packs eight 6-bit scales and mins into the 12-byte K-quant scale field. */
    private static void packScales(int[] ls, int[] lm, byte[] dst, int o) {
        for (int j = 0; j < 12; j++) dst[o + j] = 0;
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                dst[o + j] = (byte) ls[j];
                dst[o + j + 4] = (byte) lm[j];
            } else {
                dst[o + j + 4] = (byte) ((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
                dst[o + j - 4] |= (byte) ((ls[j] >> 4) << 6);
                dst[o + j] |= (byte) ((lm[j] >> 4) << 6);
            }
        }
    }

    /**
     * Shared first half of Q4_K and Q5_K: per 32-weight sub-block scale/min search, 6-bit scale quantization,
     * and the final integer levels against the stored (f16-rounded) factors. Writes d, dmin and scales at
     * {@code dst[d..d+16)} and the levels into {@code levels[0..256)}.
     */
    private static void quantizeScaleMin(float[] x, int so, int nmax, float rmin, float rdelta, int nstep,
                                         byte[] dst, int d, int[] levels) {
        float[] scales = new float[8], mins = new float[8], w = new float[32], theMin = new float[1];
        int[] laux = new int[32];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++) {
            int xo = so + 32 * j;
            float sumX2 = 0;
            for (int i = 0; i < 32; i++) sumX2 += x[xo + i] * x[xo + i];
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int i = 0; i < 32; i++) w[i] = avX + Math.abs(x[xo + i]);
            scales[j] = makeQkx2Quants(32, nmax, x, xo, w, levels, 32 * j, theMin, laux, rmin, rdelta, nstep);
            mins[j] = theMin[0];
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        int[] ls = new int[8], lm = new int[8];
        for (int j = 0; j < 8; j++) {
            ls[j] = Math.min(63, nearestInt(invScale * scales[j]));
            lm[j] = Math.min(63, nearestInt(invMin * mins[j]));
        }
        SimpleQuantizers.putF16(dst, d, maxScale / 63.f);
        SimpleQuantizers.putF16(dst, d + 2, maxMin / 63.f);
        packScales(ls, lm, dst, d + 4);
        float dd = f16(maxScale / 63.f), dmin = f16(maxMin / 63.f);
        for (int j = 0; j < 8; j++) {
            float sd = dd * ls[j];
            if (sd == 0) continue;
            float dm = dmin * lm[j];
            for (int i = 0; i < 32; i++) {
                int q = nearestInt((x[so + 32 * j + i] + dm) / sd);
                levels[32 * j + i] = Math.max(0, Math.min(nmax, q));
            }
        }
    }

    /** Q4_K: d, dmin (f16), 12 bytes of 6-bit scales/mins, 128 bytes of nibbles (w = d·sc·q − dmin·m). */
    static final class Q4_K implements BlockQuantizer {
        public GgmlType type() {
            return GgmlType.Q4_K;
        }

        public void quantize(float[] x, int so, int n, byte[] dst, int d) {
            int[] levels = new int[256];
            for (int b = 0; b < n / 256; b++, so += 256, d += 144) {
                quantizeScaleMin(x, so, 15, -1f, 0.1f, 20, dst, d, levels);
                int q = d + 16;
                for (int j = 0; j < 256; j += 64) {
                    for (int l = 0; l < 32; l++) dst[q + l] = (byte) (levels[j + l] | (levels[j + l + 32] << 4));
                    q += 32;
                }
            }
        }
    }

    /** Q5_K: as Q4_K with 5-bit levels; the fifth bits go to a 32-byte qh field. */
    static final class Q5_K implements BlockQuantizer {
        public GgmlType type() {
            return GgmlType.Q5_K;
        }

        public void quantize(float[] x, int so, int n, byte[] dst, int d) {
            int[] levels = new int[256];
            for (int b = 0; b < n / 256; b++, so += 256, d += 176) {
                quantizeScaleMin(x, so, 31, -0.5f, 0.1f, 15, dst, d, levels);
                int qh = d + 16, ql = d + 48;
                for (int j = 0; j < 32; j++) dst[qh + j] = 0;
                int m1 = 1, m2 = 2;
                for (int nn = 0; nn < 256; nn += 64) {
                    for (int j = 0; j < 32; j++) {
                        int l1 = levels[nn + j], l2 = levels[nn + j + 32];
                        if (l1 > 15) {
                            l1 -= 16;
                            dst[qh + j] |= (byte) m1;
                        }
                        if (l2 > 15) {
                            l2 -= 16;
                            dst[qh + j] |= (byte) m2;
                        }
                        dst[ql + j] = (byte) (l1 | (l2 << 4));
                    }
                    m1 <<= 2;
                    m2 <<= 2;
                    ql += 32;
                }
            }
        }
    }

    /** Q6_K: 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 int8 scales, f16 d (w = d·sc·(q − 32)). */
    static final class Q6_K implements BlockQuantizer {
        public GgmlType type() {
            return GgmlType.Q6_K;
        }

        public void quantize(float[] x, int so, int n, byte[] dst, int d) {
            int[] levels = new int[256];
            float[] scales = new float[16];
            for (int b = 0; b < n / 256; b++, so += 256, d += 210) {
                float maxScale = 0, maxAbsScale = 0;
                for (int ib = 0; ib < 16; ib++) {
                    float s = makeQxQuants(16, 32, x, so + 16 * ib, levels, 16 * ib);
                    scales[ib] = s;
                    if (Math.abs(s) > maxAbsScale) {
                        maxAbsScale = Math.abs(s);
                        maxScale = s;
                    }
                }
                if (maxAbsScale < GROUP_MAX_EPS) {
                    for (int i = 0; i < 210; i++) dst[d + i] = 0;
                    continue;
                }
                float iscale = -128.f / maxScale;
                SimpleQuantizers.putF16(dst, d + 208, 1 / iscale);
                float dd = f16(1 / iscale);
                for (int ib = 0; ib < 16; ib++) dst[d + 192 + ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
                for (int j = 0; j < 16; j++) {
                    float sd = dd * dst[d + 192 + j];
                    if (sd == 0) continue;
                    for (int i = 0; i < 16; i++) {
                        int q = Math.max(-32, Math.min(31, nearestInt(x[so + 16 * j + i] / sd)));
                        levels[16 * j + i] = q + 32;
                    }
                }
                int ql = d, qh = d + 128;
                for (int j = 0; j < 256; j += 128) {
                    for (int l = 0; l < 32; l++) {
                        int q1 = levels[j + l], q2 = levels[j + l + 32], q3 = levels[j + l + 64], q4 = levels[j + l + 96];
                        dst[ql + l] = (byte) ((q1 & 0xF) | ((q3 & 0xF) << 4));
                        dst[ql + l + 32] = (byte) ((q2 & 0xF) | ((q4 & 0xF) << 4));
                        dst[qh + l] = (byte) ((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
                    }
                    ql += 64;
                    qh += 32;
                }
            }
        }
    }
}
