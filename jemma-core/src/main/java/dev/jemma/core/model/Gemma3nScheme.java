package dev.jemma.core.model;

import dev.jemma.core.tensor.kernels.Kernels;
import dev.jemma.core.tensor.kernels.VectorWidth;

/**
 * Which of a Gemma 3n model's matrices take ~15-bit int8 activations (the interleaved copy, with residual rows) in the
 * default mode, and which stay on the f32-activation kernels over the GGUF's own layout. Chosen per vector width in one
 * place ({@link #forWidth}); {@link #chosen} is this JVM's.
 */
public enum Gemma3nScheme {
    /** Every layer matrix and the output projection on int8 with residual rows. */
    EVERY_MATRIX("15-bit int8 activations (residual rows) in every matrix"),
    /** The output projection on int8 with residual rows; the layer matrices on the f32-activation kernels. */
    OUTPUT_ONLY("f32 activations in the layers, 15-bit int8 in the output projection"),
    /** f32 activations everywhere: exact mode, {@code -Djemma.int8=false}, or no usable vector width. */
    F32("f32 activations in every matrix");

    private final String text;

    Gemma3nScheme(String text) {
        this.text = text;
    }

    /** What {@code jemma show} / {@code jemma bench} print for a Gemma 3n model. */
    public String describe() {
        return text;
    }

    /** Whether the layer matrices get the interleaved copy and residual rows. */
    boolean layersInt8() {
        return this == EVERY_MATRIX;
    }

    /** Whether the output projection gets the interleaved copy and residual rows. */
    boolean outputInt8() {
        return this != F32;
    }

    /**
     * The scheme a model loaded with these options runs: {@link #F32} unless the int8 kernels run
     * ({@link ModelLoader#int8}), else {@link #forWidth} of this JVM's width, unless {@code -Djemma.gemma3n.scheme=every|output}
     * asks for one (A/B measurements at a width).
     */
    public static Gemma3nScheme of(ModelLoader.Options o) {
        return ModelLoader.int8(o) ? chosen() : F32;
    }

    /** The default mode's scheme in this JVM (the int8 kernels assumed on). */
    public static Gemma3nScheme chosen() {
        if (!Kernels.ENABLED) return F32;
        String asked = System.getProperty("jemma.gemma3n.scheme");
        if (asked == null || asked.isBlank()) return forWidth(VectorWidth.BITS);
        return switch (asked.trim()) {
            case "every" -> EVERY_MATRIX;
            case "output" -> OUTPUT_ONLY;
            default -> throw new dev.jemma.core.JemmaException("-Djemma.gemma3n.scheme=" + asked + ": every or output");
        };
    }

    /**
     * The measured choice per width (docs/PERFORMANCE.md, "Gemma 3n at every width (branch g3n28)": E2B Q4_0, 2 threads,
     * CPU seconds per token, every matrix against the output projection only, alternated runs): every matrix at every
     * width. 512 bits: prompts −38 %, generation −31 %. 128 bits: prompts −8 %, generation −17 %. 256 bits: prompts even
     * (0.0535 / 0.0527, within the runs' spread), generation −11 % (median of rounds) — there the 16 sixteen-bit lanes
     * gain least over the f32 kernels and the residual rows double the integer work, so it is closest, yet never worse
     * on generation in the median. One scheme at every width also keeps one weight copy per file for every width.
     */
    static Gemma3nScheme forWidth(int bits) {
        return switch (bits) {
            case 512, 256, 128 -> EVERY_MATRIX;
            default -> throw new IllegalArgumentException("no int8 kernels at " + bits + " bits");
        };
    }
}
