package dev.jemma.core.mobilenet;

/**
 * A feature map of one image, {@code height × width} pixels of {@code channels} values each, stored pixel by pixel
 * (HWC, channels contiguous). Torch holds the same tensor as NCHW; this layout makes every pixel a row, so a 1×1
 * convolution is one matmul over the pixels on the text model's kernels and RmsNorm2d is a per-row norm.
 */
public record FeatureMap(float[] data, int height, int width, int channels) {
    public FeatureMap {
        if ((long) height * width * channels != data.length) {
            throw new IllegalArgumentException(height + "×" + width + "×" + channels + " feature map over " + data.length + " floats");
        }
    }

    public static FeatureMap zeros(int height, int width, int channels) {
        return new FeatureMap(new float[Math.multiplyExact(Math.multiplyExact(height, width), channels)], height, width, channels);
    }

    public int pixels() {
        return height * width;
    }

    /** Channel-first pixel values [3 × S × S] (HF's pixel_values) as a feature map. */
    public static FeatureMap fromChannelFirst(float[] chw, int off, int channels, int height, int width) {
        int plane = height * width;
        if (chw.length - off < (long) channels * plane) {
            throw new IllegalArgumentException("pixel values: " + (chw.length - off) + " floats, expected " + channels + "×" + height + "×" + width);
        }
        float[] d = new float[channels * plane];
        for (int c = 0; c < channels; c++) {
            for (int p = 0; p < plane; p++) d[p * channels + c] = chw[off + c * plane + p];
        }
        return new FeatureMap(d, height, width, channels);
    }

    /** The same values channel-first [C × H × W], as torch's NCHW tensor (and the fixtures) hold them. */
    public float[] toChannelFirst() {
        int plane = height * width;
        float[] out = new float[data.length];
        for (int p = 0; p < plane; p++) {
            for (int c = 0; c < channels; c++) out[c * plane + p] = data[p * channels + c];
        }
        return out;
    }
}
