package dev.jemma.core.engine;

import java.util.function.IntPredicate;

/**
 * Restricts which token may come next, e.g. a grammar such as JSON mode. Called on the generating thread: first
 * {@link #mask} with the logits of the next position, then {@link #accept} with the token the sampler chose.
 * Set it with {@link Session#setTokenFilter}.
 */
public interface TokenFilter {
    /** Sets the logit of every token that may not come next to {@link Float#NEGATIVE_INFINITY}. */
    void mask(float[] logits, int vocab);

    /** The token chosen for this position (an end-of-turn token included). */
    void accept(int id);

    /**
     * A cheap check of single tokens, equivalent to {@link #mask} for the current position, or null. With it the
     * sampler first checks its best candidates and masks the whole vocabulary only when they do not decide the draw
     * ({@link dev.jemma.core.sampling.Sampler#sampleAllowed}); the tokens drawn follow the same distribution.
     */
    default IntPredicate checker() {
        return null;
    }
}
