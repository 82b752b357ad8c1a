package dev.jemma.core.model;

import dev.jemma.core.tensor.kernels.Kernels;
import dev.jemma.core.tensor.kernels.VectorWidth;

/**
 * Which of a Gemma 3n model's matrices take int8 activations (the interleaved copy) in the default mode, and which stay
 * on the f32-activation kernels over the GGUF's own layout; of those on int8, which kinds take ~15-bit activations
 * (residual rows) and which plain 8-bit ones ({@link #residualRows}). Chosen per vector width in one place
 * ({@link #forWidth}); {@link #chosen} is this JVM's.
 */
public enum Gemma3nScheme {
    /** Every layer matrix on int8 with residual rows, the output projection on plain int8. */
    EVERY_MATRIX("15-bit int8 activations (residual rows) in every layer matrix, 8-bit in the output projection"),
    /** The output projection on plain int8; the layer matrices on the f32-activation kernels. */
    OUTPUT_ONLY("f32 activations in the layers, 8-bit int8 in the output projection"),
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

    /** Whether the output projection gets the interleaved copy. */
    boolean outputInt8() {
        return this != F32;
    }

    /**
     * The matrix kinds that run on plain int8 (8-bit activations, no residual rows) where they get the copy: the output
     * projection ({@code output}, or {@code token_embd} when tied). It is the last operation, so its rounding reaches the
     * logits once and through no layer: on gemma3n-tiny it moves them by ~0.16 (llama.cpp's own logits are 8.6 off),
     * where the residual rows cost an E2B token 20.7 of its 47 ms in the output projection (docs/PERFORMANCE.md,
     * "Where an E2B token's time goes" and "The output projection on plain int8 and the Q6_K kernel (branch outq29)").
     * Every layer kind stays on residual rows: plain int8 in any attention / FFN / LAuReL kind moves the logits by 2-9.
     */
    static final java.util.Set<String> PLAIN_KINDS = java.util.Set.of("output", "token_embd");

    /**
     * Whether a matrix of this kind ("attn_q", "ffn_down", "output", "token_embd", …) that the scheme puts on int8 asks
     * for residual rows (~15-bit activations) rather than plain 8-bit ones.
     */
    boolean residualRows(String kind) {
        return !PLAIN_KINDS.contains(kind);
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
