package dev.jemma.core.model;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;

import java.nio.file.Path;
import java.util.List;

/** Opens a GGUF file and builds the model for its architecture. */
public final class ModelLoader {
    private ModelLoader() {
    }

    /**
     * Options that shape a loaded model.
     *
     * @param matformer     Gemma 3n MatFormer slice applied at load time ({@link MatFormer#parse} syntax: {@code e2b} or
     *                      {@code ffn=…;skip=…}), or null for the model as stored
     * @param contextLength the longest context the caller will ask {@link LanguageModel#newCache} for; the memory
     *                      plan is checked against it before loading (0: {@link MemoryPlan#defaultContext})
     * @param f32Activations in the default (non-exact) mode, keep f32 activations for every matmul instead of the
     *                      int8 activations Gemma 3's Q4_0/Q8_0 matmuls otherwise use (see {@link #int8})
     */
    public record Options(boolean exact, int threads, int maxBatch, String matformer, int contextLength, boolean f32Activations) {
        /** Options for the model as stored and the default context (see {@link MemoryPlan#defaultContext}). */
        public Options(boolean exact, int threads, int maxBatch) {
            this(exact, threads, maxBatch, null, 0, false);
        }

        public Options(boolean exact, int threads, int maxBatch, String matformer) {
            this(exact, threads, maxBatch, matformer, 0, false);
        }

        public Options withF32Activations(boolean f32) {
            return new Options(exact, threads, maxBatch, matformer, contextLength, f32);
        }

        public static Options defaults() {
            return new Options(false, ThreadPool.defaultThreads(), 64);
        }

        public Options withMatformer(String spec) {
            return new Options(exact, threads, maxBatch, spec, contextLength, f32Activations);
        }

        public Options withContextLength(int contextLength) {
            return new Options(exact, threads, maxBatch, matformer, contextLength, f32Activations);
        }
    }

    /** What loading {@code file} with these options will cost (weights, KV cache, scratch) against what is available. */
    public static MemoryPlan plan(GgufFile file, Options options) {
        return MemoryPlan.of(file, readConfig(file), options.contextLength(), options.maxBatch(), options.matformer());
    }

    /** The values of general.architecture this version can run (load, generate, score). */
    public static final List<String> SUPPORTED_ARCHITECTURES = List.of("gemma3", "gemma3n");

    /** Whether models of architecture {@code arch} can be loaded and run (any valid GGUF can still be shown). */
    public static boolean supports(String arch) {
        return SUPPORTED_ARCHITECTURES.contains(arch);
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
        String arch = ConfigReader.architecture(file);
        if (!supports(arch)) {
            throw file.error("general.architecture: '" + arch + "' is not supported (supported: " + supportedList() + ")");
        }
        return arch;
    }

    public static ModelConfig readConfig(GgufFile file) {
        String arch = requireSupported(file);
        return switch (arch) {
            case "gemma3" -> ConfigReader.read(file, 6, 0);
            case "gemma3n" -> ConfigReader.read(file, 5, 1.0f);
            default -> throw new AssertionError(arch);
        };
    }

    public static MatMul matmulFor(Options o) {
        return o.exact() ? MatMul.EXACT : MatMuls.fast();
    }

    /**
     * Whether a Gemma 3 model gets the interleaved weight copy, whose single-token Q4_0/Q8_0 steps use int8
     * activations (the default mode on 512-bit vector hardware; {@link Options#f32Activations} or
     * {@code -Djemma.int8=false} keep the f32-activation row kernels). Gemma 3n never does: its fixtures show it
     * amplifies activation rounding ~1000×, so it stays on f32 activations.
     */
    static boolean int8(Options o) {
        return !o.exact() && !o.f32Activations() && dev.jemma.core.tensor.kernels.Kernels.ENABLED
                && !"false".equals(System.getProperty("jemma.int8"));
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
        ModelConfig config = readConfig(file);
        MatFormer slice = options.matformer() == null ? null : MatFormer.parse(options.matformer());
        if (slice != null && !config.architecture().equals("gemma3n")) {
            throw new JemmaException(file.path() + ": --matformer applies to gemma3n models only, this one is " + config.architecture());
        }
        // refuse before allocating anything: a clear line beats an OutOfMemoryError or a thrashing machine
        MemoryPlan.of(file, config, options.contextLength(), options.maxBatch(), options.matformer()).check();
        MatMul mm = matmulFor(options);
        return switch (config.architecture()) {
            case "gemma3" -> new Gemma3Model(file, config, mm, pool, options.maxBatch(), ownsFile, int8(options));
            case "gemma3n" -> new Gemma3nModel(file, config, slice, mm, pool, options.maxBatch(), ownsFile);
            default -> throw new AssertionError();
        };
    }
}
