package dev.jemma.tools.gen;

import java.util.Arrays;
import java.util.Locale;

/**
 * The published Gemma 3 text model shapes (HF configs, as llama.cpp's converter writes them into GGUF metadata).
 *
 * @param ropeScaling linear rope scaling factor of the global layers, 0 when the model has none (270M, 1B)
 */
public enum Gemma3Size {
    S270M("270m", 18, 640, 4, 1, 256, 2048, 512, 0f, 32768),
    S1B("1b", 26, 1152, 4, 1, 256, 6912, 512, 0f, 32768),
    S4B("4b", 34, 2560, 8, 4, 256, 10240, 1024, 8f, 131072),
    S12B("12b", 48, 3840, 16, 8, 256, 15360, 1024, 8f, 131072),
    S27B("27b", 62, 5376, 32, 16, 128, 21504, 1024, 8f, 131072);

    public final String label;
    public final int layers, dim, heads, kvHeads, headDim, ffn, window;
    public final float ropeScaling;
    public final int contextLength;

    Gemma3Size(String label, int layers, int dim, int heads, int kvHeads, int headDim, int ffn, int window,
               float ropeScaling, int contextLength) {
        this.label = label;
        this.layers = layers;
        this.dim = dim;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.ffn = ffn;
        this.window = window;
        this.ropeScaling = ropeScaling;
        this.contextLength = contextLength;
    }

    /** This size as a shape record. */
    public Gemma3Shape shape() {
        return new Gemma3Shape(label, layers, dim, heads, kvHeads, headDim, ffn, window, ropeScaling, contextLength);
    }

    /** The size named like "1b", "4B", "270m". */
    public static Gemma3Size parse(String s) {
        String l = s.toLowerCase(Locale.ROOT);
        for (Gemma3Size z : values()) if (z.label.equals(l)) return z;
        throw new IllegalArgumentException("unknown Gemma 3 size '" + s + "' (known: "
                + String.join(", ", Arrays.stream(values()).map(z -> z.label).toList()) + ")");
    }
}
