package dev.jemma.server;

import java.util.List;
import java.util.Map;

/**
 * One loaded model as the HTTP layer sees it: the seam between the Ollama/OpenAI protocol code and the engine.
 * Implementations must allow concurrent {@link #run} calls (each on its own session).
 */
interface ServedModel extends AutoCloseable {
    /** The model's KV pool (slots, use), or null for a model without one (an embedding model). */
    default dev.jemma.core.engine.KvPoolStatus kvPool() {
        return null;
    }

    /** The engine's open streams and queued work, or null for a model without a scheduler (an embedding model). */
    default dev.jemma.core.engine.BatchStatus batchStatus() {
        return null;
    }

    /** Reports the model's steps and tokens to the server's metrics from now on (called once, when it is loaded). */
    default void attach(ServerMetrics metrics) {
    }

    /**
     * A chat message (role: system, user, assistant), with the images it carries (each {@code <start_of_image>} in the
     * content places one; the others go first) and the request field they came in, for error messages.
     */
    record Message(String role, String content, List<dev.jemma.core.chat.ChatImage> images, String imagesField,
                   List<dev.jemma.core.chat.ChatAudio> audio, List<dev.jemma.core.chat.ToolCall> toolCalls, String toolName,
                   List<dev.jemma.core.chat.Tool> tools) {
        /**
         * @param audio the audio clips it carries (Gemma 3n): each {@code <audio_soft_token>} in the content places one
         *              (OpenAI input_audio parts leave one where they stand); the others go first
         */
        public Message {
            audio = audio == null ? List.of() : List.copyOf(audio);
            toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
            tools = tools == null ? List.of() : List.copyOf(tools);
        }

        Message(String role, String content, List<dev.jemma.core.chat.ChatImage> images, String imagesField,
                List<dev.jemma.core.chat.ChatAudio> audio) {
            this(role, content, images, imagesField, audio, List.of(), null, List.of());
        }

        /** As the engine takes it (images, audio and tool data kept). */
        dev.jemma.core.chat.ChatMessage chat() {
            return new dev.jemma.core.chat.ChatMessage(role, content, images, audio, toolCalls, toolName, tools);
        }

        Message(String role, String content, List<dev.jemma.core.chat.ChatImage> images, String imagesField) {
            this(role, content, images, imagesField, List.of());
        }

        Message(String role, String content) {
            this(role, content, List.of(), null);
        }
    }

    /**
     * Sampling and length options, already mapped from either API's field names; null = not set by the client (the
     * model file's recommendation, else Gemma's defaults, apply).
     */
    record Options(Integer numPredict, Float temperature, Integer topK, Float topP, Float minP, Float repeatPenalty,
                   Integer repeatLastN, Float presencePenalty, Float frequencyPenalty, Long seed, List<String> stop,
                   Integer logprobs, Integer numCtx, Boolean ignoreEos, SamplerFields.Values samplers) {
        public Options(Integer numPredict, Float temperature, Integer topK, Float topP, Float minP, Float repeatPenalty,
                Integer repeatLastN, Float presencePenalty, Float frequencyPenalty, Long seed, List<String> stop,
                Integer logprobs, Integer numCtx, Boolean ignoreEos) {
            this(numPredict, temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty,
                    seed, stop, logprobs, numCtx, ignoreEos, SamplerFields.Values.NONE);
        }

        public Options {
            if (samplers == null) samplers = SamplerFields.Values.NONE;
        }

        static Options none() {
            return new Options(null, null, null, null, null, null, null, null, null, null, List.of(), null, null, null);
        }

        /** These options reporting log-probabilities with {@code top} alternatives per token (null = none). */
        Options withLogprobs(Integer top) {
            return new Options(numPredict, temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty,
                    frequencyPenalty, seed, stop, top, numCtx, ignoreEos, samplers);
        }
    }

    /**
     * A generated token's log-probability (the model's log-softmax at that position, before penalties, grammar masks
     * and temperature) and the most likely alternatives there.
     */
    record Logprob(String token, byte[] bytes, float logprob, List<Alternative> top) {
    }

    /** One of the most likely tokens at a position. */
    record Alternative(String token, byte[] bytes, float logprob) {
    }

    /**
     * What to generate from: chat {@code messages} (rendered with the model's chat template), or a {@code prompt}
     * (templated as one user turn with optional {@code system} text unless {@code raw}), optionally continuing an
     * Ollama {@code context} (token ids of an earlier /api/generate exchange). {@code grammar}, when set, constrains the
     * answer (JSON mode, a JSON Schema, GBNF).
     */
    record Request(List<Message> messages, String prompt, String system, boolean raw, int[] context,
                   Options options, dev.jemma.core.constrain.Grammar grammar, List<dev.jemma.core.chat.ChatImage> images) {
        Request(List<Message> messages, String prompt, String system, boolean raw, int[] context, Options options, dev.jemma.core.constrain.Grammar grammar) {
            this(messages, prompt, system, raw, context, options, grammar, List.of());
        }

        /** The request field of its first image (for a refusal), or null when it has none. */
        String imagesField() {
            if (images != null && !images.isEmpty()) return "images";
            if (messages != null) for (Message m : messages) if (!m.images().isEmpty()) return m.imagesField();
            return null;
        }
    }

    /** Receives generated text; returns false to stop (client gone, stop string seen). */
    interface Listener {
        boolean onText(String text);

        /** A generated token's log-probabilities, when asked for; comes before the text that token releases. */
        default void onLogprob(Logprob logprob) {
        }

        /** Whether the client has gone before any text (polled while the prompt is prepared). */
        default boolean gone() {
            return false;
        }
    }

    /**
     * Counts and timings of a finished run.
     *
     * @param promptTokens     tokens of the whole prompt
     * @param promptEvalCount  prompt tokens actually processed (the rest came from a reused KV cache prefix)
     * @param evalCount        generated tokens
     * @param doneReason       "stop" (end of turn, stop string), "length" (token limit, full context) or "cancel"
     * @param context          prompt + generated ids, for Ollama's /api/generate {@code context}
     */
    record Result(int promptTokens, int promptEvalCount, int evalCount, long promptEvalNanos, long evalNanos,
                  String doneReason, int[] context) {
    }

    /** Runs one request to completion (or until the listener says stop). Throws HttpError for bad input. */
    Result run(Request request, Listener listener);

    /**
     * Embeds texts (each with the named task prompt, if any), or token sequences as given when {@code ids} is non-null;
     * {@code dimensions} 0 keeps the full width. Models that make no embeddings answer 400.
     */
    default Embedded embed(List<String> texts, List<int[]> ids, String prompt, int dimensions, boolean truncate) {
        throw HttpError.badRequest("this model is a chat model and makes no embeddings: serve an embedding model such as EmbeddingGemma"
                + " (jemma serve -m embeddinggemma.gguf) for /api/embed and /v1/embeddings");
    }

    /** Whether {@link #embed} works (an embedding model); such a model answers no chat or completion requests. */
    default boolean embeds() {
        return false;
    }

    /** The vectors of one {@link #embed} call, in input order, and the tokens they took. */
    record Embedded(List<float[]> vectors, int promptTokens) {
    }

    /**
     * What a request's sampling starts from (jemma serve's flags over the file's general.sampling.*), for /api/show;
     * null for a model that samples nothing (an embedding model).
     */
    default dev.jemma.core.engine.GenerationOptions samplingDefaults() {
        return null;
    }

    /** Facts for /api/show, /api/tags and /api/ps. */
    Info info();

    /** Description of a model. */
    record Info(String family, String parameterSize, String quantization, int contextLength, long sizeBytes,
                String chatTemplate, Map<String, Object> modelInfo, dev.jemma.core.engine.ModelCapabilities capabilities) {
    }

    @Override
    void close();
}
