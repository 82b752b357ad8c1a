package dev.jemma.core.sampling;

import java.util.List;

/**
 * DRY, "don't repeat yourself" (p-e-w's published algorithm, as llama.cpp and text-generation-webui apply it): a token
 * that would extend a sequence already seen earlier in the context, once that repeat is at least
 * {@code allowedLength} tokens long, loses {@code multiplier · base^(length − allowedLength)} from its logit. A
 * repeat never extends across a sequence breaker (a token whose text contains one of {@code breakers}).
 *
 * @param multiplier    penalty scale ({@code dry_multiplier}); 0 = off
 * @param base          growth of the penalty with the repeat's length ({@code dry_base}), at least 1
 * @param allowedLength repeats this long go unpenalised ({@code dry_allowed_length}), at least 1
 * @param penaltyLastN  how many recent tokens are searched (prompt included); 0 = off; -1 = the whole context, held as
 *                      {@link Integer#MAX_VALUE}
 * @param breakers      texts that end a repeat ({@code dry_sequence_breakers}); llama.cpp's default: newline, colon,
 *                      double quote, asterisk
 */
public record DryParams(float multiplier, float base, int allowedLength, int penaltyLastN, List<String> breakers) {
    public static final List<String> DEFAULT_BREAKERS = List.of("\n", ":", "\"", "*");
    /** Off, with llama.cpp's defaults for the rest. */
    public static final DryParams OFF = new DryParams(0f, 1.75f, 2, -1, DEFAULT_BREAKERS);
    /** Bounds that only catch typos: beyond them a penalty bans a token outright anyway. */
    public static final int MAX_MULTIPLIER = 100, MAX_BASE = 100;

    public DryParams {
        if (!(multiplier >= 0 && multiplier <= MAX_MULTIPLIER)) throw new IllegalArgumentException("dry multiplier must be in [0, 100], got " + multiplier);
        if (!(base >= 1 && base <= MAX_BASE)) throw new IllegalArgumentException("dry base must be in [1, 100], got " + base);
        if (allowedLength < 1) throw new IllegalArgumentException("dry allowed length must be >= 1, got " + allowedLength);
        if (penaltyLastN < -1) throw new IllegalArgumentException("dry penalty-last-n must be >= 0, or -1 for the whole context, got " + penaltyLastN);
        if (penaltyLastN == -1) penaltyLastN = Integer.MAX_VALUE;
        if (breakers == null) throw new IllegalArgumentException("dry sequence breakers must be a list (empty: none)");
        for (String b : breakers) {
            if (b == null || b.isEmpty()) throw new IllegalArgumentException("a dry sequence breaker must be a non-empty text");
        }
        breakers = List.copyOf(breakers);
    }

    public boolean on() {
        return multiplier > 0 && penaltyLastN > 0;
    }
}
