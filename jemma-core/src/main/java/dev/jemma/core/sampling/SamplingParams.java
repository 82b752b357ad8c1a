package dev.jemma.core.sampling;

/**
 * How the next token is chosen from the logits, in llama.cpp's order: repetition penalties, top-k, top-p, min-p,
 * then temperature and a seeded draw. A temperature of 0 (or below) means greedy (argmax after penalties).
 *
 * @param temperature      divides the logits; 0 = greedy
 * @param topK             keep the k most likely tokens; 0 = all
 * @param topP             keep the smallest set whose probability reaches p; 1 = all; 0 = only the most likely token
 *                         (OpenAI and llama.cpp accept 0: the set never drops below one token)
 * @param minP             drop tokens less likely than minP × the most likely one; 0 = off
 * @param repeatPenalty    divide positive (multiply negative) logits of recently seen tokens; 1 = off
 * @param repeatLastN      how many recent tokens the penalties look at (prompt included); 0 = off; -1 = all of them (the
 *                         whole context, as llama.cpp's and Ollama's -1), held as {@link Integer#MAX_VALUE}
 * @param presencePenalty  subtracted once from the logit of every recently seen token
 * @param frequencyPenalty subtracted per occurrence from the logit of recently seen tokens
 * @param seed             seed of the random draw (same seed, same prompt, same options → same output)
 */
public record SamplingParams(float temperature, int topK, float topP, float minP, float repeatPenalty,
                             int repeatLastN, float presencePenalty, float frequencyPenalty, long seed) {
    /** Google's recommendation for Gemma 3: temperature 1.0, top-k 64, top-p 0.95; no penalties. */
    public static final SamplingParams GEMMA_DEFAULTS = new SamplingParams(1.0f, 64, 0.95f, 0.0f, 1.0f, 64, 0f, 0f, 0L);

    public SamplingParams {
        if (Float.isNaN(temperature) || temperature < 0) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0, got " + topK);
        if (!(topP >= 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in [0, 1], got " + topP);
        if (!(minP >= 0 && minP <= 1)) throw new IllegalArgumentException("min-p must be in [0, 1], got " + minP);
        if (!(repeatPenalty > 0)) throw new IllegalArgumentException("repeat penalty must be > 0, got " + repeatPenalty);
        if (repeatLastN < -1) throw new IllegalArgumentException("repeat-last-n must be >= 0, or -1 for the whole context, got " + repeatLastN);
        if (repeatLastN == -1) repeatLastN = Integer.MAX_VALUE;
    }

    public boolean greedy() {
        return temperature <= 0;
    }
}
