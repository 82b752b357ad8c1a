package dev.jemma.core.model;

import java.util.List;

/**
 * A text embedding model: token ids in, one vector per text out. EmbeddingGemma ({@code gemma-embedding}) is the
 * sentence-transformers pipeline Transformer → Pooling → Dense → Dense → Normalize; a Gemma 3 chat model gives
 * pooled (and normalised) last hidden states, as llama.cpp's {@code --embeddings} does.
 */
public interface EmbeddingModel extends AutoCloseable {
    ModelConfig config();

    /** Width of the vectors {@link #embed} returns. */
    int dimension();

    /** Most tokens one text may have (the encoder runs each text in one call). */
    int maxTokens();

    Pooling pooling();

    /**
     * Runs the texts (each a whole token sequence, special tokens included) through the model in one batch and returns
     * each stage of the pipeline; rows are in the order of {@code texts}, and each text's result does not depend on the
     * others in the batch.
     */
    Stages run(List<int[]> texts);

    /** The L2-normalised embedding of each text, {@link #dimension()} floats each. */
    default float[][] embed(List<int[]> texts) {
        return run(texts).embeddings();
    }

    @Override
    void close();

    /** L2-normalises the first {@code n} components of {@code v} in place (torch's F.normalize, eps 1e-12). */
    static void normalize(float[] v, int n) {
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (double) v[i] * v[i];
        double norm = Math.max(Math.sqrt(ss), 1e-12);
        for (int i = 0; i < n; i++) v[i] = (float) (v[i] / norm);
    }

    /**
     * What one {@link #run} computed: per text its tokens' last hidden states [tokens × hidden] (after the final norm),
     * the pooled states [texts × hidden], each dense layer's output in order (EmbeddingGemma's dense_2
     * [texts × 4·hidden] and dense_3 [texts × hidden]; none for a chat model), and the normalised embeddings.
     */
    record Stages(List<float[]> tokens, float[][] pooled, List<float[][]> dense, float[][] embeddings) {
    }

    /** How token states become one vector (the GGUF's {@code pooling_type}, llama.cpp's numbering). */
    enum Pooling {
        NONE(0), MEAN(1), CLS(2), LAST(3), RANK(4);

        public final int gguf;

        Pooling(int gguf) {
            this.gguf = gguf;
        }

        /** The pooling for a GGUF {@code pooling_type} value, or null when there is none with that number. */
        public static Pooling ofGguf(int v) {
            for (Pooling p : values()) if (p.gguf == v) return p;
            return null;
        }

        /** The pooling called {@code name} ({@code mean}, {@code cls}, {@code last}), case-insensitive, or null. */
        public static Pooling parse(String name) {
            for (Pooling p : values()) if (p.name().equalsIgnoreCase(name)) return p;
            return null;
        }
    }
}
