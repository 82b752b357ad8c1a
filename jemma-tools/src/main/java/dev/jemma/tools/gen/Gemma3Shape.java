package dev.jemma.tools.gen;

/**
 * The hyper-parameters that decide a Gemma 3 text model's tensors and metadata. {@link Gemma3Size} holds the
 * published ones; tests build tiny shapes of their own.
 *
 * @param label       size label used in names ("1b")
 * @param ropeScaling linear rope scaling factor of the global layers, 0 when the model has none
 */
public record Gemma3Shape(String label, int layers, int dim, int heads, int kvHeads, int headDim, int ffn, int window,
                          float ropeScaling, int contextLength) {
}
