package dev.jemma.core;

import java.nio.file.Path;

/**
 * Every {@code -Djemma.*} system property jemma-core reads, in one place. Each is only the default of an option that
 * code can set directly — {@code EngineOptions} / {@code ModelLoader.Options} for the engine, a {@code ModelStore} or
 * jemma-tools' {@code HubClient} built with explicit arguments for pulls — so the properties keep working from
 * {@code JEMMA_JAVA_OPTS} and the command line while embedding applications never need them.
 *
 * <table>
 * <caption>Properties</caption>
 * <tr><th>property</th><th>default of</th><th>meaning</th></tr>
 * <tr><td>{@code jemma.int8=false}</td><td>{@code EngineOptions.f32Activations}</td><td>keep f32 activations in the
 *     default mode (no int8 activations, no interleaved weight copy)</td></tr>
 * <tr><td>{@code jemma.memory.check=false}</td><td>{@code EngineOptions.checkMemory}</td><td>load even when the memory
 *     plan does not fit</td></tr>
 * <tr><td>{@code jemma.memory.heap}, {@code jemma.memory.available}</td><td>{@code SystemMemory}</td><td>bytes of heap /
 *     of available memory assumed instead of the JVM's and the system's</td></tr>
 * <tr><td>{@code jemma.store.home}</td><td>{@code ModelStore.defaultHome()}</td><td>the model store (else
 *     {@code $JEMMA_HOME}, else {@code ~/.jemma})</td></tr>
 * <tr><td>{@code jemma.cache.dir}</td><td>{@code RepackCache.defaultDir()}</td><td>where repacked-weight caches go (else
 *     {@code <store home>/cache})</td></tr>
 * <tr><td>{@code jemma.hf.endpoint}</td><td>{@code HubClient.fromEnvironment()}</td><td>Hugging Face endpoint (else
 *     {@code $HF_ENDPOINT})</td></tr>
 * <tr><td>{@code jemma.quiet=true}</td><td>—</td><td>no progress lines on stderr (repack cache builds)</td></tr>
 * <tr><td>{@code jemma.hugePages=true|false}</td><td>{@code RepackCache}</td><td>whether the interleaved weights are
 *     copied from the cache file into anonymous memory advised for 2 MB pages (Linux THP) instead of being read through
 *     the file mapping; unset: copied where the copy is large and fits the memory left (docs/PERFORMANCE.md, "2 MB
 *     pages by default")</td></tr>
 * </table>
 * The kernel switches {@code jemma.vectorBits}, {@code jemma.noFastKernels}, {@code jemma.fewTokens} and
 * {@code jemma.int8Tile} (4: the int8 GEMM's 4-token tiles at 512 bits too, for A/B runs) are read once, at class
 * initialisation, by {@code tensor.kernels.VectorWidth}, {@code Kernels}, {@code FastMatMul} and {@code Int8Gemm} (they
 * fix the code paths for the JVM's life; {@code FastMatMul.fewTokensMax(int)} changes the third for benchmarks).
 * {@code jemma.q4OneGroup.off=true} and {@code jemma.q4WidePasses.off=true} (512 bits, read by
 * {@code Int8FewTokens} and {@code Q4WidePasses}) give back the few-token Q4_0 kernel's two-group passes of 2-4 tokens
 * and drop its passes of 5-8 tokens, for A/B runs.
 * {@code jemma.kernelsInC1=true} leaves C1 the kernels {@code tensor.kernels.KernelCompilation} keeps from it (A/B runs);
 * {@code jemma.wholeStepCost=N} (engine's {@code StepScheduler}, read when an engine is built) caps a step's whole
 * prompts beside open streams at about N of their decode steps (0, the default: no cap).
 * {@code jemma.gemma3n.int8Matrices=KIND,…} (read by {@code model.Gemma3nModel} at load, default mode only) is a fidelity
 * probe, not a mode: it leaves Gemma 3n matrices of those kinds ({@code attn_q}, {@code ffn_down}, …) on plain int8
 * activations, without the residual rows every other layer matrix takes (the output projection is on plain int8 already:
 * {@code model.Gemma3nScheme#residualRows}; docs/PERFORMANCE.md, "Gemma 3n text against llama.cpp").
 * {@code jemma.gemma3n.scheme=every|output} (read by {@code model.Gemma3nScheme} at each Gemma 3n load, default mode
 * only) overrides the per-width choice of which Gemma 3n matrices take int8 activations: every matrix (15-bit in the
 * layers, 8-bit in the output projection), or the output projection only (8-bit; f32 layers), for A/B runs
 * (docs/PERFORMANCE.md, "Gemma 3n at every width").
 */
public final class JemmaProperties {
    public static final String INT8 = "jemma.int8", MEMORY_CHECK = "jemma.memory.check", MEMORY_HEAP = "jemma.memory.heap",
            MEMORY_AVAILABLE = "jemma.memory.available", STORE_HOME = "jemma.store.home", CACHE_DIR = "jemma.cache.dir",
            HF_ENDPOINT = "jemma.hf.endpoint", QUIET = "jemma.quiet", HUGE_PAGES = "jemma.hugePages";

    private JemmaProperties() {
    }

    /** False when {@code -Djemma.int8=false}: the default mode keeps f32 activations. */
    public static boolean int8() {
        return !"false".equals(System.getProperty(INT8));
    }

    /** False when {@code -Djemma.memory.check=false}: loads are not refused by the memory plan. */
    public static boolean memoryCheck() {
        return !"false".equalsIgnoreCase(System.getProperty(MEMORY_CHECK));
    }

    /** {@code -Djemma.memory.heap} in bytes, or null. */
    public static Long memoryHeap() {
        return Long.getLong(MEMORY_HEAP);
    }

    /** {@code -Djemma.memory.available} in bytes, or null. */
    public static Long memoryAvailable() {
        return Long.getLong(MEMORY_AVAILABLE);
    }

    /** Jemma's home: {@code -Djemma.store.home}, else {@code $JEMMA_HOME}, else {@code ~/.jemma}. */
    public static Path home() {
        String p = System.getProperty(STORE_HOME);
        if (p == null || p.isBlank()) p = System.getenv("JEMMA_HOME");
        if (p == null || p.isBlank()) return Path.of(System.getProperty("user.home"), ".jemma");
        return Path.of(p);
    }

    /** Repacked-weight caches: {@code -Djemma.cache.dir}, else {@code home()/cache}. */
    public static Path cacheDir() {
        String p = System.getProperty(CACHE_DIR);
        if (p != null && !p.isBlank()) return Path.of(p);
        return home().resolve("cache");
    }

    /** {@code -Djemma.hf.endpoint}, else {@code $HF_ENDPOINT}, else null. */
    public static String hfEndpoint() {
        String ep = System.getProperty(HF_ENDPOINT);
        if (ep == null || ep.isBlank()) ep = System.getenv("HF_ENDPOINT");
        return ep == null || ep.isBlank() ? null : ep.strip();
    }

    /**
     * {@code -Djemma.hugePages}: TRUE for the weight copy in anonymous memory on 2 MB pages wherever the OS gives them,
     * FALSE for the file mapping always, null (unset, or neither word) for {@code RepackCache}'s own choice.
     */
    public static Boolean hugePages() {
        String v = System.getProperty(HUGE_PAGES);
        if ("true".equalsIgnoreCase(v)) return Boolean.TRUE;
        if ("false".equalsIgnoreCase(v)) return Boolean.FALSE;
        return null;
    }

    /** {@code -Djemma.quiet=true}: no progress lines on stderr. */
    public static boolean quiet() {
        return Boolean.getBoolean(QUIET);
    }
}
