package dev.jemma.core.engine;

import dev.jemma.core.JemmaProperties;
import dev.jemma.core.tensor.ThreadPool;

import java.util.function.DoubleConsumer;

/**
 * How a model is loaded, in the spirit of MediaPipe's {@code LlmInferenceOptions}: context length, threads, the
 * numeric mode, and default generation settings (max tokens, top-k, temperature, seed …) that every request starts
 * from. Immutable; build with {@link #builder()}.
 *
 * @param contextLength   tokens a session can hold (prompt + output); 0 = the model's trained length, capped at
 *                        {@link #DEFAULT_CONTEXT_CAP} to keep the KV cache modest
 * @param threads         compute threads; 0 = all cores
 * @param exact           dequantize weights exactly and compute in f32 (the fixtures' reference mode)
 * @param maxBatch        prompt tokens per forward pass (longer prompts are split)
 * @param generation      generation defaults for every request
 * @param loadProgress    called with 0…1 while the weights are paged in (null: no pre-loading)
 * @param matformer       Gemma 3n MatFormer slice cut at load time ({@code e2b} or {@code ffn=…;skip=…}), or null
 * @param f32Activations  in the default mode, keep f32 activations instead of int8 ones for Gemma 3's quantized
 *                        matmuls (default: {@code -Djemma.int8=false}, see {@link dev.jemma.core.JemmaProperties})
 * @param checkMemory     refuse to load a model whose memory plan does not fit (default: true unless
 *                        {@code -Djemma.memory.check=false})
 * @param mmproj          the projector (llama.cpp's {@code mmproj-*.gguf}) for a Gemma 3 model (vision) or a Gemma 3n
 *                        model (vision and audio); null: the towers inside the model file (Ollama's single-file gemma3,
 *                        Jemma's single-file gemma3n), else the one {@code mmproj*.gguf} beside the model if it fits,
 *                        else none (images and audio are then refused)
 * @param panAndScan      also encode pan-and-scan crops of wide or tall images (HF Gemma3ImageProcessor's
 *                        {@code do_pan_and_scan}): more image tokens, finer detail
 * @param audioTokens     Gemma 3n: soft tokens per audio clip in the prompt (HF audio_soft_tokens_per_image, which the
 *                        mmproj does not carry); 0 = 188, the value of every released Gemma 3n
 * @param parallel        KV caches the engine keeps at once (its KV pool: {@code parallel} × {@code contextLength}
 *                        positions, counted by the memory plan); a session takes one when it generates and keeps it
 *                        while idle until another session needs it (least recently used first), and waits while all
 *                        are generating. 0 = no pool: every session allocates its own cache
 * @param batchChunk      rows of one model step while other sessions are decoding (chunked prefill): every running
 *                        stream's next token, and prompt tokens up to this many rows in all (at most 8 while a single
 *                        stream decodes, whose own step is cheap; at least 4 prompt tokens), so a long prompt is split
 *                        into chunks and a new prompt does not stop the others; with no stream running a prompt takes
 *                        the whole batch. Smaller = smoother streams, larger = faster prompts; 0 =
 *                        {@link #DEFAULT_BATCH_CHUNK}
 * @param wholePrompt     a prompt of at most this many tokens joins the next step whole, beside the running streams,
 *                        rather than in chunks (as llama-server admits new prompts): one longer step for the streams
 *                        instead of many slower ones, the prompt's first token a step later instead of dozens, its rows
 *                        on the prompt GEMMs; prompts arriving together start together. Longer prompts are chunked as
 *                        {@code batchChunk} says. 0 = {@link #DEFAULT_WHOLE_PROMPT}; a negative value: always chunk
 * @param admissionMillis the longest a prompt of at most {@code wholePrompt} tokens reaching the engine while no
 *                        stream decodes waits for requests still on their way to it ({@code arrivals}: a server's
 *                        requests being parsed, templated, tokenized) before its step starts (the admission window).
 *                        It waits only while such a request is pending: a lone request starts at once, and a wave sent
 *                        together starts in one step (without it the first one's step started alone, and the others
 *                        waited a whole prompt step before theirs). 0 = never wait (the library's and one-shot
 *                        commands' default)
 * @param arrivals        requests on their way to the engine, which the admission window waits for; one registry can
 *                        be shared by several engines (a server's models). Null: the engine's own
 *                        ({@link Engine#arrivals})
 * @param images          whether the engine will be given images (a server, an interactive chat, a run with images):
 *                        the memory plan then counts the copy of the vision tower's matrices that the first image builds
 *                        (Gemma 3n's MobileNet-V5 in the default mode), and a model that cannot hold it is refused at
 *                        load, as one that cannot hold its KV cache is. False (the default): a text run, which never
 *                        builds it
 */
public record EngineOptions(int contextLength, int threads, boolean exact, int maxBatch, GenerationOptions generation,
                            DoubleConsumer loadProgress, String matformer, boolean f32Activations, boolean checkMemory,
                            java.nio.file.Path mmproj, boolean panAndScan, int audioTokens, int parallel, int batchChunk,
                            int wholePrompt, int admissionMillis, Arrivals arrivals, boolean images) {
    /** Longest admission window: a request on its way can delay another's first token by as much. */
    public static final int MAX_ADMISSION_MILLIS = 10_000;

    /** Context used when none is requested: Gemma 3 is trained for 32k–128k, whose f32 KV cache would be large. */
    public static final int DEFAULT_CONTEXT_CAP = 8192;

    public EngineOptions {
        if (contextLength < 0) throw new IllegalArgumentException("context length must be >= 0, got " + contextLength);
        if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
        if (maxBatch <= 0) throw new IllegalArgumentException("max batch must be > 0, got " + maxBatch);
        if (parallel < 0) throw new IllegalArgumentException("parallel must be >= 0, got " + parallel);
        if (batchChunk < 0) throw new IllegalArgumentException("batch chunk must be >= 0, got " + batchChunk);
        if (admissionMillis < 0 || admissionMillis > MAX_ADMISSION_MILLIS) {
            throw new IllegalArgumentException("admission window must be 0.." + MAX_ADMISSION_MILLIS + " ms, got " + admissionMillis);
        }
        if (generation == null) generation = GenerationOptions.none();
        if (audioTokens < 0 || audioTokens > 4096) throw new IllegalArgumentException("audio tokens per clip must be 0..4096, got " + audioTokens);
    }

    /** Soft tokens per audio clip: {@link #audioTokens}, or 188 when 0. */
    public int audioTokensOrDefault() {
        return audioTokens > 0 ? audioTokens : dev.jemma.core.audio.Gemma3nAudioModel.DEFAULT_TOKENS_PER_CLIP;
    }

    /**
     * Rows per step beside running streams unless set: the most rows the few-token kernels take (at 512 bits), so a step
     * that carries a prompt chunk beside decoding streams stays on them. Measured (1B Q4_0, one thread, CPU time on a
     * loaded machine; docs/PERFORMANCE.md "Serving"): three decode rows alone 110 ms, with 13 prompt rows (16 in all)
     * 224 ms (2.0×, against the 3× bound on the streams' inter-token time while a long prompt arrives) and
     * ~8.8 ms per prompt token, with 16 prompt rows (19 in all, on the GEMMs) 348 ms (3.2×) and ~15 ms per prompt token.
     * Measured again with two threads (least wall time of alternated steps, docs/PERFORMANCE.md "Run ends and long
     * prompts"): 3 rows 53 ms, 3 + 13 122 ms (2.3×); and in the intrusion case 24 rows cost both more CPU per prompt token
     * and 5× a decode step, 12 rows more steps for the same ratio budget: 16 gives the long prompt's first token soonest
     * within the 3× bound. A prompt with no stream beside it is not chunked at all.
     */
    public static final int DEFAULT_BATCH_CHUNK = 16;

    /**
     * Longest prompt admitted whole beside running streams unless set. Measured (1B Q4_0, 2 threads, C = 8, 16 requests of
     * 128 prompt and 128 generated tokens, in-process, loaded machine; docs/PERFORMANCE.md "Eight streams: prompts, TTFT
     * and peak RSS"): chunked beside the streams, the first burst's eight prompts entered one after another — the last
     * one's first token came 81-89 steps after its arrival, the first one's after 2 — and their staggered ends left a
     * tail of 1-7-row steps; whole, the burst entered in two steps and the run took 258-288 steps of 7.1-7.9 decode rows
     * instead of 369-395 of 5.1-5.5. The price is one longer step for the streams per prompt (at ~3.6 ms a prompt row
     * on 2 threads, pp512's rate, under a second for 256 tokens of the 1B); the 2,000-token intruder stays chunked.
     */
    public static final int DEFAULT_WHOLE_PROMPT = 256;

    /**
     * Longest prompt joining a step whole beside running streams: {@link #wholePrompt}, or when 0 the system property
     * {@code jemma.wholePrompt} (for A/B runs of {@code jemma serve}: {@code -Djemma.wholePrompt=-1} chunks every
     * prompt, as before), else {@link #DEFAULT_WHOLE_PROMPT}; 0 means never.
     */
    public int wholePromptOrDefault() {
        int v = wholePrompt != 0 ? wholePrompt : Integer.getInteger("jemma.wholePrompt", DEFAULT_WHOLE_PROMPT);
        return Math.max(0, v);
    }

    /** Rows per model step beside running streams: {@link #batchChunk}, or {@link #DEFAULT_BATCH_CHUNK}. */
    public int batchChunkOrDefault() {
        return batchChunk > 0 ? batchChunk : DEFAULT_BATCH_CHUNK;
    }

    /**
     * The rows one forward's buffers hold, which the model is loaded with and the memory plan sizes its scratch for: a
     * step holds a prompt chunk beside the running streams' tokens, so the model's batch takes a whole chunk
     * ({@link #maxBatch} or a larger {@link #batchChunk}; a step with more rows runs in parts of this size).
     */
    public int modelBatch() {
        return Math.max(maxBatch, batchChunkOrDefault());
    }

    public static EngineOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The threads a model gets: {@link #threads}, capped at the machine's cores ({@link ThreadPool#capped}); 0 = all cores. */
    public int threadsOrDefault() {
        return ThreadPool.capped(threads);
    }

    /** Mutable builder. */
    public static final class Builder {
        private int contextLength;
        private int threads;
        private boolean exact;
        private int maxBatch = 64;
        private GenerationOptions.Builder defaults = GenerationOptions.builder();
        private DoubleConsumer loadProgress;
        private String matformer;
        private boolean f32Activations = !JemmaProperties.int8();
        private boolean checkMemory = JemmaProperties.memoryCheck();
        private java.nio.file.Path mmproj;
        private boolean panAndScan;
        private int audioTokens;
        private int parallel;
        private int batchChunk;
        private int wholePrompt;
        private int admissionMillis;
        private Arrivals arrivals;
        private boolean images;

        private Builder() {
        }

        public Builder contextLength(int v) {
            contextLength = v;
            return this;
        }

        public Builder threads(int v) {
            threads = v;
            return this;
        }

        public Builder exact(boolean v) {
            exact = v;
            return this;
        }

        public Builder maxBatch(int v) {
            maxBatch = v;
            return this;
        }

        /** Default maximum tokens per answer (negative: until a stop token or a full context). */
        public Builder maxTokens(int v) {
            defaults.maxTokens(v);
            return this;
        }

        public Builder topK(int v) {
            defaults.topK(v);
            return this;
        }

        public Builder topP(float v) {
            defaults.topP(v);
            return this;
        }

        public Builder temperature(float v) {
            defaults.temperature(v);
            return this;
        }

        public Builder seed(long v) {
            defaults.seed(v);
            return this;
        }

        /** Replaces all generation defaults. */
        public Builder generation(GenerationOptions v) {
            defaults = v.toBuilder();
            return this;
        }

        public Builder loadProgress(DoubleConsumer v) {
            loadProgress = v;
            return this;
        }

        /** Gemma 3n: run a MatFormer slice of the file (e.g. {@code e2b} from an E4B file); null for the file as is. */
        public Builder matformer(String spec) {
            matformer = spec;
            return this;
        }

        /** Keep f32 activations in the default mode (no int8 activations); default {@code -Djemma.int8=false}. */
        public Builder f32Activations(boolean v) {
            f32Activations = v;
            return this;
        }

        /** Refuse models whose memory plan does not fit (default true, {@code -Djemma.memory.check=false} turns it off). */
        public Builder checkMemory(boolean v) {
            checkMemory = v;
            return this;
        }

        /** The projector file (llama.cpp's mmproj GGUF) for a Gemma 3 or Gemma 3n model; null: found automatically. */
        public Builder mmproj(java.nio.file.Path v) {
            mmproj = v;
            return this;
        }

        /** Also encode pan-and-scan crops of wide or tall images (HF's do_pan_and_scan). */
        public Builder panAndScan(boolean v) {
            panAndScan = v;
            return this;
        }

        /** Gemma 3n: soft tokens per audio clip (HF audio_soft_tokens_per_image; 0 = 188, the released models' value). */
        public Builder audioTokens(int v) {
            audioTokens = v;
            return this;
        }

        /** KV caches kept at once (the engine's KV pool); 0 = one per session, no pool. */
        public Builder parallel(int v) {
            parallel = v;
            return this;
        }

        /** Longest prompt joining a step whole beside decoding streams ({@link EngineOptions#wholePrompt}); 0 = the default, < 0 never. */
        public Builder wholePrompt(int v) {
            wholePrompt = v;
            return this;
        }

        /**
         * The longest a short prompt reaching an engine with no stream decoding waits for requests on their way
         * ({@link EngineOptions#admissionMillis}).
         */
        public Builder admissionMillis(int v) {
            admissionMillis = v;
            return this;
        }

        /** Requests on their way to the engine ({@link EngineOptions#arrivals}); null = the engine's own. */
        public Builder arrivals(Arrivals v) {
            arrivals = v;
            return this;
        }

        /** Rows per model step while streams decode (chunked prefill; {@link EngineOptions#batchChunk}); 0 = the default. */
        public Builder batchChunk(int v) {
            batchChunk = v;
            return this;
        }

        /** Whether images will be given ({@link EngineOptions#images}): the memory plan counts the vision tower's copy. */
        public Builder images(boolean v) {
            images = v;
            return this;
        }

        public EngineOptions build() {
            return new EngineOptions(contextLength, threads, exact, maxBatch, defaults.build(), loadProgress, matformer, f32Activations, checkMemory,
                    mmproj, panAndScan, audioTokens, parallel, batchChunk, wholePrompt, admissionMillis, arrivals, images);
        }
    }
}
