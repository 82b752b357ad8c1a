package dev.jemma.core.engine;

/**
 * The outcome of one generation.
 *
 * @param text             the generated text (stop strings and end-of-turn tokens excluded)
 * @param tokens           the generated token ids (an end-of-turn token that stopped generation excluded)
 * @param promptTokens     tokens in the prompt
 * @param reusedTokens     prompt tokens whose KV cache entries were reused from the previous turn
 * @param promptNanos      time spent on the prompt (the part not reused)
 * @param generationNanos  time spent generating
 * @param stopReason       why it ended
 */
public record Generation(String text, int[] tokens, int promptTokens, int reusedTokens, long promptNanos,
                         long generationNanos, StopReason stopReason) {
    /** Prompt tokens actually processed per second (reused ones excluded). */
    public double promptTokensPerSecond() {
        int n = promptTokens - reusedTokens;
        return promptNanos <= 0 ? 0 : n * 1e9 / promptNanos;
    }

    /** Generated tokens per second. */
    public double generationTokensPerSecond() {
        return generationNanos <= 0 ? 0 : tokens.length * 1e9 / generationNanos;
    }
}
