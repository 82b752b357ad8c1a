package dev.jemma.langchain4j;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.constrain.GrammarException;
import dev.jemma.core.constrain.JsonConstraint;
import dev.jemma.core.constrain.JsonSchemaGrammar;
import dev.langchain4j.internal.JsonSchemaElementUtils;
import dev.jemma.core.chat.Tool;
import dev.jemma.core.chat.ToolCall;
import dev.jemma.core.chat.ToolCalling;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.Generation;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.SamplerSetting;
import dev.jemma.core.engine.Session;
import dev.jemma.core.sampling.SamplerChain;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.AudioContent;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.ModelProvider;
import dev.langchain4j.model.chat.Capability;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.DefaultChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.response.StreamingHandle;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;

/**
 * A LangChain4j {@link ChatModel} and {@link StreamingChatModel} that runs a Gemma GGUF model in this JVM on Jemma's
 * {@link Engine} — no server, no native library:
 * <pre>{@code
 * try (JemmaChatModel model = JemmaChatModel.builder()
 *         .modelPath(Path.of("gemma-3-1b-it-Q4_0.gguf"))
 *         .contextLength(4096)
 *         .temperature(0.0)
 *         .build()) {
 *     String answer = model.chat("Why is the sky blue?");
 * }
 * }</pre>
 *
 * <p><b>Messages.</b> {@link SystemMessage}, {@link UserMessage} (text contents, {@link AudioContent} (WAV) for a
 * Gemma 3n model with its mmproj, and {@link ImageContent} for a Gemma 3
 * model with its vision tower) and {@link AiMessage} (text only)
 * map to Jemma's chat messages and go through the model's own chat template. A JSON response format without a schema
 * constrains decoding to one JSON object ({@link JsonConstraint}, as the server's JSON mode), and one with a JSON schema
 * to documents valid against it ({@link JsonSchemaGrammar}). Tools ({@code ToolSpecification}s, AI Services' {@code @Tool}
 * methods) are called with Gemma's prompt-based format ({@link ToolCalling}; tool results go back as user turns), or
 * for a FunctionGemma model (its chat template tells) in FunctionGemma's own markup, the template declaring the tools
 * and results going back as function responses; either way the answer is decoded under a grammar of the tools'
 * parameter schemas, so a call always parses. Remote image URLs fail with
 * {@link UnsupportedFeatureException}, as does a schema keyword that cannot be enforced.
 *
 * <p><b>Parameters.</b> temperature, topP, topK, frequencyPenalty, presencePenalty, maxOutputTokens and stopSequences
 * map to {@link GenerationOptions}; what neither the request nor this model's {@link #defaultRequestParameters()}
 * sets falls back to the model file's recommendations, then to Gemma's defaults. The sampling settings LangChain4j's
 * requests have no field for are the builder's, for every request, over the file's recommendations: {@link Builder#seed},
 * {@link Builder#minP}, {@link Builder#repeatPenalty}, {@link Builder#repeatLastN}, {@link Builder#typicalP},
 * {@link Builder#topNSigma}, XTC ({@link Builder#xtcProbability}, {@link Builder#xtcThreshold}), DRY
 * ({@link Builder#dryMultiplier}, {@link Builder#dryBase}, {@link Builder#dryAllowedLength},
 * {@link Builder#dryPenaltyLastN}, {@link Builder#drySequenceBreakers}), Mirostat ({@link Builder#mirostat},
 * {@link Builder#mirostatTau}, {@link Builder#mirostatEta}) and the sampler order ({@link Builder#samplers(String)}).
 * Every setting, the builder's and the request's, is checked against {@link SamplerSetting}'s ranges, the ones the CLI
 * and the server take: an out-of-range value is an {@link IllegalArgumentException} naming it ("minP 1.5: must be
 * between 0 and 1 (0 = off)"). The response carries token usage, the finish reason ({@code STOP} at the end
 * of the turn or a stop sequence, {@code LENGTH} at maxOutputTokens or a full context) and
 * {@link JemmaChatResponseMetadata} (KV cache reuse, timings).
 *
 * <p><b>KV cache reuse.</b> Each request runs on an engine {@link Session}; a session keeps the keys/values of the
 * longest common prefix of the previous request, so a conversation that grows by one exchange per call (what
 * LangChain4j's chat memory sends) re-reads only the new turn. Idle sessions are kept most-recently-used first, so a
 * single-threaded conversation always lands on the session holding its own prefix.
 *
 * <p><b>Threads.</b> Thread-safe: concurrent requests each take their own session (forward passes are serialised by
 * the engine). Streaming requests run on the builder's {@link Builder#executor executor} (a new virtual thread per
 * request by default) and return at once; the handler is called on that thread. {@link #close()} releases the model.
 */
public final class JemmaChatModel implements ChatModel, StreamingChatModel, AutoCloseable {
    /** Idle sessions kept for reuse; each holds a KV cache sized for the full context. */
    private static final int MAX_IDLE_SESSIONS = 2;

    private final Engine engine;
    /** How this model calls tools: Gemma's prompt format, or FunctionGemma's own (chosen by its chat template). */
    private final ToolCalling.Format toolFormat;
    private final ChatRequestParameters defaults;
    private final List<ChatModelListener> listeners;
    private final Executor executor;
    private final String modelName;
    /** Whether an answer may hold several tool calls (OpenAI's parallel_tool_calls). */
    private final boolean parallelToolCalls;
    private static final ObjectMapper SCHEMA_JSON = new ObjectMapper();
    private final Deque<Session> idle = new ArrayDeque<>();
    private volatile boolean closed;

    private JemmaChatModel(Builder b) {
        Objects.requireNonNull(b.modelPath, "modelPath");
        EngineOptions options = EngineOptions.builder()
                .contextLength(b.contextLength)
                .threads(b.threads)
                .generation(b.sampling.build())
                .mmproj(b.mmproj)
                // a request may carry ImageContent: the memory plan counts the vision tower's copy the first one builds
                .images(true)
                .build();
        DefaultChatRequestParameters.Builder<?> params = ChatRequestParameters.builder();
        if (b.defaultRequestParameters != null) params.overrideWith(b.defaultRequestParameters);
        if (b.temperature != null) params.temperature(b.temperature);
        if (b.topP != null) params.topP(b.topP);
        if (b.topK != null) params.topK(b.topK);
        if (b.maxOutputTokens != null) params.maxOutputTokens(b.maxOutputTokens);
        if (b.stopSequences != null) params.stopSequences(b.stopSequences);
        this.defaults = params.build();
        this.parallelToolCalls = b.parallelToolCalls;
        this.listeners = b.listeners == null ? List.of() : List.copyOf(b.listeners);
        this.executor = b.executor != null ? b.executor : r -> Thread.ofVirtual().name("jemma-langchain4j").start(r);
        this.engine = Engine.load(b.modelPath, options);
        this.toolFormat = ToolCalling.Format.of(engine.chatTemplate().source());
        Object name = engine.metadata().get("general.name");
        this.modelName = name instanceof String s && !s.isBlank() ? s : b.modelPath.getFileName().toString();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The underlying engine (tokenizer, config, metadata); do not close it directly, close this model. */
    public Engine engine() {
        return engine;
    }

    // ------------------------------------------------------------ ChatModel

    @Override
    public ChatResponse doChat(ChatRequest request) {
        List<Tool> tools = tools(request.parameters());
        List<dev.jemma.core.chat.ChatMessage> messages = toolFormat.conversation(checkImages(toJemma(request.messages())), tools, parallelToolCalls);
        GenerationOptions options = toOptions(request.parameters(), parallelToolCalls, toolFormat);
        Session session = acquire();
        try {
            return toResponse(session.generate(messages, options, null), !tools.isEmpty());
        } finally {
            release(session);
        }
    }

    // ------------------------------------------------------------ StreamingChatModel

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        Objects.requireNonNull(handler, "handler");
        executor.execute(() -> stream(request, handler));
    }

    private void stream(ChatRequest request, StreamingChatResponseHandler handler) {
        ChatResponse response;
        Handle handle = new Handle();
        Session session = null;
        try {
            List<Tool> tools = tools(request.parameters());
            List<dev.jemma.core.chat.ChatMessage> messages = toolFormat.conversation(checkImages(toJemma(request.messages())), tools, parallelToolCalls);
            GenerationOptions options = toOptions(request.parameters(), parallelToolCalls, toolFormat);
            session = acquire();
            handle.session = session;
            PartialResponseContext context = new PartialResponseContext(handle);
            // with tools, the first visible text tells calls ('[', or FunctionGemma's call marker) from text: calls are not
            // streamed as text
            StringBuilder held = new StringBuilder();
            Boolean[] calling = {tools.isEmpty() ? Boolean.FALSE : null};
            response = toResponse(session.generate(messages, options, token -> {
                // empty pieces are bytes of a character not yet complete, or text held back for a possible stop string
                if (token.text().isEmpty() || handle.cancelled) return;
                String piece = token.text();
                if (calling[0] == null) {
                    held.append(piece);
                    String t = held.toString().stripLeading();
                    if (t.isEmpty()) return;
                    calling[0] = toolFormat.startsCalls(t);
                    piece = held.toString();
                }
                if (!calling[0]) handler.onPartialResponse(new PartialResponse(piece), context);
            }), !tools.isEmpty());
        } catch (Throwable e) {
            if (!handle.cancelled) handler.onError(e);
            return;
        } finally {
            if (session != null) release(session);
        }
        // after cancel() LangChain4j expects no further callbacks
        if (!handle.cancelled) handler.onCompleteResponse(response);
    }

    /** Cancels the session's generation at the next token. */
    private static final class Handle implements StreamingHandle {
        volatile Session session;
        volatile boolean cancelled;

        @Override
        public void cancel() {
            cancelled = true;
            Session s = session;
            if (s != null) s.cancel();
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }
    }

    // ------------------------------------------------------------ shared defaults (both interfaces declare them)

    @Override
    public ChatRequestParameters defaultRequestParameters() {
        return defaults;
    }

    @Override
    public List<ChatModelListener> listeners() {
        return listeners;
    }

    @Override
    public ModelProvider provider() {
        return ModelProvider.OTHER;
    }

    @Override
    public Set<Capability> supportedCapabilities() {
        // AI Services then send the schema of a structured return type, and decoding enforces it
        return Set.of(Capability.RESPONSE_FORMAT_JSON_SCHEMA);
    }

    // ------------------------------------------------------------ mapping

    /** Images for a model without a vision tower are a feature it lacks (LangChain4j's exception for that), not bad input. */
    private List<dev.jemma.core.chat.ChatMessage> checkImages(List<dev.jemma.core.chat.ChatMessage> messages) {
        if (!engine.supportsImages() && messages.stream().anyMatch(m -> !m.images().isEmpty())) {
            throw new UnsupportedFeatureException("this model takes no images: it has no vision tower (give a Gemma 3 model its mmproj file: Builder.mmproj)");
        }
        if (!engine.supportsAudio() && messages.stream().anyMatch(m -> !m.audio().isEmpty())) {
            throw new UnsupportedFeatureException("this model takes no audio: it needs a Gemma 3n model with its mmproj file (Builder.mmproj)");
        }
        return messages;
    }

    static List<dev.jemma.core.chat.ChatMessage> toJemma(List<ChatMessage> messages) {
        List<dev.jemma.core.chat.ChatMessage> out = new ArrayList<>(messages.size());
        for (ChatMessage m : messages) {
            switch (m) {
                case SystemMessage s -> out.add(dev.jemma.core.chat.ChatMessage.system(s.text()));
                case UserMessage u -> out.add(userMessage(u));
                case AiMessage a -> {
                    String text = a.text() == null ? "" : a.text();
                    if (a.hasToolExecutionRequests()) {
                        // earlier calls stay structured: the tool format writes them as the model wrote them
                        List<ToolCall> calls = new ArrayList<>();
                        for (ToolExecutionRequest r : a.toolExecutionRequests()) calls.add(new ToolCall(r.id(), r.name(), r.arguments() == null ? "{}" : r.arguments()));
                        out.add(dev.jemma.core.chat.ChatMessage.assistantCalls(text, calls));
                    } else {
                        out.add(dev.jemma.core.chat.ChatMessage.assistant(text));
                    }
                }
                case ToolExecutionResultMessage r -> out.add(dev.jemma.core.chat.ChatMessage.toolResult(r.toolName(), r.text()));
                default -> throw new UnsupportedFeatureException("Jemma does not support " + m.type() + " messages");
            }
        }
        return out;
    }

    /**
     * A user message: its text contents joined by newlines, each {@link ImageContent} an image at its place (base64
     * data, a {@code data:} URL or a local {@code file:} URI; remote URLs are not fetched). Images need a model with a
     * vision tower; the engine refuses them otherwise.
     */
    private static dev.jemma.core.chat.ChatMessage userMessage(UserMessage u) {
        if (u.hasSingleText()) return dev.jemma.core.chat.ChatMessage.user(u.singleText());
        StringBuilder sb = new StringBuilder();
        List<dev.jemma.core.chat.ChatImage> images = new ArrayList<>();
        List<dev.jemma.core.chat.ChatAudio> audio = new ArrayList<>();
        boolean lastWasText = false;
        for (Content c : u.contents()) {
            if (c instanceof TextContent t) {
                if (lastWasText) sb.append('\n');
                sb.append(t.text());
                lastWasText = true;
            } else if (c instanceof ImageContent ic) {
                images.add(image(ic, images.size()));
                sb.append("<start_of_image>");
                lastWasText = false;
            } else if (c instanceof AudioContent ac) {
                audio.add(audio(ac, audio.size()));
                sb.append(dev.jemma.core.chat.ChatMessage.AUDIO_MARKER);
                lastWasText = false;
            } else {
                throw new UnsupportedFeatureException("Jemma's LangChain4j model takes text, image and audio contents, got " + c.type() + " content");
            }
        }
        return dev.jemma.core.chat.ChatMessage.user(sb.toString(), images, audio);
    }

    private static dev.jemma.core.chat.ChatImage image(ImageContent ic, int index) {
        var im = ic.image();
        String name = "ImageContent " + (index + 1);
        if (im.base64Data() != null) return dev.jemma.core.chat.ChatImage.of(base64(im.base64Data(), name), name);
        java.net.URI url = im.url();
        if (url == null) throw new IllegalArgumentException(name + " has neither base64 data nor a URL");
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(java.util.Locale.ROOT);
        if (scheme.equals("file")) return dev.jemma.core.chat.ChatImage.read(java.nio.file.Path.of(url));
        if (scheme.equals("data")) {
            String s = url.toString();
            int comma = s.indexOf(',');
            if (comma < 0 || !s.substring(0, comma).toLowerCase(java.util.Locale.ROOT).endsWith(";base64")) {
                throw new IllegalArgumentException(name + ": a data: URL must be base64-encoded");
            }
            return dev.jemma.core.chat.ChatImage.of(base64(s.substring(comma + 1), name), name);
        }
        throw new UnsupportedFeatureException(name + ": Jemma does not fetch " + scheme + ": URLs; give the image as base64 data or a file: URI");
    }

    /**
     * An {@link AudioContent} (Gemma 3n, WAV): binary or base64 data, a {@code data:} URL or a local {@code file:} URI;
     * remote URLs are not fetched, and a MIME type other than WAV's is refused naming the supported format.
     */
    private static dev.jemma.core.chat.ChatAudio audio(AudioContent ac, int index) {
        var a = ac.audio();
        String name = "AudioContent " + (index + 1);
        String mime = a.mimeType();
        if (mime != null && !mime.isBlank() && !mime.toLowerCase(java.util.Locale.ROOT).matches("audio/(x-)?wave?|audio/vnd\\.wave")) {
            throw new UnsupportedFeatureException(name + ": MIME type " + mime + " is not supported; supported audio: WAV (audio/wav)");
        }
        if (a.binaryData() != null) return dev.jemma.core.chat.ChatAudio.of(a.binaryData(), name);
        if (a.base64Data() != null) return dev.jemma.core.chat.ChatAudio.of(base64(a.base64Data(), name), name);
        java.net.URI url = a.url();
        if (url == null) throw new IllegalArgumentException(name + " has no data and no URL");
        String scheme = url.getScheme() == null ? "" : url.getScheme().toLowerCase(java.util.Locale.ROOT);
        if (scheme.equals("file")) return dev.jemma.core.chat.ChatAudio.read(java.nio.file.Path.of(url));
        if (scheme.equals("data")) {
            String s = url.toString();
            int comma = s.indexOf(',');
            if (comma < 0 || !s.substring(0, comma).toLowerCase(java.util.Locale.ROOT).endsWith(";base64")) {
                throw new IllegalArgumentException(name + ": a data: URL must be base64-encoded");
            }
            return dev.jemma.core.chat.ChatAudio.of(base64(s.substring(comma + 1), name), name);
        }
        throw new UnsupportedFeatureException(name + ": Jemma does not fetch " + scheme + ": URLs; give the audio as data or a file: URI");
    }

    private static byte[] base64(String data, String name) {
        try {
            return java.util.Base64.getMimeDecoder().decode(data.strip());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + ": not valid base64 (" + e.getMessage() + ")");
        }
    }

    static GenerationOptions toOptions(ChatRequestParameters p, boolean parallelToolCalls, ToolCalling.Format format) {
        GenerationOptions.Builder b = GenerationOptions.builder();
        if (p == null) return b.build();
        List<Tool> tools = tools(p);
        Grammar response = responseGrammar(p);
        if (!tools.isEmpty()) {
            if (response != null) throw new UnsupportedFeatureException("Jemma cannot combine tools with a JSON response format");
            ToolCalling.Choice choice = p.toolChoice() == ToolChoice.REQUIRED ? ToolCalling.Choice.REQUIRED : ToolCalling.Choice.AUTO;
            try {
                response = format.grammar(tools, choice, null, parallelToolCalls);
            } catch (GrammarException e) {
                throw new UnsupportedFeatureException("Jemma cannot enforce a tool's parameters: " + e.getMessage());
            }
        }
        b.grammar(response);
        try {
            // the ranges the CLI and the server take (SamplerSetting), named as LangChain4j's parameters
            if (p.temperature() != null) b.temperature(checked(SamplerSetting.TEMPERATURE, "temperature", p.temperature()));
            if (p.topP() != null) b.topP(checked(SamplerSetting.TOP_P, "topP", p.topP()));
            if (p.topK() != null) b.topK(SamplerSetting.TOP_K.check("topK", p.topK()));
            if (p.frequencyPenalty() != null) b.frequencyPenalty(checked(SamplerSetting.FREQUENCY_PENALTY, "frequencyPenalty", p.frequencyPenalty()));
            if (p.presencePenalty() != null) b.presencePenalty(checked(SamplerSetting.PRESENCE_PENALTY, "presencePenalty", p.presencePenalty()));
            if (p.maxOutputTokens() != null) b.maxTokens(p.maxOutputTokens());
            if (p.stopSequences() != null && !p.stopSequences().isEmpty()) b.stop(p.stopSequences());
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid chat request parameter: " + e.getMessage(), e);
        }
    }

    /** {@code v} as a float, once {@code setting}'s range takes it (else the error names it {@code as}). */
    static Float checked(SamplerSetting setting, String as, Double v) {
        return v == null ? null : setting.check(as, v).floatValue();
    }

    /**
     * The request's tool specifications as Jemma tools (parameters as JSON Schema); none with {@link ToolChoice#NONE}
     * (the model is not told about them and answers in text, as OpenAI's tool_choice "none").
     */
    static List<Tool> tools(ChatRequestParameters p) {
        if (p == null || p.toolSpecifications() == null || p.toolSpecifications().isEmpty()) return List.of();
        if (p.toolChoice() == ToolChoice.NONE) return List.of();
        List<Tool> out = new ArrayList<>();
        for (ToolSpecification t : p.toolSpecifications()) {
            JsonNode params = t.parameters() == null ? null : SCHEMA_JSON.valueToTree(JsonSchemaElementUtils.toMap(t.parameters()));
            out.add(new Tool(t.name(), t.description(), params));
        }
        return out;
    }

    /**
     * The grammar of a JSON response format: any JSON object without a schema, else the schema's grammar (a schema
     * keyword that cannot be enforced fails with {@link UnsupportedFeatureException} naming it); null otherwise.
     */
    static Grammar responseGrammar(ChatRequestParameters p) {
        if (p == null || p.responseFormat() == null || p.responseFormat().type() != ResponseFormatType.JSON) return null;
        var schema = p.responseFormat().jsonSchema();
        if (schema == null || schema.rootElement() == null) return JsonConstraint.grammar();
        JsonNode tree = SCHEMA_JSON.valueToTree(JsonSchemaElementUtils.toMap(schema.rootElement()));
        try {
            return JsonSchemaGrammar.fromSchema(tree);
        } catch (GrammarException e) {
            throw new UnsupportedFeatureException("Jemma cannot enforce the JSON schema '" + schema.name() + "': " + e.getMessage());
        }
    }

    private ChatResponse toResponse(Generation g, boolean tools) {
        List<ToolCall> calls = tools ? toolFormat.parse(g.text()) : null;
        if (calls != null) {
            List<ToolExecutionRequest> requests = new ArrayList<>();
            for (ToolCall c : calls) requests.add(ToolExecutionRequest.builder().id(c.id()).name(c.name()).arguments(c.arguments()).build());
            return ChatResponse.builder()
                    .aiMessage(AiMessage.from(requests))
                    .metadata(JemmaChatResponseMetadata.jemmaBuilder()
                            .modelName(modelName)
                            .tokenUsage(new TokenUsage(g.promptTokens(), g.tokens().length))
                            .finishReason(FinishReason.TOOL_EXECUTION)
                            .reusedTokens(g.reusedTokens())
                            .promptNanos(g.promptNanos())
                            .generationNanos(g.generationNanos())
                            .build())
                    .build();
        }
        return toResponse(g);
    }

    private ChatResponse toResponse(Generation g) {
        FinishReason finish = switch (g.stopReason()) {
            case END_OF_TURN, STOP_STRING -> FinishReason.STOP;
            case MAX_TOKENS, CONTEXT_FULL -> FinishReason.LENGTH;
            case CANCELLED -> FinishReason.OTHER;
        };
        return ChatResponse.builder()
                .aiMessage(AiMessage.from(g.text()))
                .metadata(JemmaChatResponseMetadata.jemmaBuilder()
                        .modelName(modelName)
                        .tokenUsage(new TokenUsage(g.promptTokens(), g.tokens().length))
                        .finishReason(finish)
                        .reusedTokens(g.reusedTokens())
                        .promptNanos(g.promptNanos())
                        .generationNanos(g.generationNanos())
                        .build())
                .build();
    }

    // ------------------------------------------------------------ sessions

    private Session acquire() {
        if (closed) throw new IllegalStateException("the model is closed");
        synchronized (idle) {
            Session s = idle.pollFirst();
            if (s != null) return s;
        }
        return engine.newSession();
    }

    private void release(Session s) {
        Session evicted = null;
        synchronized (idle) {
            if (!closed) {
                idle.addFirst(s);
                if (idle.size() > MAX_IDLE_SESSIONS) evicted = idle.pollLast();
            } else {
                evicted = s;
            }
        }
        if (evicted != null) evicted.close();
    }

    /** Releases the sessions' KV caches and the model; waits for a running forward pass. Idempotent. */
    @Override
    public void close() {
        List<Session> sessions;
        synchronized (idle) {
            closed = true;
            sessions = new ArrayList<>(idle);
            idle.clear();
        }
        sessions.forEach(Session::close);
        engine.close();
    }

    /** Builder; only {@link #modelPath} is required. */
    public static final class Builder {
        private Path modelPath;
        private int contextLength;
        private int threads;
        private Double temperature;
        private Double topP;
        private Integer topK;
        private Integer maxOutputTokens;
        private List<String> stopSequences;
        /** The settings LangChain4j's requests lack: the engine's defaults, under every request's parameters. */
        private final GenerationOptions.Builder sampling = GenerationOptions.builder();
        private Path mmproj;
        private boolean parallelToolCalls = true;
        private ChatRequestParameters defaultRequestParameters;
        private List<ChatModelListener> listeners;
        private Executor executor;

        private Builder() {
        }

        /**
         * The vision projector of a Gemma 3 model (llama.cpp's mmproj GGUF), for {@link ImageContent}; by default the
         * vision tower inside the model file, or the {@code mmproj-*.gguf} beside it.
         */
        public Builder mmproj(Path v) {
            mmproj = v;
            return this;
        }

        /** The GGUF file (Gemma 3 / Gemma 3n). */
        public Builder modelPath(Path v) {
            modelPath = v;
            return this;
        }

        public Builder modelPath(String v) {
            return modelPath(Path.of(v));
        }

        /** Tokens a conversation can hold (prompt + answer); 0 or unset: the model's trained length, capped at 8192. */
        public Builder contextLength(int v) {
            contextLength = v;
            return this;
        }

        /** Compute threads; 0 or unset: all cores. */
        public Builder threads(int v) {
            threads = v;
            return this;
        }

        /** Default sampling temperature (0 = greedy). */
        public Builder temperature(Double v) {
            temperature = v;
            return this;
        }

        public Builder topP(Double v) {
            topP = v;
            return this;
        }

        public Builder topK(Integer v) {
            topK = v;
            return this;
        }

        /** Default answer length limit in tokens. */
        public Builder maxOutputTokens(Integer v) {
            maxOutputTokens = v;
            return this;
        }

        public Builder stopSequences(List<String> v) {
            stopSequences = v;
            return this;
        }

        /** Whether one answer may call several tools (default true), as OpenAI's {@code parallel_tool_calls}. */
        public Builder parallelToolCalls(boolean v) {
            parallelToolCalls = v;
            return this;
        }

        /**
         * Seed of the sampler for every request (LangChain4j's request parameters have none): the same seed, prompt and
         * settings give the same answer; -1 draws a random one per request, as unset does.
         */
        public Builder seed(Long v) {
            sampling.seed(SamplerSetting.SEED.check("seed", v));
            return this;
        }

        /** Min-p: drops tokens less likely than this fraction of the most likely one's probability (0 = off). */
        public Builder minP(Double v) {
            sampling.minP(checked(SamplerSetting.MIN_P, "minP", v));
            return this;
        }

        /** Repeat penalty on the tokens of the last {@link #repeatLastN} (1 = off; above 0, at most 100). */
        public Builder repeatPenalty(Double v) {
            sampling.repeatPenalty(checked(SamplerSetting.REPEAT_PENALTY, "repeatPenalty", v));
            return this;
        }

        /** How many recent tokens the repeat, presence and frequency penalties look at (-1 = the whole context, 0 = off). */
        public Builder repeatLastN(Integer v) {
            sampling.repeatLastN(SamplerSetting.REPEAT_LAST_N.check("repeatLastN", v));
            return this;
        }

        /** Locally typical sampling's p (1 = off). */
        public Builder typicalP(Double v) {
            sampling.typicalP(checked(SamplerSetting.TYPICAL_P, "typicalP", v));
            return this;
        }

        /** Top-n-sigma: keeps tokens within n standard deviations of the top logit (0 or below = off). */
        public Builder topNSigma(Double v) {
            sampling.topNSigma(checked(SamplerSetting.TOP_N_SIGMA, "topNSigma", v));
            return this;
        }

        /** XTC's chance per token of excluding the top choices (0 = off). */
        public Builder xtcProbability(Double v) {
            sampling.xtcProbability(checked(SamplerSetting.XTC_PROBABILITY, "xtcProbability", v));
            return this;
        }

        /** XTC's threshold: the choices above it, all but the least likely, are excluded (above 0.5 = off). */
        public Builder xtcThreshold(Double v) {
            sampling.xtcThreshold(checked(SamplerSetting.XTC_THRESHOLD, "xtcThreshold", v));
            return this;
        }

        /** DRY's penalty scale (0 = off). */
        public Builder dryMultiplier(Double v) {
            sampling.dryMultiplier(checked(SamplerSetting.DRY_MULTIPLIER, "dryMultiplier", v));
            return this;
        }

        /** DRY's penalty growth per token of repeat (at least 1). */
        public Builder dryBase(Double v) {
            sampling.dryBase(checked(SamplerSetting.DRY_BASE, "dryBase", v));
            return this;
        }

        /** Repeats this long go unpenalised by DRY (at least 1). */
        public Builder dryAllowedLength(Integer v) {
            sampling.dryAllowedLength(SamplerSetting.DRY_ALLOWED_LENGTH.check("dryAllowedLength", v));
            return this;
        }

        /** How many recent tokens DRY searches (-1 = the whole context, 0 = off). */
        public Builder dryPenaltyLastN(Integer v) {
            sampling.dryPenaltyLastN(SamplerSetting.DRY_PENALTY_LAST_N.check("dryPenaltyLastN", v));
            return this;
        }

        /** Texts across which DRY's repeats never extend (empty: none; unset: llama.cpp's newline, ':', '"' and '*'). */
        public Builder drySequenceBreakers(List<String> v) {
            if (v != null && v.stream().anyMatch(x -> x == null || x.isEmpty())) {
                throw new IllegalArgumentException("drySequenceBreakers: every breaker must be a non-empty string");
            }
            sampling.drySequenceBreakers(v);
            return this;
        }

        /** Mirostat: 0 off, 1 or 2 (the version); when on it replaces top-k, typical, top-p, min-p and XTC. */
        public Builder mirostat(Integer v) {
            sampling.mirostat(SamplerSetting.MIROSTAT.check("mirostat", v));
            return this;
        }

        /** Mirostat's target surprise τ, in bits. */
        public Builder mirostatTau(Double v) {
            sampling.mirostatTau(checked(SamplerSetting.MIROSTAT_TAU, "mirostatTau", v));
            return this;
        }

        /** Mirostat's learning rate η. */
        public Builder mirostatEta(Double v) {
            sampling.mirostatEta(checked(SamplerSetting.MIROSTAT_ETA, "mirostatEta", v));
            return this;
        }

        /**
         * The sampler stages to run, in order, as llama.cpp's {@code --sampling-seq} and llama-server's {@code samplers}
         * string spell them: one letter per stage ("edskypmxt" is the default order: penalties, DRY, top-n-sigma, top-k,
         * typical, top-p, min-p, XTC, temperature); a stage left out is not run. Null: the model file's order, else the
         * default. An unknown letter is refused, naming it.
         */
        public Builder samplers(String letters) {
            sampling.samplers(letters == null ? null : SamplerChain.ofLetters(letters));
            return this;
        }

        /** {@link #samplers(String)} by stage names ("top_k", "min_p", "temperature", …), as llama-cli's {@code --samplers}. */
        public Builder samplers(List<String> names) {
            sampling.samplers(names == null ? null : SamplerChain.ofNames(names));
            return this;
        }

        /** Defaults for every request; the individual setters above override their fields. */
        public Builder defaultRequestParameters(ChatRequestParameters v) {
            defaultRequestParameters = v;
            return this;
        }

        public Builder listeners(List<ChatModelListener> v) {
            listeners = v;
            return this;
        }

        /** Runs streaming requests; default: a new virtual thread per request. */
        public Builder executor(Executor v) {
            executor = v;
            return this;
        }

        /**
         * Loads the model.
         *
         * @throws dev.jemma.core.JemmaException when the file is missing, malformed or unsupported
         */
        public JemmaChatModel build() {
            return new JemmaChatModel(this);
        }
    }
}
