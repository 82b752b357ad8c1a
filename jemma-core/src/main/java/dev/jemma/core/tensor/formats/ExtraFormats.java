package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.BlockFormat;

import java.util.List;

/** Formats beyond the five basic ones (Q4_1, Q5_x, K-quants). */
public final class ExtraFormats {
    private ExtraFormats() {
    }

    public static List<BlockFormat> all() {
        return List.of(new Q4_1Format(), new Q5_0Format(), new Q5_1Format(), new Q2_KFormat(), new Q3_KFormat(),
                new Q4_KFormat(), new Q5_KFormat(), new Q6_KFormat());
    }
}
