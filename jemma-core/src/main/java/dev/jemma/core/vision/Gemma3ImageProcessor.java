package dev.jemma.core.vision;

import java.util.ArrayList;
import java.util.List;

/**
 * HF {@code Gemma3ImageProcessor}: each image is stretched to S × S with Pillow's bilinear filter (no letterboxing:
 * llama.cpp pads non-square images instead and misses HF by up to ~20 logits), rescaled by 1/255 and normalised
 * per channel, {@code (x − mean) / std}, giving channel-first float32 pixel values [3 × S × S].
 *
 * <p>Optional pan-and-scan ({@code do_pan_and_scan}): a wide or tall image is also cut into 2..maxCrops equal crops
 * along its long side; the original comes first, then the crops, each becoming an image of its own in the prompt
 * ({@link #panAndScanText}).
 */
public final class Gemma3ImageProcessor {
    /** HF's defaults for Gemma 3 (preprocessor_config.json). */
    public static final int PAS_MIN_CROP_SIZE = 256, PAS_MAX_CROPS = 4;
    public static final double PAS_MIN_RATIO = 1.2;

    private final int size;
    private final float[] mean, std;

    public Gemma3ImageProcessor(int size, float[] mean, float[] std) {
        this.size = size;
        this.mean = mean.clone();
        this.std = std.clone();
    }

    public static Gemma3ImageProcessor of(VisionConfig c) {
        return new Gemma3ImageProcessor(c.imageSize(), c.mean(), c.std());
    }

    /** The processor an encoder expects (Gemma 3n's SiglipImageProcessor is this one without normalisation). */
    public static Gemma3ImageProcessor of(VisionEncoder e) {
        return new Gemma3ImageProcessor(e.imageSize(), e.mean(), e.std());
    }

    public int size() {
        return size;
    }

    /** Pixel values [3 × S × S] of one image. */
    public float[] pixelValues(RgbImage image) {
        RgbImage r = PillowResize.resize(image, size, size);
        int plane = size * size;
        float[] out = new float[3 * plane];
        byte[] rgb = r.rgb();
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < plane; i++) {
                // HF: uint8 · (1/255) in float64, stored as float32, then (x − mean) / std in float32
                float x = (float) ((rgb[3 * i + c] & 0xff) * (1.0 / 255.0));
                out[c * plane + i] = (x - mean[c]) / std[c];
            }
        }
        return out;
    }

    /**
     * The images one input image becomes: itself, then its pan-and-scan crops when {@code panAndScan} is set and the
     * image is elongated enough (HF {@code Gemma3ImageProcessor.pan_and_scan} with its default settings).
     */
    public static List<RgbImage> images(RgbImage image, boolean panAndScan) {
        List<RgbImage> out = new ArrayList<>();
        out.add(image);
        if (panAndScan) out.addAll(panAndScan(image, PAS_MIN_CROP_SIZE, PAS_MAX_CROPS, PAS_MIN_RATIO));
        return out;
    }

    /** HF pan_and_scan: the crops (none when the image is not elongated enough or they would be too small). */
    public static List<RgbImage> panAndScan(RgbImage image, int minCropSize, int maxCrops, double minRatio) {
        int width = image.width(), height = image.height(), cropsW, cropsH;
        if (width >= height) {
            if ((double) width / height < minRatio) return List.of();
            cropsW = (int) Math.floor((double) width / height + 0.5);
            cropsW = Math.min((int) Math.floor((double) width / minCropSize), cropsW);
            cropsW = Math.min(maxCrops, Math.max(2, cropsW));
            cropsH = 1;
        } else {
            if ((double) height / width < minRatio) return List.of();
            cropsH = (int) Math.floor((double) height / width + 0.5);
            cropsH = Math.min((int) Math.floor((double) height / minCropSize), cropsH);
            cropsH = Math.min(maxCrops, Math.max(2, cropsH));
            cropsW = 1;
        }
        int cropW = (int) Math.ceil((double) width / cropsW), cropH = (int) Math.ceil((double) height / cropsH);
        if (Math.min(cropW, cropH) < minCropSize) return List.of();
        List<RgbImage> crops = new ArrayList<>();
        for (int i = 0; i < cropsH; i++) {
            for (int j = 0; j < cropsW; j++) crops.add(image.crop(cropW * j, cropH * i, cropW, cropH));
        }
        return crops;
    }

    /**
     * What replaces one {@code <start_of_image>} when the image has {@code crops} pan-and-scan crops (HF
     * Gemma3Processor): the original's marker, then one marker per crop. {@code boi} is the marker text.
     */
    public static String panAndScanText(String boi, int crops) {
        if (crops == 0) return boi;
        return "Here is the original image " + boi + " and here are some crops to help you see better "
                + String.join(" ", java.util.Collections.nCopies(crops, boi));
    }
}
