package dev.jemma.core.model;

import dev.jemma.core.JemmaException;
import dev.jemma.core.JemmaProperties;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.memory.MemoryPlan;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;

import java.nio.file.Path;
import java.util.List;

/** Opens a GGUF file and builds the model for its architecture (looked up in {@link Architectures}). */
public final class ModelLoader {
    private ModelLoader() {
    }

    /**
     * Options that shape a loaded model. The short constructors take {@link #f32Activations} and {@link #checkMemory}
     * from {@code -Djemma.int8} and {@code -Djemma.memory.check} ({@link JemmaProperties}).
     *
     * @param matformer     Gemma 3n MatFormer slice applied at load time ({@link MatFormer#parse} syntax: {@code e2b} or
     *                      {@code ffn=…;skip=…}), or null for the model as stored
     * @param contextLength the longest context the caller will ask {@link LanguageModel#newCache} for; the memory
     *                      plan is checked against it before loading (0: {@link MemoryPlan#defaultContext})
     * @param f32Activations in the default (non-exact) mode, keep f32 activations for every matmul instead of the
     *                      int8 activations Gemma 3's Q4_0/Q8_0 matmuls otherwise use (see {@link #int8})
     * @param checkMemory   refuse to load when the {@link #plan memory plan} does not fit
     */
    public record Options(boolean exact, int threads, int maxBatch, String matformer, int contextLength, boolean f32Activations,
                          boolean checkMemory) {
        /** Options for the model as stored and the default context (see {@link MemoryPlan#defaultContext}). */
        public Options(boolean exact, int threads, int maxBatch) {
            this(exact, threads, maxBatch, null);
        }

        public Options(boolean exact, int threads, int maxBatch, String matformer) {
            this(exact, threads, maxBatch, matformer, 0, !JemmaProperties.int8());
        }

        public Options(boolean exact, int threads, int maxBatch, String matformer, int contextLength, boolean f32Activations) {
            this(exact, threads, maxBatch, matformer, contextLength, f32Activations, JemmaProperties.memoryCheck());
        }

        public Options withF32Activations(boolean f32) {
            return new Options(exact, threads, maxBatch, matformer, contextLength, f32, checkMemory);
        }

        public static Options defaults() {
            return new Options(false, ThreadPool.defaultThreads(), 64);
        }

        public Options withMatformer(String spec) {
            return new Options(exact, threads, maxBatch, spec, contextLength, f32Activations, checkMemory);
        }

        public Options withContextLength(int contextLength) {
            return new Options(exact, threads, maxBatch, matformer, contextLength, f32Activations, checkMemory);
        }

        public Options withCheckMemory(boolean check) {
            return new Options(exact, threads, maxBatch, matformer, contextLength, f32Activations, check);
        }
    }

    /**
     * What loading {@code file} with these options will cost (weights, KV cache, scratch) against what is available;
     * in the default mode the matrices are counted as the interleaved copy they are read from
     * ({@link MemoryPlan#copy}: its size in the weight cache, and whether the first load must build it), in exact mode
     * (or with f32 activations) as the GGUF's.
     */
    public static MemoryPlan plan(GgufFile file, Options options) {
        ModelConfig c = readConfig(file);
        MemoryPlan p = plan(file, c, options.contextLength(), options.maxBatch(), options.matformer(), options.threads());
        if (!int8(options)) return p;
        Architecture a = Architectures.of(file);
        return p.withCopy(a.weightCopy(file, c, a.supportsMatformer() ? options.matformer() : null, dev.jemma.core.repack.RepackCache.defaultDir()));
    }

    /**
     * The plan for loading {@code file} (with config {@code c}) for {@code contextLength} positions (0 = the default,
     * {@link MemoryPlan#defaultContext}) with an optional MatFormer slice ({@link MatFormer#parse} syntax; ignored by
     * architectures without one, whose loader refuses it): the sizes are the architecture's.
     */
    public static MemoryPlan plan(GgufFile file, ModelConfig c, int contextLength, int maxBatch, String matformer) {
        return plan(file, c, contextLength, maxBatch, matformer, ThreadPool.capped(0));
    }

    /**
     * As {@link #plan(GgufFile, ModelConfig, int, int, String)} for a pool of {@code threads}. The scratch is one
     * forward's ({@link Architecture#forwardScratch}): an engine runs one forward at a time (its
     * {@code StepScheduler} batches every session's work into one step), so its model keeps one set of buffers, sized
     * for the engine's model batch ({@code EngineOptions.modelBatch()}: a prompt chunk and the streams' tokens).
     */
    public static MemoryPlan plan(GgufFile file, ModelConfig c, int contextLength, int maxBatch, String matformer, int threads) {
        Architecture a = Architectures.of(file);
        String slice = a.supportsMatformer() ? matformer : null;
        Architecture.WeightUse w = a.weightUse(file, c, slice);
        Architecture.ForwardScratch scratch = a.forwardScratch(file, c, maxBatch, threads, slice);
        return MemoryPlan.of(file, contextLength, c.contextLength(), maxBatch, w.weightBytes(), w.mappedBytes(),
                a.kvLayout(file, c, slice), scratch.fixedBytes(), scratch.bytesPerKey(), c.vocabSize());
    }

    /** As {@link #plan(GgufFile, ModelConfig, int, int, String)} for the model as stored. */
    public static MemoryPlan plan(GgufFile file, ModelConfig c, int contextLength, int maxBatch) {
        return plan(file, c, contextLength, maxBatch, null);
    }

    /** The values of general.architecture this version can run (load, generate, score): those in {@link Architectures}. */
    public static final List<String> SUPPORTED_ARCHITECTURES = Architectures.names();

    /** Whether models of architecture {@code arch} can be loaded and run (any valid GGUF can still be shown). */
    public static boolean supports(String arch) {
        return Architectures.byName(arch) != null;
    }

    /** "gemma3, gemma3n": for messages about unsupported architectures. */
    public static String supportedList() {
        return String.join(", ", SUPPORTED_ARCHITECTURES);
    }

    /**
     * The file's architecture, or the one-line refusal when this version cannot run it: callers that read other parts
     * of the file first (the tokenizer) call it up front, so that an embedding model or a multimodal projector is
     * refused for what it is rather than for a key it lacks.
     */
    public static String requireSupported(GgufFile file) {
        return Architectures.of(file).name();
    }

    public static ModelConfig readConfig(GgufFile file) {
        return Architectures.of(file).readConfig(file);
    }

    public static MatMul matmulFor(Options o) {
        return o.exact() ? MatMul.EXACT : MatMuls.fast();
    }

    /**
     * Whether a Gemma 3 model gets the interleaved weight copy, whose single-token Q4_0/Q8_0 steps use int8
     * activations (the default mode on 512-bit vector hardware; {@link Options#f32Activations}, whose default is
     * {@code -Djemma.int8=false}, keeps the f32-activation row kernels). A Gemma 3n model gives every matrix the copy
     * with residual rows (~15-bit activations): its fixtures amplify the plain int8 rounding of any layer matrix ~1000×.
     */
    static boolean int8(Options o) {
        return !o.exact() && !o.f32Activations() && dev.jemma.core.tensor.kernels.Kernels.ENABLED;
    }

    /**
     * The longest text an embedder built with these options takes: {@link Options#contextLength} when set, else the
     * model's context (at most 8192, which bounds the one-call scratch a text needs).
     */
    static int embeddingTokens(ModelConfig c, Options o) {
        if (o.contextLength() > 0) return o.contextLength();
        return Math.max(1, Math.min(c.contextLength() > 0 ? c.contextLength() : 8192, 8192));
    }

    /** The memory plan of {@code file} loaded as an embedder: weights and scratch, no KV cache, no logits. */
    public static MemoryPlan planEmbedding(GgufFile file, Options options) {
        Architecture a = Architectures.of(file);
        ModelConfig c = a.readConfig(file);
        int tokens = embeddingTokens(c, options);
        Architecture.WeightUse w = a.weightUse(file, c, null);
        MemoryPlan p = MemoryPlan.of(file, tokens, c.contextLength(), Math.max(options.maxBatch(), tokens), w.weightBytes(), w.mappedBytes(),
                new dev.jemma.core.kv.KvLayout(new int[0], new int[0], new int[0]), a.embeddingScratchBytes(c, Math.max(options.maxBatch(), tokens)), 0, 0);
        return int8(options) ? p.withCopy(a.weightCopy(file, c, null, dev.jemma.core.repack.RepackCache.defaultDir())) : p;
    }

    /**
     * Loads {@code file} as a text embedder ({@code pooling} null: the file's or the architecture's default); the
     * embedder owns the file when {@code ownsFile}. An architecture that makes no embeddings is refused in one line.
     */
    public static EmbeddingModel loadEmbedding(GgufFile file, Options options, ThreadPool pool, boolean ownsFile,
                                               EmbeddingModel.Pooling pooling) {
        Architecture arch = Architectures.of(file);
        if (options.matformer() != null) throw new JemmaException(file.path() + ": --matformer does not apply to embeddings");
        ModelConfig config = arch.readConfig(file);
        planEmbedding(file, options).check(options.checkMemory());
        return arch.loadEmbedding(file, config, options, pool, ownsFile, pooling);
    }

    /** Loads from a path; the model owns the file and the thread pool is the caller's. */
    public static LanguageModel load(Path path, Options options, ThreadPool pool) {
        GgufFile file = GgufFile.open(path);
        try {
            return load(file, options, pool, true);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    public static LanguageModel load(GgufFile file, Options options, ThreadPool pool, boolean ownsFile) {
        Architecture arch = Architectures.of(file);
        ModelConfig config = arch.readConfig(file);
        if (options.matformer() != null) {
            MatFormer.parse(options.matformer()); // a bad spec is refused first, whatever the architecture
            if (!arch.supportsMatformer()) {
                throw new JemmaException(file.path() + ": --matformer applies to gemma3n models only, this one is " + config.architecture());
            }
        }
        // refuse before allocating anything: a clear line beats an OutOfMemoryError or a thrashing machine. The plan is
        // the one the engine and jemma show use (the weight copy the default mode maps, the threads' attention rows)
        plan(file, options).check(options.checkMemory());
        return arch.load(file, config, options, pool, ownsFile);
    }
}
