package dev.jemma.core.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jemma.core.vision.Gemma3ImageProcessor;
import dev.jemma.core.vision.ImageDecoder;
import dev.jemma.core.vision.RgbImage;

import java.util.List;

/**
 * Fuzzes the image path a request's {@code images[]} / {@code image_url} and {@code --image} take: any bytes either
 * decode (PNG, JPEG with EXIF orientation, GIF, BMP, WebP through ImageIO and the TwelveMonkeys plugins) into an RGB
 * image whose size matches its pixels, or are refused with one printable line naming the image — never an exception
 * from inside a decoder plugin, an OutOfMemoryError or a hang. A decoded image then goes through the Gemma 3
 * preprocessing (PIL-style resize, pan-and-scan crops) at a small encoder size, which must accept every image the
 * decoder returns. Seeds: one tiny image per format, grey, alpha and EXIF-rotated variants.
 */
class ImageFuzzTest {
    private static final Gemma3ImageProcessor PROCESSOR =
            new Gemma3ImageProcessor(28, new float[]{0.5f, 0.5f, 0.5f}, new float[]{0.5f, 0.5f, 0.5f});

    @FuzzTest(maxDuration = "30s")
    void decodeAndPreprocess(byte[] bytes) {
        RgbImage[] decoded = new RgbImage[1];
        if (!Fuzzing.clean(() -> decoded[0] = ImageDecoder.decode(bytes, "images[0]"))) return;
        RgbImage img = decoded[0];
        if (img.width() <= 0 || img.height() <= 0 || img.rgb().length != 3L * img.width() * img.height()) {
            throw new AssertionError("decoded image " + img.width() + "×" + img.height() + " with " + img.rgb().length + " bytes");
        }
        // Pan-and-scan with crops as small as 8 px so that the fuzzer's tiny images reach the crop code too.
        List<RgbImage> crops = Gemma3ImageProcessor.panAndScan(img, 8, Gemma3ImageProcessor.PAS_MAX_CROPS, Gemma3ImageProcessor.PAS_MIN_RATIO);
        for (RgbImage c : crops) check(PROCESSOR.pixelValues(c));
        check(PROCESSOR.pixelValues(img));
    }

    private static void check(float[] pixels) {
        if (pixels.length != 3 * 28 * 28) throw new AssertionError(pixels.length + " pixel values for a 28×28 image");
        for (float v : pixels) {
            if (!(v >= -1f && v <= 1f)) throw new AssertionError("pixel value " + v + " outside [-1, 1]");
        }
    }
}
