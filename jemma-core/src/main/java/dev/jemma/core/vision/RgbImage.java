package dev.jemma.core.vision;

/**
 * An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B (PIL's "RGB" mode: what HF's image processors
 * work on after {@code convert("RGB")}).
 */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("image of " + width + "×" + height + " pixels");
        if (rgb.length != 3L * width * height) throw new IllegalArgumentException(rgb.length + " bytes for a " + width + "×" + height + " RGB image");
    }

    /** Channel c (0 R, 1 G, 2 B) of pixel (x, y), 0..255. */
    public int get(int x, int y, int c) {
        return rgb[3 * (y * width + x) + c] & 0xff;
    }

    /** The rectangle [x0, x0 + w) × [y0, y0 + h), clipped to the image (numpy slicing, as HF's pan-and-scan cuts crops). */
    public RgbImage crop(int x0, int y0, int w, int h) {
        int cw = Math.min(w, width - x0), ch = Math.min(h, height - y0);
        byte[] out = new byte[3 * cw * ch];
        for (int y = 0; y < ch; y++) System.arraycopy(rgb, 3 * ((y0 + y) * width + x0), out, 3 * y * cw, 3 * cw);
        return new RgbImage(cw, ch, out);
    }
}
