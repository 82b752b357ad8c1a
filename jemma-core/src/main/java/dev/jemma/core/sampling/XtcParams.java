package dev.jemma.core.sampling;

/**
 * XTC, "exclude top choices" (p-e-w, as llama.cpp has it): with probability {@code probability} per token, when two or
 * more candidates are at least {@code threshold} likely, all of them but the least likely one are removed — the most
 * predictable continuations give way to other plausible ones. Off when the probability is 0 or the threshold is above
 * 0.5 (no two tokens can then both reach it).
 *
 * @param probability chance of applying it at each token ({@code xtc_probability}); 0 = off
 * @param threshold   how likely a token must be to count as a top choice ({@code xtc_threshold})
 */
public record XtcParams(float probability, float threshold) {
    /** Off, with llama.cpp's default threshold 0.1. */
    public static final XtcParams OFF = new XtcParams(0f, 0.1f);

    public XtcParams {
        if (!(probability >= 0 && probability <= 1)) throw new IllegalArgumentException("xtc probability must be in [0, 1], got " + probability);
        if (!(threshold >= 0 && threshold <= 1)) throw new IllegalArgumentException("xtc threshold must be in [0, 1], got " + threshold);
    }

    public boolean on() {
        return probability > 0 && threshold <= 0.5f;
    }
}
