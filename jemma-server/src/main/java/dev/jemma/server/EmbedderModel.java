package dev.jemma.server;

import dev.jemma.core.embed.EmbedRequest;
import dev.jemma.core.embed.Embedder;
import dev.jemma.core.embed.Embeddings;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.model.Architectures;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** An embedding model (EmbeddingGemma) served by {@link Embedder}: answers embedding requests, refuses chat ones. */
final class EmbedderModel implements ServedModel {
    private final Embedder embedder;
    private final Info info;

    EmbedderModel(Embedder embedder, long fileSize) {
        this.embedder = embedder;
        this.info = EngineModel.describe(embedder.metadata(), embedder.path(), embedder.maxTokens(), fileSize,
                new dev.jemma.core.engine.ModelCapabilities(false, false, false));
    }

    /** Whether the file at {@code path} is an embedding-only architecture (read from its header, nothing loaded). */
    static boolean isEmbeddingModel(Path path) {
        try (GgufFile f = GgufFile.open(path)) {
            var a = Architectures.byName(f.getString("general.architecture"));
            return a != null && !a.generatesText();
        } catch (RuntimeException e) {
            return false; // the real load reports what is wrong with the file
        }
    }

    @Override
    public Result run(Request request, Listener listener) {
        throw HttpError.badRequest("this model is an embedding model (" + embedder.architecture()
                + "): it makes embeddings, not text; use /api/embed or /v1/embeddings");
    }

    @Override
    public boolean embeds() {
        return true;
    }

    @Override
    public Embedded embed(List<String> texts, List<int[]> ids, String prompt, int dimensions, boolean truncate) {
        if (dimensions > embedder.dimension()) {
            throw HttpError.badRequest("field 'dimensions': " + dimensions + " exceeds the model's " + embedder.dimension());
        }
        try {
            if (ids != null) {
                if (prompt != null) throw HttpError.badRequest("a task prompt applies to text input, not token ids");
                List<int[]> cut = new ArrayList<>(ids.size());
                for (int i = 0; i < ids.size(); i++) {
                    int[] t = ids.get(i);
                    for (int id : t) {
                        if (id < 0 || id >= embedder.tokenizer().vocabSize()) {
                            throw HttpError.badRequest("field 'input': token id " + id + " of input " + i + " is out of range");
                        }
                    }
                    if (t.length > embedder.maxTokens()) {
                        if (!truncate) throw HttpError.badRequest("input " + i + " has " + t.length + " tokens, more than the model's limit of " + embedder.maxTokens());
                        t = Arrays.copyOf(t, embedder.maxTokens());
                    }
                    cut.add(t);
                }
                float[][] v = embedder.embedIds(cut);
                List<float[]> out = new ArrayList<>();
                int tokens = 0;
                for (int i = 0; i < v.length; i++) {
                    out.add(dimensions > 0 && dimensions < v[i].length ? Embedder.matryoshka(v[i], dimensions) : v[i]);
                    tokens += cut.get(i).length;
                }
                return new Embedded(out, tokens);
            }
            Embeddings e = embedder.embed(new EmbedRequest(texts, prompt, dimensions, truncate));
            return new Embedded(e.vectors(), e.totalTokens());
        } catch (IllegalArgumentException ex) {
            throw HttpError.badRequest(ex.getMessage());
        }
    }

    @Override
    public Info info() {
        return info;
    }

    @Override
    public void close() {
        embedder.close();
    }
}
