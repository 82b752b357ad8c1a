package dev.jemma.core.engine;

import dev.jemma.core.sampling.Sampler;

/**
 * Restricts which token may come next, e.g. a grammar such as JSON mode. Called on the generating thread: first
 * {@link #choose} (by default {@link #mask} with the logits of the next position, then the sampler), then
 * {@link #accept} with the token chosen. Set it with {@link Session#setTokenFilter}.
 */
public interface TokenFilter {
    /** Sets the logit of every token that may not come next to {@link Float#NEGATIVE_INFINITY}. */
    void mask(float[] logits, int vocab);

    /** The token chosen for this position (an end-of-turn token included). */
    void accept(int id);

    /**
     * The next token: what {@code sampler} draws from the logits after {@link #mask}. A filter that can decide this
     * without masking the whole vocabulary (checking the sampler's best candidates, or sampling among a small allowed
     * set) overrides it; it must draw the same token from the same random stream. The logits may be modified (masked).
     */
    /**
     * The text of a token the filter makes part of the answer although the decoder prints nothing for it (a control
     * token a grammar names), or null to decode it as usual.
     */
    default String spelling(int id) {
        return null;
    }

    default int choose(Sampler sampler, float[] logits, int vocab, int[] history, int histLen) {
        mask(logits, vocab);
        return sampler.sample(logits, 0, vocab, history, histLen);
    }
}
