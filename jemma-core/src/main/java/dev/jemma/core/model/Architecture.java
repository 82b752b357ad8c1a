package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.kv.KvLayout;
import dev.jemma.core.tensor.ThreadPool;

/**
 * One model architecture, keyed by the GGUF's {@code general.architecture}: everything the engine needs to know
 * about it beyond the forward pass. {@link ModelLoader} looks the file's architecture up in {@link Architectures} and
 * asks it for the config, the model, the KV-cache shape and the scratch size (the memory plan is computed from these
 * before anything is allocated). Adding an architecture: implement this beside its model class and list it in
 * {@link Architectures} (docs/ARCHITECTURE.md has the checklist).
 */
public interface Architecture {
    /** The {@code general.architecture} value this handles, e.g. {@code gemma3}. */
    String name();

    /**
     * The config from the file's metadata, this architecture's defaults applied where the file is silent. Every value
     * is checked against a sane range and against the shapes of the tensors the model will read, so that nothing is
     * sized from a corrupt value: a mismatch is a {@link dev.jemma.core.gguf.GgufFormatException} naming the file, the
     * key and the value.
     */
    ModelConfig readConfig(GgufFile file);

    /** Builds the model ({@code config} from {@link #readConfig}); the model owns the file when {@code ownsFile}. */
    LanguageModel load(GgufFile file, ModelConfig config, ModelLoader.Options options, ThreadPool pool, boolean ownsFile);

    /**
     * The KV cache the loaded model allocates (its {@link LanguageModel#newCache} uses the same layout), for the model
     * as {@link #load} builds it with MatFormer slice {@code matformer} (null: as stored).
     */
    KvLayout kvLayout(GgufFile file, ModelConfig config, String matformer);

    /** Bytes of the forward pass's per-batch buffers (activations, logits) for batches of {@code maxBatch} tokens. */
    long scratchBytes(GgufFile file, ModelConfig config, int maxBatch, String matformer);

    /**
     * All the scratch one forward holds, what the memory plan counts per forward: the per-batch buffers
     * ({@link #scratchBytes}) and the attention workers' score rows, which grow with the keys a query sees (at most the
     * context, or the batch where there is no cache) and with the threads of the pool.
     */
    default ForwardScratch forwardScratch(GgufFile file, ModelConfig config, int maxBatch, int threads, String matformer) {
        return new ForwardScratch(scratchBytes(file, config, maxBatch, matformer)
                + dev.jemma.core.tensor.attention.Attention.scratchBytesFixed(threads, config.heads() / config.kvHeads()),
                dev.jemma.core.tensor.attention.Attention.scratchBytesPerKey(threads, config.heads() / config.kvHeads()));
    }

    /**
     * One forward's scratch: {@code fixedBytes} whatever the context, plus {@code bytesPerKey} per key a query can see
     * (the context, or the batch when that is larger).
     */
    record ForwardScratch(long fixedBytes, long bytesPerKey) {
        public long bytesAt(int contextLength, int maxBatch) {
            return fixedBytes + bytesPerKey * Math.max(contextLength, maxBatch);
        }
    }

    /**
     * Bytes of tensor data the model reads, and the part of it read a row per token that stays mapped from disk
     * rather than resident. Default: every tensor in the file, nothing sparsely read.
     */
    default WeightUse weightUse(GgufFile file, ModelConfig config, String matformer) {
        long all = 0;
        for (var t : file.tensors().values()) all += t.byteSize();
        return new WeightUse(all, 0);
    }

    /**
     * The interleaved copy ({@link dev.jemma.core.repack.RepackCache}) that {@link #load} in the default mode reads
     * this model's matrices from, with MatFormer slice {@code matformer} (null: as stored), without building it: its
     * file in {@code dir}, size, whether it is there yet. Null where the model makes none.
     */
    default dev.jemma.core.memory.WeightCopy weightCopy(GgufFile file, ModelConfig config, String matformer, java.nio.file.Path dir) {
        return null;
    }

    /**
     * Builds the model as a text embedder ({@code pooling} null: the file's {@code pooling_type}, else this
     * architecture's default). Architectures that only make embeddings refuse {@link #load}; those that cannot make
     * them refuse this.
     */
    default EmbeddingModel loadEmbedding(GgufFile file, ModelConfig config, ModelLoader.Options options, ThreadPool pool,
                                         boolean ownsFile, EmbeddingModel.Pooling pooling) {
        throw file.error(name() + " models do not make embeddings");
    }

    /** Bytes of the embedder's per-batch buffers for texts of up to {@code maxTokens} tokens. */
    default long embeddingScratchBytes(ModelConfig config, int maxTokens) {
        return 0;
    }

    /** Whether this architecture generates text ({@link #load}); false for embedding-only models. */
    default boolean generatesText() {
        return true;
    }

    /** How the file's vocabulary is tokenized. */
    default TokenizerKind tokenizer() {
        return TokenizerKind.SENTENCEPIECE_BPE;
    }

    /** Whether {@link ModelLoader.Options#matformer} (a load-time MatFormer slice) applies to this architecture. */
    default boolean supportsMatformer() {
        return false;
    }

    /** @param weightBytes bytes of tensor data read; @param mappedBytes the part read sparsely (left on disk) */
    record WeightUse(long weightBytes, long mappedBytes) {
    }

    /** Tokenizer families (the file's {@code tokenizer.ggml.model}). */
    enum TokenizerKind {
        /** SentencePiece BPE with byte fallback ({@code tokenizer.ggml.model = llama}), as in every Gemma. */
        SENTENCEPIECE_BPE
    }
}
