package dev.jemma.core.embed;

import java.util.List;

/**
 * What to embed and how.
 *
 * @param texts      the texts, embedded independently (each gets its own vector)
 * @param prompt     a named task prompt ({@link TaskPrompts}: {@code query}, {@code document} …) or null for none
 * @param dimensions Matryoshka truncation: keep the first n components and re-normalise (0 = the model's full width)
 * @param truncate   cut a text longer than the model's limit (keeping its start and the end-of-text token) instead of
 *                   refusing it
 */
public record EmbedRequest(List<String> texts, String prompt, int dimensions, boolean truncate) {
    public EmbedRequest {
        if (texts == null || texts.isEmpty()) throw new IllegalArgumentException("no texts to embed");
        for (String t : texts) if (t == null) throw new IllegalArgumentException("a text is null");
        texts = List.copyOf(texts);
        if (dimensions < 0) throw new IllegalArgumentException("dimensions must be >= 0, got " + dimensions);
    }

    public static EmbedRequest of(String... texts) {
        return new EmbedRequest(List.of(texts), null, 0, true);
    }

    public EmbedRequest withPrompt(String name) {
        return new EmbedRequest(texts, name, dimensions, truncate);
    }

    public EmbedRequest withDimensions(int n) {
        return new EmbedRequest(texts, prompt, n, truncate);
    }

    public EmbedRequest withTruncate(boolean t) {
        return new EmbedRequest(texts, prompt, dimensions, t);
    }
}
