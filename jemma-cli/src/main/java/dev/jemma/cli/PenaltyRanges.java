package dev.jemma.cli;

import dev.jemma.core.engine.GenerationOptions;

/**
 * The penalty ranges of the server's APIs ({@code repeat_penalty}, {@code presence_penalty}, {@code frequency_penalty}),
 * for the CLI's flags and chat's {@code /set}: a value the server refuses was taken here and only made the answer odd.
 * Each check throws {@link IllegalArgumentException} naming the flag or parameter as the user wrote it, and the value.
 */
final class PenaltyRanges {
    private PenaltyRanges() {
    }

    /** A repeat penalty: above 0 (it divides logits) and at most the servers' bound. */
    static Float repeat(String name, Float v) {
        if (v != null && !(v > 0 && v <= GenerationOptions.MAX_REPEAT_PENALTY)) {
            throw new IllegalArgumentException(name + " " + v + ": must be above 0 and at most " + GenerationOptions.MAX_REPEAT_PENALTY + " (1 = off)");
        }
        return v;
    }

    /** A presence or frequency penalty: within ± the servers' bound. */
    static Float additive(String name, Float v) {
        int max = GenerationOptions.MAX_ADDITIVE_PENALTY;
        if (v != null && !(v >= -max && v <= max)) {
            throw new IllegalArgumentException(name + " " + v + ": must be between -" + max + " and " + max + " (0 = off)");
        }
        return v;
    }
}
