package dev.jemma.core.embed;

import dev.jemma.core.JemmaException;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.JitQuiet;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.model.EmbeddingModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A loaded text-embedding model, the embeddings counterpart of {@link dev.jemma.core.engine.Engine}:
 * <pre>{@code
 * try (Embedder e = Embedder.load(Path.of("embeddinggemma-300m-Q8_0.gguf"))) {
 *     float[] q = e.embed(EmbedRequest.of("Which planet is largest?").withPrompt("query")).vectors().get(0);
 * }
 * }</pre>
 * EmbeddingGemma files ({@code gemma-embedding}) give what sentence-transformers gives; a Gemma 3 chat model gives its
 * pooled last hidden states (mean by default, {@code last} or {@code cls} on request), normalised, as llama.cpp's
 * {@code --embeddings} does. Thread-safe: concurrent calls run concurrently.
 */
public final class Embedder implements AutoCloseable {
    /** Tokens per model call when a request has many texts (each text stays whole). */
    private static final int GROUP_TOKENS = 8192;

    private final Path path;
    private final String architecture;
    private final Tokenizer tokenizer;
    private final boolean addEos;
    private final ThreadPool pool;
    private final EmbeddingModel model;
    private final java.util.Map<String, Object> metadata;
    private volatile boolean closed;

    private Embedder(Path path, EngineOptions options, String pooling) {
        this.path = path;
        EmbeddingModel.Pooling p = null;
        if (pooling != null) {
            p = EmbeddingModel.Pooling.parse(pooling);
            if (p != EmbeddingModel.Pooling.MEAN && p != EmbeddingModel.Pooling.CLS && p != EmbeddingModel.Pooling.LAST) {
                throw new IllegalArgumentException("pooling '" + pooling + "' is not supported (mean, cls, last)");
            }
        }
        GgufFile file = GgufFile.open(path);
        ThreadPool tp = null;
        try {
            architecture = ModelLoader.requireSupported(file);
            metadata = file.metadata();
            tokenizer = Tokenizer.fromGguf(file);
            addEos = file.getBool("tokenizer.ggml.add_eos_token", false) && tokenizer.eosId() >= 0;
            tp = new ThreadPool(options.threadsOrDefault());
            model = ModelLoader.loadEmbedding(file, new ModelLoader.Options(options.exact(), tp.threads(), options.maxBatch(),
                    null, options.contextLength(), options.f32Activations(), options.checkMemory()), tp, true, p);
        } catch (RuntimeException | Error e) {
            if (tp != null) tp.close();
            file.close();
            throw e;
        }
        pool = tp;
    }

    public static Embedder load(Path path) {
        return load(path, EngineOptions.defaults());
    }

    /**
     * Loads an embedding model. {@link EngineOptions#contextLength()} is the longest text (0: the model's context, at
     * most 8192 tokens); threads, exact mode and memory checking as for an engine.
     *
     * @throws JemmaException with one line when the file is missing, malformed or makes no embeddings
     */
    public static Embedder load(Path path, EngineOptions options) {
        return new Embedder(path, options, null);
    }

    /** As {@link #load(Path, EngineOptions)} with a pooling ({@code mean}, {@code cls}, {@code last}; null: the file's). */
    public static Embedder load(Path path, EngineOptions options, String pooling) {
        return new Embedder(path, options, pooling);
    }

    public Path path() {
        return path;
    }

    /** The GGUF's {@code general.architecture}: {@code gemma-embedding}, or a chat model's. */
    public String architecture() {
        return architecture;
    }

    /** Whether this is a dedicated embedding model (EmbeddingGemma) rather than a chat model used for embeddings. */
    public boolean isEmbeddingModel() {
        return "gemma-embedding".equals(architecture);
    }

    /** Full width of the vectors (768 for EmbeddingGemma); {@link EmbedRequest#dimensions()} may ask for fewer. */
    public int dimension() {
        return model.dimension();
    }

    /** Most tokens a text may have (longer ones are truncated or refused, see {@link EmbedRequest#truncate()}). */
    public int maxTokens() {
        return model.maxTokens();
    }

    /** {@code mean}, {@code cls} or {@code last}. */
    public String pooling() {
        return model.pooling().name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The GGUF metadata (as {@link dev.jemma.core.engine.Engine#metadata()}). */
    public java.util.Map<String, Object> metadata() {
        return metadata;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * The ids a text becomes: BOS (when the vocabulary adds it), the prompt prefix and text tokenised as one string
     * (special-token syntax in the text stays text), EOS when the file's {@code add_eos_token} says so.
     */
    public int[] tokenize(String text, String prompt) {
        int[] ids = tokenizer.encode(TaskPrompts.prefix(prompt) + text, tokenizer.addsBos(), false);
        if (!addEos) return ids;
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = tokenizer.eosId();
        return out;
    }

    /** Embeds every text of the request (in groups of whole texts), in order. */
    public Embeddings embed(EmbedRequest r) {
        checkOpen();
        int full = model.dimension();
        if (r.dimensions() > full) {
            throw new IllegalArgumentException("dimensions " + r.dimensions() + " exceeds the model's " + full);
        }
        int n = r.texts().size();
        List<int[]> ids = new ArrayList<>(n);
        int[] counts = new int[n];
        boolean[] cut = new boolean[n];
        for (int i = 0; i < n; i++) {
            int[] t = tokenize(r.texts().get(i), r.prompt());
            if (t.length > model.maxTokens()) {
                if (!r.truncate()) {
                    throw new IllegalArgumentException("input " + i + " has " + t.length + " tokens, more than the model's limit of "
                            + model.maxTokens() + " (allow truncation, or shorten it)");
                }
                t = truncate(t, model.maxTokens());
                cut[i] = true;
            }
            ids.add(t);
            counts[i] = t.length;
        }
        List<float[]> out = new ArrayList<>(Arrays.asList(embedIds(ids)));
        if (r.dimensions() > 0 && r.dimensions() < full) out.replaceAll(v -> matryoshka(v, r.dimensions()));
        return new Embeddings(List.copyOf(out), counts, cut);
    }

    /** One text, no prompt, full width. */
    public float[] embed(String text) {
        return embed(EmbedRequest.of(text)).vectors().get(0);
    }

    /**
     * Embeddings of token sequences taken as given (special tokens included; the conformance path, as
     * {@code jemma logits} is for text), full width, normalised.
     */
    public float[][] embedIds(List<int[]> ids) {
        checkOpen();
        for (int i = 0; i < ids.size(); i++) {
            int[] t = ids.get(i);
            if (t.length == 0) throw new IllegalArgumentException("input " + i + " has no tokens");
            if (t.length > model.maxTokens()) {
                throw new IllegalArgumentException("input " + i + " has " + t.length + " tokens, more than the model's limit of " + model.maxTokens());
            }
        }
        float[][] out = new float[ids.size()][];
        int start = 0;
        while (start < ids.size()) {
            int end = start, tokens = 0;
            while (end < ids.size() && (end == start || tokens + ids.get(end).length <= GROUP_TOKENS)) tokens += ids.get(end++).length;
            float[][] part = model.embed(ids.subList(start, end));
            System.arraycopy(part, 0, out, start, part.length);
            start = end;
        }
        return out;
    }

    /**
     * Prepares a serving embedder before its first request ({@code jemma serve} calls it right after loading): embeds
     * texts of the shapes requests bring — one short text (the row-major attention tiles of fewer than 16 rows), one of 64
     * tokens, eight of 64 (a batch), one of {@value #WARM_UP_LONG} (transposed-key attention over many keys) — until the
     * JIT has compiled their kernels ({@link JitQuiet}): a round that spends under 1 % of its time compiling, after at least two, at most
     * {@value #WARM_UP_ROUNDS}. Why: the first requests ran those kernels uncompiled (a boxed vector per Vector API
     * operation), and {@code jemma bench --embed}'s first case read 30-40 % slow until its own warm-up was added
     * (docs/PERFORMANCE.md, emb20c). Returns the rounds run.
     */
    public int warmUp() {
        checkOpen();
        int vocab = tokenizer.vocabSize();
        java.util.function.IntFunction<int[]> text = length -> {
            int n = Math.min(length, model.maxTokens());
            int[] t = new int[n];
            for (int i = 0; i < n; i++) t[i] = (int) ((1L + 7919L * (i + 1)) % vocab);
            return t;
        };
        List<List<int[]>> plan = List.of(List.of(text.apply(8)), List.of(text.apply(64)),
                java.util.Collections.nCopies(8, text.apply(64)), List.of(text.apply(WARM_UP_LONG)));
        return JitQuiet.ofThisJvm().atLeast(2).atMost(WARM_UP_ROUNDS, 0).run(round -> {
            for (List<int[]> texts : plan) embedIds(texts);
        });
    }

    /** Tokens of {@link #warmUp}'s long text. */
    static final int WARM_UP_LONG = 512;
    /** Most rounds {@link #warmUp} runs. */
    static final int WARM_UP_ROUNDS = 4;

    /** The first {@code dims} components, re-normalised (sentence-transformers' {@code truncate_dim} + normalize). */
    public static float[] matryoshka(float[] v, int dims) {
        if (dims <= 0 || dims > v.length) throw new IllegalArgumentException("dimensions " + dims + " outside 1.." + v.length);
        float[] r = Arrays.copyOf(v, dims);
        EmbeddingModel.normalize(r, dims);
        return r;
    }

    /** Keeps the first tokens of an over-long text, and its end-of-text token when it has one. */
    private int[] truncate(int[] t, int max) {
        int[] r = Arrays.copyOf(t, max);
        if (addEos) r[max - 1] = tokenizer.eosId();
        return r;
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("embedder closed");
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        model.close();
        pool.close();
    }
}
