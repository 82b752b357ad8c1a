package dev.jemma.core.vision;

/**
 * Pillow's {@code Image.resize(size, BILINEAR)} for 8-bit RGB images, reproduced operation for operation
 * (libImaging/Resample.c): a separable, antialiased triangle filter whose support widens with the down-scaling
 * factor; coefficients computed in double, normalised, then rounded to 22-bit fixed point; a horizontal pass then a
 * vertical pass, each rounding to 8 bits. HF's Gemma 3 image processor resizes with exactly this, so matching it
 * bit for bit is what makes our pixel values equal HF's.
 */
public final class PillowResize {
    private static final int PRECISION_BITS = 32 - 8 - 2;

    private PillowResize() {
    }

    /** Per output index: first input index, number of taps, and the taps (fixed point), ksize per row. */
    private record Coeffs(int[] bounds, int[] kk, int ksize) {
    }

    public static RgbImage resize(RgbImage in, int outW, int outH) {
        if (outW <= 0 || outH <= 0) throw new IllegalArgumentException("resize to " + outW + "×" + outH);
        RgbImage img = in;
        // Pillow skips a pass whose size does not change (box = the whole image)
        if (outW != img.width()) img = horizontal(img, outW, coeffs(img.width(), outW));
        if (outH != img.height()) img = vertical(img, outH, coeffs(img.height(), outH));
        return img == in ? new RgbImage(in.width(), in.height(), in.rgb().clone()) : img;
    }

    /** precompute_coeffs + normalize_coeffs_8bpc for the box [0, inSize] mapped onto outSize samples. */
    private static Coeffs coeffs(int inSize, int outSize) {
        double scale = (double) ((float) inSize - 0f) / outSize, filterscale = Math.max(1.0, scale);
        double support = 1.0 * filterscale;   // bilinear's support is 1
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] bounds = new int[outSize * 2];
        int[] kk = new int[outSize * ksize];
        double[] k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale, ww = 0.0, ss = 1.0 / filterscale;
            int xmin = (int) (center - support + 0.5);
            if (xmin < 0) xmin = 0;
            int xmax = (int) (center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            for (int x = 0; x < xmax; x++) {
                double w = triangle((x + xmin - center + 0.5) * ss);
                k[x] = w;
                ww += w;
            }
            for (int x = 0; x < xmax; x++) {
                double v = ww != 0.0 ? k[x] / ww : k[x];
                kk[xx * ksize + x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS)) : (int) (0.5 + v * (1 << PRECISION_BITS));
            }
            bounds[2 * xx] = xmin;
            bounds[2 * xx + 1] = xmax;
        }
        return new Coeffs(bounds, kk, ksize);
    }

    private static double triangle(double x) {
        if (x < 0.0) x = -x;
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static int clip8(int v) {
        int s = v >> PRECISION_BITS;
        return s < 0 ? 0 : Math.min(s, 255);
    }

    private static RgbImage horizontal(RgbImage in, int outW, Coeffs c) {
        int h = in.height(), inW = in.width();
        byte[] src = in.rgb(), dst = new byte[3 * outW * h];
        for (int y = 0; y < h; y++) {
            int row = 3 * y * inW;
            for (int xx = 0; xx < outW; xx++) {
                int xmin = c.bounds[2 * xx], xmax = c.bounds[2 * xx + 1], k0 = xx * c.ksize;
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < xmax; x++) {
                    int k = c.kk[k0 + x], p = row + 3 * (x + xmin);
                    s0 += (src[p] & 0xff) * k;
                    s1 += (src[p + 1] & 0xff) * k;
                    s2 += (src[p + 2] & 0xff) * k;
                }
                int o = 3 * (y * outW + xx);
                dst[o] = (byte) clip8(s0);
                dst[o + 1] = (byte) clip8(s1);
                dst[o + 2] = (byte) clip8(s2);
            }
        }
        return new RgbImage(outW, h, dst);
    }

    private static RgbImage vertical(RgbImage in, int outH, Coeffs c) {
        int w = in.width();
        byte[] src = in.rgb(), dst = new byte[3 * w * outH];
        for (int yy = 0; yy < outH; yy++) {
            int ymin = c.bounds[2 * yy], ymax = c.bounds[2 * yy + 1], k0 = yy * c.ksize;
            for (int xx = 0; xx < w; xx++) {
                int s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int y = 0; y < ymax; y++) {
                    int k = c.kk[k0 + y], p = 3 * ((y + ymin) * w + xx);
                    s0 += (src[p] & 0xff) * k;
                    s1 += (src[p + 1] & 0xff) * k;
                    s2 += (src[p + 2] & 0xff) * k;
                }
                int o = 3 * (yy * w + xx);
                dst[o] = (byte) clip8(s0);
                dst[o + 1] = (byte) clip8(s1);
                dst[o + 2] = (byte) clip8(s2);
            }
        }
        return new RgbImage(w, outH, dst);
    }
}
