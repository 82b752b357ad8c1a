package dev.jemma.core.vision;

import dev.jemma.core.JemmaException;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.CRC32;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Image formats, EXIF orientation, and the one-line refusals of bad images. */
class ImageDecoderTest {
    /** A 6 × 4 image whose every pixel differs. */
    private static BufferedImage pattern(int type) {
        BufferedImage im = new BufferedImage(6, 4, type);
        for (int y = 0; y < 4; y++) for (int x = 0; x < 6; x++) im.setRGB(x, y, (x * 40) << 16 | (y * 60) << 8 | (x * 10 + y * 5));
        return im;
    }

    private static byte[] encode(BufferedImage im, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(ImageIO.write(im, format, out)).as("a " + format + " writer").isTrue();
        return out.toByteArray();
    }

    /** A non-interlaced GIF (the JDK writer interlaces by default, and the JDK writer and reader disagree on the row order of a 4-row interlaced image). */
    private static byte[] gif(BufferedImage im) throws IOException {
        javax.imageio.ImageWriter w = ImageIO.getImageWritersByFormatName("gif").next();
        javax.imageio.ImageWriteParam p = w.getDefaultWriteParam();
        p.setProgressiveMode(javax.imageio.ImageWriteParam.MODE_DISABLED);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (var ios = ImageIO.createImageOutputStream(out)) {
            w.setOutput(ios);
            w.write(null, new javax.imageio.IIOImage(im, null, null), p);
        } finally {
            w.dispose();
        }
        return out.toByteArray();
    }

    private static void assertPattern(RgbImage im) {
        assertThat(im.width()).isEqualTo(6);
        assertThat(im.height()).isEqualTo(4);
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 6; x++) {
                assertThat(new int[]{im.get(x, y, 0), im.get(x, y, 1), im.get(x, y, 2)}).containsExactly(x * 40, y * 60, x * 10 + y * 5);
            }
        }
    }

    @Test
    void decodesPngBmpAndGif() throws IOException {
        assertPattern(ImageDecoder.decode(encode(pattern(BufferedImage.TYPE_INT_RGB), "png"), "a.png"));
        assertPattern(ImageDecoder.decode(encode(pattern(BufferedImage.TYPE_INT_ARGB), "png"), "alpha.png"));
        assertPattern(ImageDecoder.decode(encode(pattern(BufferedImage.TYPE_3BYTE_BGR), "bmp"), "a.bmp"));
        // GIF: a palette image whose palette holds the pattern's 24 colours exactly
        byte[] r = new byte[24], g = new byte[24], b = new byte[24];
        for (int i = 0; i < 24; i++) {
            r[i] = (byte) (i % 6 * 40);
            g[i] = (byte) (i / 6 * 60);
            b[i] = (byte) (i % 6 * 10 + i / 6 * 5);
        }
        BufferedImage gif = new BufferedImage(6, 4, BufferedImage.TYPE_BYTE_INDEXED, new java.awt.image.IndexColorModel(8, 24, r, g, b));
        for (int y = 0; y < 4; y++) for (int x = 0; x < 6; x++) gif.getRaster().setSample(x, y, 0, y * 6 + x);
        assertPattern(ImageDecoder.decode(gif(gif), "a.gif"));
    }

    @Test
    void grayImagesKeepTheirStoredValues() throws IOException {
        BufferedImage g = new BufferedImage(3, 1, BufferedImage.TYPE_BYTE_GRAY);
        g.getRaster().setPixels(0, 0, 3, 1, new int[]{0, 100, 200});
        RgbImage im = ImageDecoder.decode(encode(g, "png"), "gray.png");
        // PIL convert("RGB") replicates the sample; Java's getRGB would apply a gamma curve (100 -> ~169)
        assertThat(new int[]{im.get(1, 0, 0), im.get(1, 0, 1), im.get(1, 0, 2), im.get(2, 0, 0)}).containsExactly(100, 100, 100, 200);
    }

    @Test
    void decodesWebPThroughThePlugin() throws IOException {
        byte[] webp;
        try (InputStream in = getClass().getResourceAsStream("/images/square-crop-100-60-24x16.webp")) {
            webp = in.readAllBytes();
        }
        RgbImage got = ImageDecoder.decode(webp, "crop.webp");
        RgbImage png = ImageDecoder.read(MultimodalFixtures.file("gemma3-vision-tiny/media/square-224x224.png"));
        assertThat(got.rgb()).isEqualTo(png.crop(100, 60, 24, 16).rgb());
    }

    @Test
    void jpegExifOrientationIsApplied() throws IOException {
        // a 6×4 JPEG stored sideways with orientation 6 (rotate 90° clockwise to view): shown 4 wide, 6 tall
        byte[] jpeg = encode(pattern(BufferedImage.TYPE_INT_RGB), "jpeg");
        RgbImage plain = ImageDecoder.decode(jpeg, "plain.jpg");
        for (int orientation : new int[]{1, 3, 6, 8}) {
            RgbImage im = ImageDecoder.decode(withExifOrientation(jpeg, orientation), "o" + orientation + ".jpg");
            assertThat(ImageDecoder.exifOrientation(withExifOrientation(jpeg, orientation))).isEqualTo(orientation);
            switch (orientation) {
                case 1 -> assertThat(im.rgb()).isEqualTo(plain.rgb());
                case 3 -> assertPixel(im, 0, 0, plain, 5, 3);
                case 6 -> {
                    assertThat(new int[]{im.width(), im.height()}).containsExactly(4, 6);
                    assertPixel(im, 0, 0, plain, 0, 3);   // the stored bottom-left ends top-left
                    assertPixel(im, 3, 0, plain, 0, 0);
                }
                case 8 -> {
                    assertThat(new int[]{im.width(), im.height()}).containsExactly(4, 6);
                    assertPixel(im, 0, 0, plain, 5, 0);   // the stored top-right ends top-left
                }
                default -> throw new AssertionError();
            }
        }
    }

    private static void assertPixel(RgbImage im, int x, int y, RgbImage ref, int rx, int ry) {
        for (int c = 0; c < 3; c++) assertThat(im.get(x, y, c)).isEqualTo(ref.get(rx, ry, c));
    }

    /** The JPEG with an APP1 "Exif" segment right after SOI holding one IFD entry: Orientation (0x0112) = o. */
    static byte[] withExifOrientation(byte[] jpeg, int o) {
        ByteBuffer tiff = ByteBuffer.allocate(26);
        tiff.put("MM".getBytes(StandardCharsets.US_ASCII)).putShort((short) 42).putInt(8)   // header, IFD at 8
                .putShort((short) 1)                                                         // one entry
                .putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) o).putShort((short) 0)
                .putInt(0);                                                                  // no next IFD
        byte[] exif = new byte[6 + tiff.capacity()];
        System.arraycopy("Exif\0\0".getBytes(StandardCharsets.US_ASCII), 0, exif, 0, 6);
        System.arraycopy(tiff.array(), 0, exif, 6, tiff.capacity());
        ByteBuffer out = ByteBuffer.allocate(jpeg.length + 4 + exif.length);
        out.put(jpeg, 0, 2).put((byte) 0xFF).put((byte) 0xE1).putShort((short) (exif.length + 2)).put(exif).put(jpeg, 2, jpeg.length - 2);
        return out.array();
    }

    @Test
    void badImagesGetOneClearLine(@TempDir Path dir) throws IOException {
        byte[] png = encode(pattern(BufferedImage.TYPE_INT_RGB), "png");
        assertOneLine(() -> ImageDecoder.decode(new byte[0], "empty.png"), "empty.png: the image is empty");
        assertOneLine(() -> ImageDecoder.decode("hello, I am text\n".getBytes(StandardCharsets.UTF_8), "notes.png"),
                "notes.png: not a supported image");
        assertOneLine(() -> ImageDecoder.decode(Arrays.copyOf(png, png.length / 2), "half.png"), "half.png: truncated or corrupt");
        assertOneLine(() -> ImageDecoder.decode(pngHeader(20_000, 20_000), "huge.png"), "huge.png: the PNG image is 20000×20000 pixels, more than the limit");
        assertOneLine(() -> ImageDecoder.decode(pngHeader(0, 10), "zero.png"), "zero.png:");
        byte[] jpeg = encode(pattern(BufferedImage.TYPE_INT_RGB), "jpeg");
        assertOneLine(() -> ImageDecoder.decode(Arrays.copyOf(jpeg, jpeg.length - 40), "cut.jpg"), "cut.jpg: truncated");
        assertOneLine(() -> ImageDecoder.read(dir.resolve("missing.png")), "missing.png: no such image file");
        Path text = Files.writeString(dir.resolve("fake.png"), "not an image");
        assertOneLine(() -> ImageDecoder.read(text), "fake.png: not a supported image");
    }

    /**
     * ImageFuzzTest's finding: a 203-byte WebP whose VP8L chunk claims more data than the file holds kept TwelveMonkeys'
     * lossless decoder building Huffman tables from the zero bits past the end for minutes; the bounded input refuses it.
     */
    @Test
    void aDecoderThatKeepsReadingPastTheEndIsStopped() throws IOException {
        byte[] webp;
        try (var in = getClass().getResourceAsStream("/dev/jemma/core/fuzz/ImageFuzzTestInputs/decodeAndPreprocess/webp-lossless-reads-past-end")) {
            webp = in.readAllBytes();
        }
        assertOneLine(() -> ImageDecoder.decode(webp, "images[0]"), "images[0]: truncated or corrupt image (the decoder read past the end");
    }

    private static void assertOneLine(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, String start) {
        assertThatThrownBy(call).isInstanceOf(JemmaException.class)
                .satisfies(e -> assertThat(e.getMessage()).contains(start).doesNotContain("\n"));
    }

    /** A PNG signature and an IHDR chunk (valid CRC) claiming w × h, then nothing: a header-only bomb. */
    private static byte[] pngHeader(int w, int h) {
        ByteBuffer ihdr = ByteBuffer.allocate(17);
        ihdr.put("IHDR".getBytes(StandardCharsets.US_ASCII)).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        ByteBuffer b = ByteBuffer.allocate(8 + 4 + 17 + 4);
        b.put(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}).putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
        return b.array();
    }
}
