package dev.jemma.core.memory;

import java.nio.file.Path;

/**
 * The interleaved copy of a model's matrices that the default mode reads instead of the GGUF's ({@code RepackCache}):
 * a file in the weight cache, built on the model's first load. Once it is there, those matrices' pages of the GGUF are
 * not read again, so the copy's bytes, not theirs, are what stays in fast memory.
 *
 * @param file        where the copy is, or will be
 * @param bytes       its size: on disk, and resident once the model has run
 * @param present     whether a valid copy is there (else the first load builds it, which needs {@code bytes} free on
 *                    that disk, and reads {@code sourceBytes} of the GGUF meanwhile)
 * @param sourceBytes the GGUF bytes of the matrices it replaces
 */
public record WeightCopy(Path file, long bytes, boolean present, long sourceBytes) {
}
