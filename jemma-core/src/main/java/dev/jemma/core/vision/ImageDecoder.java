package dev.jemma.core.vision;

import com.twelvemonkeys.imageio.metadata.Directory;
import com.twelvemonkeys.imageio.metadata.Entry;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEG;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEGSegment;
import com.twelvemonkeys.imageio.metadata.jpeg.JPEGSegmentUtil;
import com.twelvemonkeys.imageio.metadata.tiff.TIFF;
import com.twelvemonkeys.imageio.metadata.tiff.TIFFReader;
import dev.jemma.core.JemmaException;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Decodes PNG, JPEG, GIF (first frame), BMP and WebP (TwelveMonkeys' ImageIO plugin) into {@link RgbImage}s the way
 * PIL's {@code convert("RGB")} sees them — samples as stored, no colour management, alpha dropped — with the EXIF
 * orientation of JPEGs applied (as transformers' {@code load_image} does with {@code exif_transpose}).
 *
 * <p>Every failure is one {@link JemmaException} line naming the image: not an image, an unsupported format,
 * truncated or corrupt data, zero size, or more pixels than {@link #MAX_PIXELS} (checked from the header, before any
 * pixel memory is allocated).
 */
public final class ImageDecoder {
    /** Pillow's decompression-bomb limit (Image.MAX_IMAGE_PIXELS): 1024 · 1024 · 1024 / 4 / 3 pixels. */
    public static final long MAX_PIXELS = 1024L * 1024 * 1024 / 4 / 3;

    static {
        ImageIO.setUseCache(false);   // decode in memory: no temporary files
        ImageIO.scanForPlugins();
    }

    private ImageDecoder() {
    }

    public static RgbImage read(Path path) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new JemmaException(path + ": no such image file");
        } catch (IOException e) {
            throw new JemmaException(path + ": cannot read the image (" + e.getMessage() + ")");
        }
        return decode(bytes, path.toString());
    }

    /** Decodes an image held in memory; {@code name} (a file name, "images[0]", …) prefixes every error. */
    public static RgbImage decode(byte[] bytes, String name) {
        if (bytes.length == 0) throw new JemmaException(name + ": the image is empty (0 bytes)");
        try (ImageInputStream in = new BoundedImageInput(bytes)) {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            if (!readers.hasNext()) {
                throw new JemmaException(name + ": not a supported image (PNG, JPEG, GIF, BMP or WebP expected)");
            }
            ImageReader reader = readers.next();
            String format = reader.getFormatName().toUpperCase(Locale.ROOT);
            try {
                reader.setInput(in, true, true);
                int w = reader.getWidth(0), h = reader.getHeight(0);
                if (w <= 0 || h <= 0) throw new JemmaException(name + ": the " + format + " image has zero size (" + w + "×" + h + ")");
                if ((long) w * h > MAX_PIXELS) {
                    throw new JemmaException(name + ": the " + format + " image is " + w + "×" + h + " pixels, more than the limit of "
                            + MAX_PIXELS + " (" + (MAX_PIXELS / 1_000_000) + " megapixels)");
                }
                String[] truncated = new String[1];
                reader.addIIOReadWarningListener(new IIOReadWarningListener() {
                    @Override
                    public void warningOccurred(ImageReader source, String warning) {
                        String wl = warning.toLowerCase(Locale.ROOT);
                        if (wl.contains("premature") || wl.contains("truncat") || wl.contains("end of")) truncated[0] = warning;
                    }
                });
                BufferedImage img = reader.read(0);
                if (truncated[0] != null) throw new JemmaException(name + ": truncated " + format + " image (" + truncated[0] + ")");
                RgbImage rgb = toRgb(img);
                if (format.startsWith("JP")) rgb = Orientation.apply(rgb, exifOrientation(bytes));
                return rgb;
            } finally {
                reader.dispose();
            }
        } catch (JemmaException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            throw new JemmaException(name + ": truncated or corrupt image (" + msg.lines().findFirst().orElse("") + ")");
        } catch (OutOfMemoryError e) {
            throw new JemmaException(name + ": not enough memory to decode the image");
        }
    }

    /** The stored samples as 8-bit RGB: gray replicated, palette looked up, alpha dropped (PIL convert("RGB")). */
    static RgbImage toRgb(BufferedImage img) {
        int w = img.getWidth(), h = img.getHeight();
        byte[] out = new byte[3 * w * h];
        Raster r = img.getRaster();
        int bands = r.getNumBands();
        int[] bits = img.getColorModel().getComponentSize();
        boolean eightBit = true;
        for (int b : bits) eightBit &= b == 8;
        if (img.getColorModel() instanceof IndexColorModel || !eightBit || bands > 4) {
            // palettes and unusual sample sizes: the colour model's conversion to sRGB bytes
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                img.getRGB(0, y, w, 1, row, 0, w);
                for (int x = 0; x < w; x++) {
                    int o = 3 * (y * w + x), p = row[x];
                    out[o] = (byte) (p >> 16);
                    out[o + 1] = (byte) (p >> 8);
                    out[o + 2] = (byte) p;
                }
            }
            return new RgbImage(w, h, out);
        }
        // raw samples: getRGB would run gray images through a linear-to-sRGB curve that PIL does not apply
        int[] px = new int[bands * w];
        for (int y = 0; y < h; y++) {
            r.getPixels(0, y, w, 1, px);
            for (int x = 0; x < w; x++) {
                int o = 3 * (y * w + x), s = bands * x;
                if (bands <= 2) {
                    out[o] = out[o + 1] = out[o + 2] = (byte) px[s];
                } else {
                    out[o] = (byte) px[s];
                    out[o + 1] = (byte) px[s + 1];
                    out[o + 2] = (byte) px[s + 2];
                }
            }
        }
        return new RgbImage(w, h, out);
    }

    /** The EXIF orientation (1..8) of a JPEG, 1 when it has none or it cannot be read. */
    static int exifOrientation(byte[] jpeg) {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(jpeg))) {
            List<JPEGSegment> exif = JPEGSegmentUtil.readSegments(in, JPEG.APP1, "Exif");
            if (exif.isEmpty()) return 1;
            InputStream data = exif.get(0).data();
            byte[] b = data.readAllBytes();
            int start = 0;
            while (start < b.length && b[start] == 0) start++;   // the pad byte after "Exif\0"
            try (ImageInputStream tiff = ImageIO.createImageInputStream(new ByteArrayInputStream(b, start, b.length - start))) {
                Directory dir = new TIFFReader().read(tiff);
                Entry e = dir.getEntryById(TIFF.TAG_ORIENTATION);
                if (e == null || !(e.getValue() instanceof Number n)) return 1;
                int o = n.intValue();
                return o >= 1 && o <= 8 ? o : 1;
            }
        } catch (IOException | RuntimeException e) {
            return 1;   // unreadable EXIF: the image as stored, as PIL's exif_transpose does
        }
    }

    /** EXIF orientation transforms (PIL ImageOps.exif_transpose). */
    static final class Orientation {
        private Orientation() {
        }

        static RgbImage apply(RgbImage im, int orientation) {
            return switch (orientation) {
                case 2 -> map(im, false, (x, y, w, h) -> new int[]{w - 1 - x, y});
                case 3 -> map(im, false, (x, y, w, h) -> new int[]{w - 1 - x, h - 1 - y});
                case 4 -> map(im, false, (x, y, w, h) -> new int[]{x, h - 1 - y});
                case 5 -> map(im, true, (x, y, w, h) -> new int[]{y, x});                 // transpose
                case 6 -> map(im, true, (x, y, w, h) -> new int[]{y, h - 1 - x});         // rotate 90° clockwise
                case 7 -> map(im, true, (x, y, w, h) -> new int[]{w - 1 - y, h - 1 - x}); // transverse
                case 8 -> map(im, true, (x, y, w, h) -> new int[]{w - 1 - y, x});         // rotate 90° counter-clockwise
                default -> im;
            };
        }

        /** Source pixel (in the stored image of w × h) of output pixel (x, y). */
        private interface Source {
            int[] at(int x, int y, int w, int h);
        }

        private static RgbImage map(RgbImage im, boolean swap, Source src) {
            int w = im.width(), h = im.height(), ow = swap ? h : w, oh = swap ? w : h;
            byte[] in = im.rgb(), out = new byte[in.length];
            for (int y = 0; y < oh; y++) {
                for (int x = 0; x < ow; x++) {
                    int[] s = src.at(x, y, w, h);
                    System.arraycopy(in, 3 * (s[1] * w + s[0]), out, 3 * (y * ow + x), 3);
                }
            }
            return new RgbImage(ow, oh, out);
        }
    }
}
