package dev.jemma.core.model;

import dev.jemma.core.kv.KvCache;

/**
 * A decoder-only language model over a mapped GGUF file. {@link #forward} consumes tokens at the cache's next
 * positions, appends their keys/values to the cache and returns logits. Forwards on different caches may run at the same time (each takes its own scratch); one cache serves
 * one forward at a time.
 */
public interface LanguageModel extends AutoCloseable {
    ModelConfig config();

    /** A fresh cache for up to {@code contextLength} positions. */
    KvCache newCache(int contextLength);

    /**
     * Bytes of forward scratch the model holds now: the buffers of every forward that has run, kept for the next ones
     * (one set per forward that ran at the same time as others). What the memory plan's scratch
     * ({@link Architecture#forwardScratchBytes}) must cover, less the logits a forward returns.
     */
    long scratchBytesHeld();

    /**
     * Runs a batch of rows — each a token or an input embedding at a position of a sequence — appending their
     * keys/values to their sequences' caches, and returns the logits of the rows that ask for them, row-major
     * [{@link Batch#logitRows()} × vocab]. Any number of rows (longer batches run in chunks of {@link #maxBatch()}).
     * Forwards over different caches may run concurrently.
     */
    float[] forward(Batch batch);

    /**
     * As {@link #forward(Batch)}, but the logits go into {@code into} (its first {@link Batch#logitRows()} × vocab
     * floats) when it is long enough, and that array is returned; otherwise a new one, as there. A caller that runs
     * step after step (the engine's scheduler) keeps one buffer rather than getting a new array every step — at 8
     * decode rows 8 MB, which G1 allocates as humongous regions, and the garbage grew the committed heap.
     */
    default float[] forward(Batch batch, float[] into) {
        return forward(batch);
    }

    /**
     * A forward for warming the JIT up ({@code Engine.warmUp}): the same kernels at the same shapes (rows per call,
     * matrix types and sizes, attention kinds) as {@link #forward(Batch, float[])}, but a model may run fewer layers —
     * one of each kind — so that a large model's warm-up costs what a small one's does; its logits mean nothing, and
     * the caches it writes must be the warm-up's own. By default the whole forward.
     */
    default float[] warmUpForward(Batch batch, float[] into) {
        return forward(batch, into);
    }

    /** Whether {@link #warmUpForward} runs fewer layers than {@link #forward(Batch, float[])} does. */
    default boolean warmsUpFewerLayers() {
        return false;
    }

    /**
     * Runs {@code count} tokens from {@code tokens[offset..]} at positions {@code cache.length()…} (any count: longer
     * inputs are processed in batches of {@link #maxBatch()}).
     *
     * @param allLogits true: logits of every token, row-major [count × vocab]; false: only the last token's [vocab]
     */
    default float[] forward(int[] tokens, int offset, int count, KvCache cache, boolean allLogits) {
        return forward(Batch.of(tokens, offset, count, cache, allLogits));
    }

    /** Largest number of tokens {@link #forward} accepts in one call (its scratch buffers' size). */
    int maxBatch();

    /**
     * Parts of the mapped file this model reads only sparsely — Gemma 3n's per-layer-embedding table, one row per
     * token — which should stay mapped rather than be paged in up front (they are most of a Gemma 3n file).
     */
    default java.util.List<java.lang.foreign.MemorySegment> sparselyReadRegions() {
        return java.util.List.of();
    }

    /**
     * Where the weights the fast kernels read live, in words ("2 MB pages (anonymous copy)", "file mapping, 4 KB pages
     * (why)"), for {@code --verbose} and {@code jemma bench}; null where the model reads its file's tensors directly.
     */
    default String weightPages() {
        return null;
    }

    @Override
    void close();
}
