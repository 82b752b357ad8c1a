package dev.jemma.core.embed;

import java.util.List;

/**
 * The result of one {@link Embedder#embed} call: one L2-normalised vector per input text, in input order, and the
 * number of tokens each text became (prompt and special tokens included, after any truncation).
 */
public record Embeddings(List<float[]> vectors, int[] tokenCounts, boolean[] truncated) {
    public int totalTokens() {
        int n = 0;
        for (int c : tokenCounts) n += c;
        return n;
    }

    public int dimension() {
        return vectors.isEmpty() ? 0 : vectors.get(0).length;
    }

    /** Cosine similarity of two normalised vectors (their dot product). */
    public static float cosine(float[] a, float[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("vectors of " + a.length + " and " + b.length + " floats");
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return (float) s;
    }
}
