package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.BlockFormat;

import java.util.List;

/** Formats beyond the five basic ones (Q4_1, Q5_x, K-quants). */
public final class ExtraFormats {
    private ExtraFormats() {
    }

    public static List<BlockFormat> all() {
        return List.of();
    }
}
