package dev.jemma.langchain4j;

import dev.jemma.core.embed.EmbedRequest;
import dev.jemma.core.embed.Embedder;
import dev.jemma.core.embed.Embeddings;
import dev.jemma.core.engine.EngineOptions;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.output.Response;
import dev.langchain4j.model.output.TokenUsage;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A LangChain4j {@link EmbeddingModel} that runs an embedding GGUF (EmbeddingGemma) in this JVM on Jemma's
 * {@link Embedder}:
 * <pre>{@code
 * try (JemmaEmbeddingModel documents = JemmaEmbeddingModel.builder()
 *         .modelPath(Path.of("embeddinggemma-300m-Q8_0.gguf")).prompt("document").build()) {
 *     EmbeddingModel queries = documents.withPrompt("query");   // same weights, the query prompt
 *     store.addAll(documents.embedAll(segments).content(), segments);
 *     var hits = store.search(EmbeddingSearchRequest.builder().queryEmbedding(queries.embed(q).content()).build());
 * }
 * }</pre>
 * EmbeddingGemma was trained with task prompts ({@code query} for questions, {@code document} for passages); set one
 * with {@link Builder#prompt}, and derive views for the other with {@link #withPrompt}. {@link Builder#dimensions}
 * truncates the vectors (Matryoshka: 512, 256 or 128 of EmbeddingGemma's 768) and re-normalises them. Vectors are
 * L2-normalised, so cosine similarity is their dot product.
 */
public final class JemmaEmbeddingModel implements EmbeddingModel, AutoCloseable {
    private final Embedder embedder;
    private final String prompt;
    private final int dimensions;
    private final boolean owner;

    private JemmaEmbeddingModel(Embedder embedder, String prompt, int dimensions, boolean owner) {
        this.embedder = embedder;
        this.prompt = prompt;
        this.dimensions = dimensions;
        this.owner = owner;
        // refuse a bad prompt name or width now, not at the first call
        dev.jemma.core.embed.TaskPrompts.prefix(prompt);
        if (dimensions < 0 || dimensions > embedder.dimension()) {
            throw new IllegalArgumentException("dimensions " + dimensions + " outside 1.." + embedder.dimension());
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * A view of the same loaded model with another task prompt ({@code query}, {@code document}, … or null for none);
     * closing the view does not unload the model.
     */
    public JemmaEmbeddingModel withPrompt(String name) {
        return new JemmaEmbeddingModel(embedder, name, dimensions, false);
    }

    @Override
    public Response<List<Embedding>> embedAll(List<TextSegment> segments) {
        Objects.requireNonNull(segments, "segments");
        if (segments.isEmpty()) return Response.from(List.of(), new TokenUsage(0, 0));
        List<String> texts = new ArrayList<>(segments.size());
        for (TextSegment s : segments) texts.add(s.text());
        Embeddings e = embedder.embed(new EmbedRequest(texts, prompt, dimensions, true));
        List<Embedding> out = new ArrayList<>(texts.size());
        for (float[] v : e.vectors()) out.add(Embedding.from(v));
        return Response.from(out, new TokenUsage(e.totalTokens(), 0));
    }

    @Override
    public int dimension() {
        return dimensions > 0 ? dimensions : embedder.dimension();
    }

    @Override
    public String modelName() {
        return embedder.path().getFileName().toString();
    }

    /** The underlying embedder (tokenizer, limits, raw API). */
    public Embedder embedder() {
        return embedder;
    }

    @Override
    public void close() {
        if (owner) embedder.close();
    }

    /** Builds a {@link JemmaEmbeddingModel}. */
    public static final class Builder {
        private Path modelPath;
        private int threads, contextLength, dimensions;
        private boolean exact;
        private String prompt, pooling;

        private Builder() {
        }

        public Builder modelPath(Path v) {
            modelPath = v;
            return this;
        }

        public Builder modelPath(String v) {
            return modelPath(Path.of(v));
        }

        /** Compute threads (0: all cores). */
        public Builder threads(int v) {
            threads = v;
            return this;
        }

        /** Longest text in tokens; longer ones are cut (0: the model's context, at most 8192). */
        public Builder contextLength(int v) {
            contextLength = v;
            return this;
        }

        /** Matryoshka width (0: the model's full width). */
        public Builder dimensions(int v) {
            dimensions = v;
            return this;
        }

        /** Task prompt put before every text: {@code query}, {@code document}, {@code Clustering}, … (null: none). */
        public Builder prompt(String v) {
            prompt = v;
            return this;
        }

        /** {@code mean}, {@code cls} or {@code last} (null: the file's; mean for a chat model). */
        public Builder pooling(String v) {
            pooling = v;
            return this;
        }

        /** Weights dequantised exactly and f32 arithmetic (the reference mode). */
        public Builder exact(boolean v) {
            exact = v;
            return this;
        }

        public JemmaEmbeddingModel build() {
            Objects.requireNonNull(modelPath, "modelPath");
            Embedder e = Embedder.load(modelPath, EngineOptions.builder().threads(threads).exact(exact).contextLength(contextLength).build(), pooling);
            try {
                return new JemmaEmbeddingModel(e, prompt, dimensions, true);
            } catch (RuntimeException ex) {
                e.close();
                throw ex;
            }
        }
    }
}
