package dev.jemma.core.engine;

import dev.jemma.core.JemmaException;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.chat.ChatTemplate;
import dev.jemma.core.chat.ConversationFitter;
import dev.jemma.core.constrain.GrammarVocabulary;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.mobilenet.Gemma3nImageEncoder;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.Architecture;
import dev.jemma.core.model.Architectures;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelConfig;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A loaded model: the mapped GGUF file, its tokenizer and chat template, and a thread pool. The entry point of the
 * embeddable API:
 * <pre>{@code
 * try (Engine engine = Engine.load(Path.of("gemma-3-1b-it-Q4_0.gguf"));
 *      Session chat = engine.newSession()) {
 *     String answer = chat.chat("Why is the sky blue?").text();
 * }
 * }</pre>
 *
 * <p><b>Thread-safety:</b> an engine is thread-safe. Any number of {@link Session sessions} may be used from
 * different threads; each has its own KV cache. Their forward passes are batched (continuous batching, see
 * {@link StepScheduler}): each model step runs the next token of every decoding session and prompt chunks of the
 * others together, up to {@link EngineOptions#maxBatch()} tokens, so the weights are read once for all of them and a
 * long prompt does not stop the other streams. {@link #close()} waits for the running and queued steps, then unmaps
 * the file; sessions fail with {@link IllegalStateException} afterwards.
 */
public final class Engine implements AutoCloseable {
    private final Path path;
    private final EngineOptions options;
    private final ThreadPool pool;
    private final LanguageModel model;
    private final Tokenizer tokenizer;
    private final ChatTemplate template;
    private final ModelConfig config;
    private final Map<String, Object> metadata;
    private final int contextLength;
    private final GenerationOptions defaults;
    /** The file's own recommendations, without the engine's options over them (see {@link #fileSampling}). */
    private final GenerationOptions fileSampling;
    private final long loadNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private final StepScheduler scheduler;
    /** Requests on their way to this engine (see {@link #arrivals}). */
    private final Arrivals arrivals;
    /** The image encoder, or null for a text-only model. */
    private final Vision vision;
    /** A Gemma 3n model's mmproj (its embedders serve the text model; its towers the media), or null. */
    private final Gemma3nMmproj media3n;
    /** A Gemma 3n model's audio side (the mmproj's audio tower and HF's prompt conventions), or null. */
    private final Media3n audio3n;
    /** What the load warned about, one line each. */
    private final List<String> warnings;
    /** The KV caches sessions take turns with, or null: every session its own cache ({@link EngineOptions#parallel()} 0). */
    private final KvPool kvPool;
    private final long kvBytesPerSequence;
    /** What the loader planned for this engine (its KV pool included); its scratch is one forward's, as the scheduler runs them. */
    private final dev.jemma.core.memory.MemoryPlan memoryPlan;
    private volatile boolean closed;
    private volatile GrammarVocabulary grammarVocabulary;

    private Engine(Path path, EngineOptions options) {
        long t0 = System.nanoTime();
        this.path = path;
        this.options = options;
        GgufFile file = GgufFile.open(path);
        ThreadPool p = null;
        Vision v = null;
        Gemma3nMmproj mm3n = null;
        Media3n a3n = null;
        List<String> warns = new java.util.ArrayList<>();
        try {
            metadata = file.metadata();
            // the architecture first, so that a file this version cannot run is refused for what it is
            Architecture arch = Architectures.of(file);
            tokenizer = switch (arch.tokenizer()) {
                case SENTENCEPIECE_BPE -> Tokenizer.fromGguf(file);
            };
            String bos = tokenizer.bosId() >= 0 ? tokenizer.piece(tokenizer.bosId()) : "";
            String eos = tokenizer.eosId() >= 0 ? tokenizer.piece(tokenizer.eosId()) : "";
            template = ChatTemplate.fromGguf(file, bos, eos);
            // every id the tokenizer can produce needs an embedding row, every output row a token: checked before loading
            int rows = ModelLoader.readConfig(file).vocabSize();
            if (rows != tokenizer.vocabSize()) {
                throw file.error("tokenizer.ggml.tokens: " + tokenizer.vocabSize() + " tokens, but token_embd.weight has " + rows
                        + " rows (one per token)");
            }
            p = new ThreadPool(options.threadsOrDefault());
            // a step holds a prompt chunk and the running streams' tokens: the model's batch takes a whole chunk
            ModelLoader.Options mo = new ModelLoader.Options(options.exact(), p.threads(), options.modelBatch(),
                    options.matformer(),
                    options.contextLength(), options.f32Activations(), options.checkMemory());
            if ("gemma3".equals(arch.name())) {
                v = Vision.open(file, path, options, ModelLoader.matmulFor(mo), ModelLoader.readConfig(file).dim(), tokenizer, warns);
            } else if ("gemma3n".equals(arch.name())) {
                mm3n = openGemma3nMmproj(file, path, options, ModelLoader.matmulFor(mo), p, warns);
                if (mm3n != null && mm3n.hasVision()) {
                    v = Vision.of(Gemma3nImageEncoder.open(mm3n, ModelLoader.matmulFor(mo)), tokenizer, mm3n.path());
                }
                if (options.panAndScan() && v != null) {
                    throw new JemmaException("pan-and-scan is Gemma 3's; Gemma 3n's image processor has none (drop the pan-and-scan option)");
                }
            } else if (options.mmproj() != null) {
                throw new JemmaException(options.mmproj() + ": vision projectors are supported for gemma3 and gemma3n models only, this one is " + arch.name());
            }
            // an image's soft tokens attend to each other in one forward call, so a call must hold a whole image
            if (v != null && v.encoder.bidirectional() && mo.maxBatch() < v.tokensPerImage()) {
                mo = new ModelLoader.Options(mo.exact(), mo.threads(), v.tokensPerImage(), mo.matformer(), mo.contextLength(),
                        mo.f32Activations(), mo.checkMemory());
            }
            // the loader's plan for this context (0 = the same default as below), with what the engine adds to it: a
            // KV pool's caches, and where images will come, the vision tower's copy that the first one builds and the
            // heap an image's encoding holds (one at a time: encodeImage holds the engine's lock)
            dev.jemma.core.memory.MemoryPlan plan = ModelLoader.plan(file, mo);
            if (options.images() && v != null) {
                plan = plan.withImages(v.encoder.firstImageCopy(dev.jemma.core.repack.RepackCache.defaultDir()), v.encoder.scratchBytes());
            }
            if (options.parallel() > 1) plan = plan.withSequences(options.parallel());
            kvBytesPerSequence = plan.kvBytesPerSequence();
            memoryPlan = plan.check(mo.checkMemory());
            // checked above, whole: the loader's own check would repeat a part of it
            model = ModelLoader.load(file, mo.withCheckMemory(false), p, true);
            if (mm3n != null) mm3n.attachTo(model);
            config = model.config();
            if (mm3n != null && mm3n.hasAudio()) {
                a3n = Media3n.open(mm3n, (dev.jemma.core.model.Gemma3nModel) model, ModelLoader.matmulFor(mo), tokenizer, options.audioTokensOrDefault());
            }
            int trained = config.contextLength() > 0 ? config.contextLength() : EngineOptions.DEFAULT_CONTEXT_CAP;
            contextLength = options.contextLength() > 0 ? options.contextLength() : Math.min(trained, EngineOptions.DEFAULT_CONTEXT_CAP);
            fileSampling = fileDefaults(file, warns);
            defaults = options.generation().orElse(fileSampling);
            if (options.loadProgress() != null) prefault(file.segment(), model.sparselyReadRegions(), options.loadProgress());
        } catch (RuntimeException | Error e) {
            if (v != null) v.close();
            if (mm3n != null) mm3n.close();
            if (p != null) p.close();
            file.close();
            throw e;
        }
        pool = p;
        // between two steps the sessions sample on their own threads: the pool's workers park rather than spin there
        arrivals = options.arrivals() != null ? options.arrivals() : new Arrivals();
        scheduler = new StepScheduler(model, model.maxBatch(), options.batchChunkOrDefault(), options.wholePromptOrDefault(),
                options.admissionMillis() * 1_000_000L, options.parallel(), arrivals, pool::rest);
        kvPool = options.parallel() > 0 ? new KvPool(options.parallel(), contextLength, model::newCache) : null;
        vision = v;
        media3n = mm3n;
        audio3n = a3n;
        warnings = List.copyOf(warns);
        loadNanos = System.nanoTime() - t0;
    }

    /** Loads a GGUF model with default options. */
    public static Engine load(Path path) {
        return load(path, EngineOptions.defaults());
    }

    /**
     * Loads a GGUF model.
     *
     * @throws JemmaException with a one-line message when the file is missing, malformed or unsupported
     */
    public static Engine load(Path path, EngineOptions options) {
        return new Engine(path, options);
    }

    /**
     * Sampling recommendations some GGUF files carry ({@code general.sampling.*}), the layer under the engine's defaults;
     * what the file names that Jemma lacks is added to {@code warnings}. Public for {@code jemma show}.
     *
     * @throws JemmaException naming the file and key when a value is out of range
     */
    public static GenerationOptions fileDefaults(GgufFile f, List<String> warnings) {
        GenerationOptions.Builder b = GenerationOptions.builder();
        if (f.has("general.sampling.sequence")) b.samplers(fileSamplers(f.getString("general.sampling.sequence"), warnings));
        if (f.has("general.sampling.temp")) b.temperature((float) f.getDouble("general.sampling.temp", 1));
        if (f.has("general.sampling.top_k")) b.topK(f.getInt("general.sampling.top_k", 64));
        if (f.has("general.sampling.top_p")) b.topP((float) f.getDouble("general.sampling.top_p", 0.95));
        if (f.has("general.sampling.min_p")) b.minP((float) f.getDouble("general.sampling.min_p", 0));
        if (f.has("general.sampling.penalty_repeat")) b.repeatPenalty((float) f.getDouble("general.sampling.penalty_repeat", 1));
        if (f.has("general.sampling.penalty_last_n")) b.repeatLastN(f.getInt("general.sampling.penalty_last_n", 64));
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw f.error("general.sampling.*: " + e.getMessage());
        }
    }

    /**
     * {@code general.sampling.sequence}: the file's sampler order, names separated by ';', as llama.cpp reads it — a
     * name it cannot match is left out with a warning, not a reason to refuse the model; null (the default order) when
     * no name is left.
     */
    static dev.jemma.core.sampling.SamplerChain fileSamplers(String names, List<String> warnings) {
        List<String> known = new java.util.ArrayList<>();
        for (String n : names.split(";")) {
            if (n.isBlank()) continue;
            if (dev.jemma.core.sampling.SamplerStage.named(n.strip()) != null) known.add(n.strip());
            else warn(warnings, "general.sampling.sequence: sampler '" + dev.jemma.core.Printable.line(n) + "' is not one Jemma has; left out");
        }
        return known.isEmpty() ? null : dev.jemma.core.sampling.SamplerChain.ofNames(known);
    }

    /** Touches every page of the mapping so the first answer does not stall on disk reads; reports progress. */
    private static void prefault(MemorySegment seg, java.util.List<MemorySegment> skip, java.util.function.DoubleConsumer progress) {
        long size = seg.byteSize(), step = 4096, chunk = Math.max(step, size / 100);
        long sink = 0;
        // regions the model reads sparsely (Gemma 3n's PLE table) stay on disk: paging them in would defeat their point
        long[][] holes = skip.stream().map(r -> new long[]{r.address() - seg.address(), r.address() - seg.address() + r.byteSize()})
                .sorted(java.util.Comparator.comparingLong(h -> h[0])).toArray(long[][]::new);
        int hole = 0;
        for (long off = 0; off < size; off += step) {
            while (hole < holes.length && off >= holes[hole][1]) hole++;
            if (hole < holes.length && off >= holes[hole][0]) {
                off = holes[hole][1] - step;
                continue;
            }
            sink += seg.get(java.lang.foreign.ValueLayout.JAVA_BYTE, off);
            if (off % chunk < step) progress.accept((double) off / size);
        }
        progress.accept(1.0);
        if (sink == 42) Thread.onSpinWait(); // keeps the reads from being optimised away
    }

    /** A new conversation with its own KV cache (allocated on first use). */
    public Session newSession() {
        return new Session(this, null);
    }

    /** A new conversation that starts with a system prompt (folded into the first user turn by Gemma's template). */
    public Session newSession(String systemPrompt) {
        return new Session(this, systemPrompt);
    }

    /** One-shot convenience: answers a single user message in a throw-away session. */
    public String generate(String userMessage) {
        try (Session s = newSession()) {
            return s.chat(userMessage).text();
        }
    }

    /** The model file. */
    public Path path() {
        return path;
    }

    public EngineOptions options() {
        return options;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    public ChatTemplate chatTemplate() {
        return template;
    }

    /** Hyper-parameters read from the file. */
    public ModelConfig config() {
        return config;
    }

    /** The file's metadata (GGUF keys to values; arrays as Java arrays). */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** Tokens a session holds (prompt + output). */
    public int contextLength() {
        return contextLength;
    }

    /** The defaults every request starts from (engine options over the file's recommendations). */
    public GenerationOptions defaults() {
        return defaults;
    }

    /**
     * The file's sampling recommendations alone ({@code general.sampling.*}, unset where the file says nothing): what
     * chat's {@code /set samplers default} goes back to, under flags that {@link #defaults} already carries.
     */
    public GenerationOptions fileSampling() {
        return fileSampling;
    }

    /** Time {@link #load} took. */
    public long loadNanos() {
        return loadNanos;
    }

    /** Where the model's weight copy lives ({@link LanguageModel#weightPages}), or null. */
    public String weightPages() {
        return model.weightPages();
    }

    /** Whether the model takes images (a Gemma 3 model with a vision tower: its mmproj file, or inside the file). */
    public boolean supportsImages() {
        return vision != null;
    }

    /** Soft tokens one image takes in the prompt (0 for a text-only model). */
    public int tokensPerImage() {
        return vision == null ? 0 : vision.tokensPerImage();
    }

    /** Whether the model hears: Gemma 3n with an mmproj that has the audio tower. */
    public boolean supportsAudio() {
        return audio3n != null;
    }

    /** The Gemma 3n mmproj in use (given, or found beside the model), or null. */
    public Path mmprojFile() {
        return media3n == null ? null : media3n.path();
    }

    /** Where the vision tower was read from (the mmproj file, or the model itself), or null. */
    public Path visionFile() {
        return vision == null ? null : vision.encoder.path();
    }

    /** Renders a conversation with the model's chat template (for display: see {@link #renderPrompt} for the model). */
    public String renderChat(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return template.render(messages, addGenerationPrompt);
    }

    /**
     * Renders a conversation for the model to read: like {@link #renderChat}, but control-token text inside the
     * messages ({@code <end_of_turn>} typed by a user) is marked to stay text ({@link Tokenizer#protect}); tokenize the
     * result with {@link Tokenizer#encodePrompt}. Only the template's own turn markers become control tokens, as in
     * llama.cpp, which tokenizes message content with {@code parse_special} off.
     */
    public String renderPrompt(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<ChatMessage> protectedMessages = new java.util.ArrayList<>(messages.size());
        for (ChatMessage m : messages) protectedMessages.add(m.withContent(tokenizer.protect(m.content())));
        return template.render(protectedMessages, addGenerationPrompt);
    }

    /** Renders and counts prompts of this model for {@link ConversationFitter}. */
    public ConversationFitter.Codec promptCodec() {
        return new ConversationFitter.Codec() {
            @Override
            public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
                return renderPrompt(messages, addGenerationPrompt);
            }

            @Override
            public int[] encode(String rendered) {
                return tokenizer.encodePrompt(rendered);
            }

            @Override
            public int contentTokens(String content) {
                return tokenizer.encodePrompt(tokenizer.protect(content)).length;
            }

            @Override
            public long minTokens(String text) {
                return tokenizer.minTokens(text);
            }
        };
    }

    // ------------------------------------------------------------ for sessions

    /** A cache of the engine's context outside the pool (tests). */
    KvCache newCache() {
        checkOpen();
        return model.newCache(contextLength);
    }

    /**
     * The cache a session generates with: without a pool its own ({@code current}, or a new one); with a pool the one
     * it held, if still its, else a free one, waiting while all are in generations (until {@code cancelled}).
     */
    KvCache acquireCache(Session s, KvCache current, java.util.function.BooleanSupplier cancelled) {
        checkOpen();
        if (kvPool == null) return current != null ? current : model.newCache(contextLength);
        return kvPool.acquire(s, cancelled);
    }

    /** Ends a session's generation: its cache stays its own until the pool needs it for another. */
    void releaseCache(Session s) {
        if (kvPool != null) kvPool.release(s);
    }

    /** A closed or cleared session gives its cache back to the pool. */
    void dropCache(Session s) {
        if (kvPool != null) kvPool.drop(s);
    }

    /** Whether {@code cache} is still the session's (always, without a pool). */
    boolean holdsCache(Session s, KvCache cache) {
        return cache != null && (kvPool == null || kvPool.holds(s, cache));
    }

    /**
     * Prepares a serving engine before its first request (the server calls it right after loading a model, before the
     * model is served; call it before any session generates): runs the batch shapes continuous batching will run
     * ({@link #warmUpPlan}: steps of 1 to {@code parallel} decode rows, every split of the few-token kernels, a prompt
     * chunk beside decode rows, a prompt alone) on small caches of its own through one layer of each kind
     * ({@link LanguageModel#warmUpForward}) until the JIT has compiled their kernels (or {@value #MAX_WARM_UP_MS} ms and
     * {@value #WARM_UP_ROUNDS} rounds have passed), then allocates every cache of the KV pool. Why: the first steps of a new shape run their Vector API kernels uncompiled, which allocates a
     * boxed vector per operation — hundreds of MB a second of garbage for a few seconds — and G1 grows the heap to meet
     * it; when that first happened under load, beside the pool's freshly allocated caches (each 2 × 44 contiguous 1 MB
     * regions for the 1B file), the peak RSS passed the memory plan + 200 MB (C = 4: VmHWM 1516 MiB against 1421, loaded
     * machine; docs/PERFORMANCE.md "Serving"). Here the burst meets a nearly empty heap, and the caches are allocated
     * after it, contiguous, as the plan counted them. Returns the rounds run. Without a KV pool it does nothing.
     */
    public int warmUp() {
        if (kvPool == null) return 0;
        int[] rounds = new int[1];
        // as a step of its own: a session that generates meanwhile waits for it (the model keeps one set of buffers)
        scheduler.alone(() -> rounds[0] = warmUpSteps());
        // the JIT's freed compilation arenas (up to ~200 MB for one kernel compilation) back to the OS before the pool
        // takes its memory: glibc keeps them otherwise, and they sat on top of the plan in the serving peak RSS
        NativeHeap.trim();
        // and the warm-up's heap: its caches and the boxed vectors of code not yet compiled (young collections of ~200 MB
        // every few tenths of a second) left G1 with a few hundred MB of touched regions, garbage by now. Collected and the
        // heap shrunk to what is live (the serve flags' MaxHeapFreeRatio) before the pool's caches are allocated, those
        // regions go back to the OS instead of sitting beside the pool, which G1 otherwise grew the heap for (peak RSS right
        // after the pool's allocation 1756 MiB against the plan + 200 MB's 1774, before a request; loaded machine,
        // docs/PERFORMANCE.md "Peak RSS and TTFT at four and eight streams"). Once, at load: a full collection of a heap
        // that holds little but the model's scratch.
        System.gc();
        kvPool.allocateAll();
        return rounds[0];
    }

    private int warmUpSteps() {
        List<int[]> plan = warmUpPlan(options.parallel(), options.batchChunkOrDefault(), model.maxBatch());
        final int rows = plan.stream().mapToInt(step -> step[0]).max().orElse(0);
        int prompt = plan.stream().mapToInt(step -> step[1]).max().orElse(0);
        // a prompt longer than the model's batch, run in parts as the scheduler runs a whole prompt: its later parts attend
        // to the earlier ones' keys, the transposed-key tiles over spans of up to LONG_WARM_UP_PROMPT keys, which the short
        // plan's prompts (at most 17 keys) never reach; the first long prompt while serving paid that compilation
        int longPrompt = Math.min(LONG_WARM_UP_PROMPT, Math.max(0, contextLength - 2 * rows - 8));
        prompt = Math.max(prompt, longPrompt);
        // a decode row's cache holds one token per step of a round (it is cleared after each round); only the prompt rows'
        // cache needs the long prompt's context. Each sized to what it holds: at --parallel 8 nine caches of the long
        // prompt's context were ~90 MB of the 1B's heap in the warm-up, and G1 kept the regions they had touched
        int context = Math.min(contextLength, prompt + 2 * rows + 8);
        int decodeContext = Math.min(context, plan.size() + LONG_WARM_UP_ROUNDS + 8);
        java.util.List<KvCache> caches = new java.util.ArrayList<>();
        for (int i = 0; i < rows; i++) caches.add(model.newCache(decodeContext));
        caches.add(model.newCache(context));
        // a second prompt's cache for the wave step below (see WAVE_PROMPT_PAST_BATCH), when the context holds its prompt
        int wave = model.maxBatch() + WAVE_PROMPT_PAST_BATCH;
        boolean waveStep = wave <= prompt && wave <= MAX_WAVE_PROMPT && wave + 8 <= context;
        if (waveStep) caches.add(model.newCache(context));
        int vocab = config.vocabSize();
        int[] tokens = new int[prompt];
        for (int i = 0; i < prompt; i++) tokens[i] = (int) ((1L + 7919L * (i + 1)) % vocab);
        // one buffer for every step's logits (a new one per step would be humongous garbage itself)
        float[] logits = new float[Math.multiplyExact(Math.max(rows, 1), vocab)];
        // the long prompt and the wave step take paths no other step does (attention over keys of the cache and of the
        // call, short runs beside a transposed-key run); a method's branch profile starts only once it is hot, so through
        // fewer layers those steps ran before some methods kept a profile, and C2 compiled their paths as traps
        // (Attention.attend's item loop deoptimized at the first long prompt while serving): through fewer layers they
        // cost little, and run every round
        final int longRounds = model.warmsUpFewerLayers() ? Integer.MAX_VALUE : LONG_WARM_UP_ROUNDS;
        // settled: a round whose compilations took under 1 % of its time (jemma bench's rule), after at least two, and C2
        // holding none of Jemma's methods — a round through one layer of each kind (warmUpForward) can be shorter than one
        // C2 compilation of a wide kernel (up to ~1 s), which the compilers' time counts only once it ends
        JitQuiet quiet = JitQuiet.ofThisJvm().atLeast(2).atMost(WARM_UP_ROUNDS, MAX_WARM_UP_MS).blind(WARM_UP_ROUNDS).untilC2Idle();
        return quiet.run(round -> {
            for (int[] step : plan) {
                dev.jemma.core.model.Batch.Builder b = dev.jemma.core.model.Batch.builder();
                for (int i = 0; i < step[0]; i++) b.token(caches.get(i), tokens[i], true);
                // a prompt's rows ask for no logits, as a chunk in mid-prompt (the decode rows' logits are the ones a step has)
                if (step[1] > 0) b.tokens(caches.get(rows), tokens, 0, step[1], false);
                model.warmUpForward(b.build(), logits);
                caches.get(rows).clear();
            }
            if (round <= longRounds && longPrompt > maxBatchOf(plan)) {
                // beside decode rows, as a whole prompt joins the streams' step: they come first in the step, so the model's
                // parts of maxBatch rows split the prompt off its value tiles' 32-key blocks, and a block then spans keys
                // of the cache and of the call. Run from position 0 alone, every block lay on one side, and C2 compiled
                // Attention.valueTile6 without the mixed block's path: the first such step while serving trapped
                // (unstable_if) and recompiled it, four C2 compilations of ~71 MB of arena each on top of the pool
                // (loaded machine, -Xlog:deoptimization=debug; docs/PERFORMANCE.md "Peak RSS and TTFT at four and eight
                // streams")
                dev.jemma.core.model.Batch.Builder b = dev.jemma.core.model.Batch.builder();
                for (int i = 0; i < rows; i++) b.token(caches.get(i), tokens[i], true);
                b.tokens(caches.get(rows), tokens, 0, longPrompt, false);
                model.warmUpForward(b.build(), logits);
                caches.get(rows).clear();
            }
            if (round <= longRounds && waveStep) {
                // two whole prompts in one step, as an idle engine's admission window gathers a wave: a part holds the
                // end of one sequence and the start of the next, which begins mid-part, and a part begins at a sequence's
                // row maxBatch with that many keys cached. Without it Attention.scoreRowsT was deoptimized while serving
                // C = 8 (its 2-vector tile at an odd vector column: 2 of 3 JVMs, none of 3 with it; loaded machine,
                // -Xlog:deoptimization=debug). (Attention.valueTile6's trap in serving came from its k <= to loops, not
                // from a shape missing here: see Attention's class comment.)
                dev.jemma.core.model.Batch.Builder b = dev.jemma.core.model.Batch.builder();
                b.tokens(caches.get(rows), tokens, 0, wave, false);
                b.tokens(caches.get(rows + 1), tokens, 0, wave, false);
                model.warmUpForward(b.build(), logits);
            }
            for (KvCache c : caches) c.clear();
        });
    }

    /**
     * The steps one round of {@link #warmUp} runs, each {decode rows, prompt rows} (a decode row on a cache of its own, the
     * prompt rows on one more): steps of 1 to min(parallel, 16) decode rows (every count of logits rows a step of this
     * pool can have, i.e. every way the output projection's few-token kernel splits its rows); prompts alone of the
     * few-token row counts those did not reach, up to {@value #FEW_TOKEN_SPLITS} (every way the layers' few-token kernels
     * split a call: passes of 4, 3 and 2 tokens, and 5 as 3 + 2 — a step of any count up to 16 runs those passes); a
     * prompt chunk beside decode rows as the scheduler takes one; a prompt alone past the few-token kernels (the tile
     * GEMMs). Why every split: C2 compiles
     * a kernel's dispatch with the splits it has seen, and a split first met while serving (a 5-row step at
     * {@code --parallel 4}, measured) deoptimizes it then; a variant never run before serving starts runs interpreted
     * with boxed vectors until compiled (docs/PERFORMANCE.md, "Run ends and long prompts").
     */
    static List<int[]> warmUpPlan(int parallel, int chunk, int maxBatch) {
        int few = dev.jemma.core.tensor.kernels.Int8FewTokens.MAX_TOKENS;
        int rows = Math.min(Math.min(parallel, few), maxBatch);
        List<int[]> plan = new ArrayList<>();
        for (int r = 1; r <= rows; r++) plan.add(new int[]{r, 0});
        for (int n = rows + 1; n <= Math.min(FEW_TOKEN_SPLITS, maxBatch); n++) plan.add(new int[]{0, n});
        // a prompt chunk beside the streams: at most parallel - 1 of them, the rest of the step's rows the prompt's
        int c = Math.min(chunk, maxBatch);
        int beside = Math.max(1, Math.min(rows - 1, c - 1));
        plan.add(new int[]{beside, Math.max(1, Math.min(StepScheduler.promptRows(c, beside), maxBatch - beside))});
        // a prompt alone: the batch kernels
        int gemm = Math.min(maxBatch, Math.max(c, few + 1));
        plan.add(new int[]{0, gemm});
        // and at the row counts whose remainders take every tail of Int8Gemm's passes (see GEMM_TAIL_ROWS)
        for (int extra : GEMM_TAIL_ROWS) {
            int n = few + extra;
            if (n <= maxBatch && n != gemm) plan.add(new int[]{0, n});
        }
        return plan;
    }

    /**
     * Prompt rows past {@link dev.jemma.core.tensor.kernels.Int8FewTokens#MAX_TOKENS} that {@link #warmUpPlan} runs alone,
     * as offsets from it: 17, 20 and 23 rows run every pass of Int8Gemm's batch loop — at 512 bits 12 + 4 + 1,
     * 12 + 6 + 2 and 12 + 6 + 4 + 1 (tile12, tile6, tile4, tile2, tile1), at 256 bits 4·4 + 1, 5·4, 5·4 + 2 + 1. With 17
     * alone (the plan until now) tile6 and tile2 never ran before serving: C2 compiled gemm with those branches as
     * uncommon traps, and the first serving step whose rows left such a remainder (a prompt part of 18-23, 30-35 …
     * rows) deoptimized gemm and ran the tile uncompiled, boxing every vector (the Int8Gemm.tile6 burst under
     * gatedRange in tools/serve-alloc.sh's recordings; -Xlog:deoptimization showed gemm's trap at its tile2 branch
     * in a C = 8 load, docs/PERFORMANCE.md "Serving").
     */
    static final int[] GEMM_TAIL_ROWS = {1, 4, 7};

    /** The most prompt rows of one step of the plan. */
    private static int maxBatchOf(List<int[]> plan) {
        int most = 0;
        for (int[] step : plan) most = Math.max(most, step[1]);
        return most;
    }

    /**
     * Tokens of the long prompt {@link #warmUp} runs in its first round: past two model
     * batches of 64 and serve-bench's 128-token prompts, so attention has met spans of more keys than one batch.
     */
    static final int LONG_WARM_UP_PROMPT = 160;
    /**
     * Rounds of {@link #warmUp} that run the long prompt: the first (its kernels are the short plan's; only attention's
     * spans are new, and they compile while the later rounds run).
     */
    static final int LONG_WARM_UP_ROUNDS = 1;

    /**
     * Rows past the model's batch of each of the two prompts of {@link #warmUp}'s wave step: the second prompt then starts
     * at row 20 of a part, a column of the transposed-key score tiles that is not on a 2-vector boundary at 512 bits
     * (16 floats a vector), as a wave's later prompts can.
     */
    static final int WAVE_PROMPT_PAST_BATCH = 20;
    /** Longest prompt of the wave step: a model loaded with a large batch skips it (two prompts of it per round). */
    static final int MAX_WAVE_PROMPT = 160;

    /** Up to how many rows a call must have run for the few-token kernels' every split of a call to have run. */
    static final int FEW_TOKEN_SPLITS = 5;

    /**
     * Rounds {@link #warmUp} runs at least before it gives up on a JIT that is still compiling after
     * {@value #MAX_WARM_UP_MS} ms (and all it runs without the JIT's compilation time to watch).
     */
    static final int WARM_UP_ROUNDS = 8;
    /** Wall time after which {@link #warmUp} gives up on a JIT still compiling (once it ran {@link #WARM_UP_ROUNDS}). */
    static final long MAX_WARM_UP_MS = 30_000;

    /**
     * The KV pool now: slots, positions and bytes per slot, caches busy and idle, generations waiting. Without a pool
     * ({@link EngineOptions#parallel()} 0) slots is 0 and the per-session size is reported.
     */
    public KvPoolStatus kvPool() {
        if (kvPool == null) return new KvPoolStatus(0, contextLength, kvBytesPerSequence, 0, 0, 0, 0);
        return kvPool.status(kvBytesPerSequence);
    }

    int maxBatch() {
        return model.maxBatch();
    }

    dev.jemma.core.memory.MemoryPlan memoryPlan() {
        return memoryPlan;
    }

    /** Bytes of forward scratch the model holds now (what {@link #memoryPlan()}'s scratch counts). */
    long scratchBytesHeld() {
        return model.scratchBytesHeld();
    }

    /** This model's tokens as a trie for grammar masks, built on first use and shared by every session. */
    public GrammarVocabulary grammarVocabulary() {
        GrammarVocabulary v = grammarVocabulary;
        if (v == null) {
            synchronized (this) {
                v = grammarVocabulary;
                if (v == null) grammarVocabulary = v = new GrammarVocabulary(tokenizer, config.vocabSize());
            }
        }
        return v;
    }

    int vocabSize() {
        return config.vocabSize();
    }

    /**
     * Runs tokens through the model for one session's cache and returns the last token's logits; the scheduler batches
     * it with the other sessions' pending work (continuous batching).
     */
    float[] forward(int[] tokens, int offset, int count, KvCache cache) {
        checkOpen();
        return scheduler.forward(tokens, offset, count, cache);
    }

    /**
     * {@link #forward(int[], int, int, KvCache)} for a session: the scheduler splits the tokens into chunks between
     * other sessions' steps and drops the rest at the next step once {@code cancelled} holds. The logits go to
     * {@code into} (the session's own row, reused every token) when it holds a vocabulary's row.
     *
     * @throws java.util.concurrent.CancellationException when cancelled first (the cache keeps the chunks that ran)
     */
    float[] forward(int[] tokens, float[][] embeddings, java.util.List<int[]> spans, int offset, int count, KvCache cache, Session session,
                    java.util.function.BooleanSupplier cancelled, float[] into) {
        checkOpen();
        return scheduler.forward(tokens, embeddings, spans, offset, count, cache, session, cancelled, into);
    }

    /** A session enters its decode loop: each step waits briefly for its next token (see {@link StepScheduler}). */
    void openStream(Session s) {
        scheduler.openStream(s);
    }

    void closeStream(Session s) {
        scheduler.closeStream(s);
    }

    /**
     * Tells {@code observer} about every model step from now on (replacing any earlier one; null: none): how many prompt
     * and decode rows and sequences it held and how long it took — what a server's metrics are made of.
     */
    public void observeSteps(StepObserver observer) {
        scheduler.observer(observer);
    }

    /**
     * Accounts the pool loops of every model step from the next one on in {@code profile} (per loop and thread, CPU
     * time; each step's serial end under {@link StepScheduler#STEP_END}, one call per step); null stops. A profiling aid
     * (jemma-jmh's {@code ServingProfile}), off by default.
     */
    public void profileSteps(dev.jemma.core.tensor.PoolProfile profile) {
        scheduler.profile(profile, pool);
    }

    /** Sessions decoding and forwards queued right now (both 0 at rest). */
    public BatchStatus batchStatus() {
        return scheduler.status();
    }

    /** For tests: how long a step waits for a decoding session's next token. */
    void streamGraceNanos(long nanos) {
        scheduler.graceNanos(nanos);
    }

    /** Model steps run, rows in them, and steps shared by several sessions (for tests and statistics). */
    /**
     * Requests on their way to this engine: a caller that prepares a request (renders, tokenizes) on one thread before
     * its session generates on that same thread {@link Arrivals#arrive announces} it, and the admission window
     * ({@link EngineOptions#admissionMillis}) waits for it; the options' registry when one was given (a server's).
     */
    public Arrivals arrivals() {
        return arrivals;
    }

    /**
     * Steps whose start waited in the admission window for a request on its way ({@link #arrivals}): 0 for a server whose
     * requests all came alone.
     */
    public long admissionWaits() {
        return scheduler.statistics()[3];
    }

    long[] batchStatistics() {
        return scheduler.statistics();
    }

    /**
     * As {@link #forward(int[], int, int, KvCache)} for a prompt with images: rows with an {@code embeddings} entry take
     * it as input and each [start, end) of {@code spans} is one image's bidirectional run; batched with the other
     * sessions' work like any prompt (the scheduler never splits a run).
     */
    float[] forward(int[] tokens, float[][] embeddings, java.util.List<int[]> spans, int offset, int count, KvCache cache) {
        checkOpen();
        return scheduler.forward(tokens, embeddings, spans, offset, count, cache);
    }

    /**
     * A Gemma 3n model's mmproj: {@code options.mmproj()} (errors when it is not one or does not fit), else the model
     * file itself when it carries its towers, else a Gemma 3n mmproj beside the model that fits it; null when there is
     * none. One beside it that is not a Gemma 3n mmproj or does not fit is another model's: left alone, with one
     * warning line naming it, and the model runs text only.
     */
    private static Gemma3nMmproj openGemma3nMmproj(GgufFile file, Path path, EngineOptions options, dev.jemma.core.tensor.MatMul matmul,
                                                   ThreadPool pool, List<String> warnings) {
        dev.jemma.core.model.ModelConfig tc = ModelLoader.readConfig(file);
        if (options.mmproj() != null) return Gemma3nMmproj.open(options.mmproj(), tc.dim(), tc.vocabSize(), matmul, pool);
        if (Gemma3nMmproj.carriesTowers(file)) return Gemma3nMmproj.open(path, tc.dim(), tc.vocabSize(), matmul, pool);
        Path beside = Vision.besideModel(path);
        if (beside == null) return null;
        try (GgufFile f = GgufFile.open(beside)) {
            if (!Gemma3nMmproj.isGemma3nMmproj(f)) {
                String type = dev.jemma.core.vision.VisionConfig.projectorType(f);
                warn(warnings, "ignoring " + beside.getFileName() + " beside the model: "
                        + ("gemma3".equals(type) ? "it is a Gemma 3 projector (gemma3), not Gemma 3n's"
                        : "it is not a Gemma 3n mmproj (projector " + (type == null ? "none" : "'" + type + "'") + ")")
                        + "; running text only");
                return null;
            }
        } catch (RuntimeException e) {
            warn(warnings, "ignoring " + beside.getFileName() + " beside the model: " + e.getMessage() + "; running text only");
            return null;
        }
        try {
            return Gemma3nMmproj.open(beside, tc.dim(), tc.vocabSize(), matmul, pool);
        } catch (JemmaException e) {
            warn(warnings, "ignoring " + beside.getFileName() + " beside the model (another model's?): " + e.getMessage() + "; running text only");
            return null;
        }
    }

    /** A load-time warning: kept for {@link #warnings()} and said once on stderr (unless {@code -Djemma.quiet}). */
    static void warn(List<String> warnings, String line) {
        warnings.add(line);
        if (!dev.jemma.core.JemmaProperties.quiet()) System.err.println("jemma: " + line);
    }

    /** What the load warned about (a projector beside the model that was not used, …), one line each. */
    public List<String> warnings() {
        return warnings;
    }

    /** The vision side (null for a text-only model). */
    Vision vision() {
        return vision;
    }

    /** Gemma 3n's audio side (null unless a Gemma 3n model has an mmproj with the audio tower). */
    Media3n audio3n() {
        return audio3n;
    }

    /** Encodes an audio clip's soft-token rows under the engine lock (the encoder shares the model's threads). */
    float[] encodeAudio(dev.jemma.core.chat.ChatAudio clip) {
        // decoding and resampling need no lock; the encoder does
        dev.jemma.core.audio.AudioClip decoded = Media3n.decode(clip);
        lock.lock();
        try {
            checkOpen();
            return audio3n.audio.softTokens(decoded, audio3n.tokensPerClip, pool);
        } finally {
            lock.unlock();
        }
    }

    /** Encodes preprocessed image parts under the engine lock (the encoder shares the model's threads). */
    java.util.List<float[]> encodeImage(java.util.List<float[]> pixelValues) {
        lock.lock();
        try {
            checkOpen();
            return vision.encode(pixelValues, pool);
        } finally {
            lock.unlock();
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("the engine is closed");
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /** Waits for a running forward pass, then releases the mapping and the threads. Idempotent. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            scheduler.close();
            if (vision != null) vision.close();
            model.close();
            if (media3n != null) media3n.close();
            pool.close();
        } finally {
            lock.unlock();
        }
    }
}
