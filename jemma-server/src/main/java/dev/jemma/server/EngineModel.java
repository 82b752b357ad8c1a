package dev.jemma.server;

import dev.jemma.core.JemmaException;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.chat.ConversationFitter;
import dev.jemma.core.engine.Arrivals;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.ModelCapabilities;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A model served by the Jemma engine. Keeps a small pool of engine {@link Session sessions}, each holding the KV
 * cache of one conversation; a request goes to the idle session whose cached tokens share the longest prefix with
 * its prompt, so a conversation's next turn only processes the tokens after that prefix (its previous answer and
 * the new turn). Per-conversation sessions also make this work with the sliding-window ring caches: the cache
 * never has to be rolled back past its window, it only grows along the conversation.
 */
final class EngineModel implements ServedModel {
    /** One pooled session and the tokens its cache holds (prompt + answer of its last request). */
    private static final class Slot {
        final Session session;
        int[] tokens = new int[0];
        /** For a chat: the rendered prompt and the answer those tokens hold, else null. */
        String promptText;
        String answerText;
        /** For a conversation with images: the messages and answer its cache holds (its tokens are not compared). */
        List<ChatMessage> conversation;
        long lastUsed;
        boolean busy;

        Slot(Session session) {
            this.session = session;
        }
    }

    private final Engine engine;
    private final int maxSessions;
    private final List<Slot> slots = new ArrayList<>();
    private final Info info;
    private volatile ServerMetrics metrics;

    /** The engine behind this model (tests: the options the server loaded it with). */
    @Override
    public dev.jemma.core.engine.GenerationOptions samplingDefaults() {
        return engine.defaults();
    }

    Engine engine() {
        return engine;
    }

    EngineModel(Engine engine, int maxSessions, long fileSize) {
        this.engine = engine;
        this.maxSessions = Math.max(1, maxSessions);
        this.info = describe(engine, fileSize);
        this.encodePrompt = engine.tokenizer()::encodePrompt;
    }

    /**
     * Loads models with the server's settings: a chat model gets a KV pool of {@code parallel} slots, each holding
     * {@code kvBudget / parallel} positions (the engine's default context when no budget is set), and as many pooled
     * sessions, so a conversation keeps its slot (and cached prefix) while the others are in use.
     */
    static Loader loader(JemmaServer.Config config) {
        return new Loader(config, new Arrivals());
    }

    /**
     * Loads models with a server's settings; every engine it loads shares one registry of requests on their way
     * ({@link Arrivals}: the server announces each generation request as it is received, and an engine's admission window
     * waits for those still being prepared).
     */
    static final class Loader implements Function<ModelManager.Entry, ServedModel> {
        private final JemmaServer.Config config;
        final Arrivals arrivals;

        Loader(JemmaServer.Config config, Arrivals arrivals) {
            this.config = config;
            this.arrivals = arrivals;
        }

        @Override
        public ServedModel apply(ModelManager.Entry e) {
            return load(config, arrivals, e);
        }
    }

    private static ServedModel load(JemmaServer.Config config, Arrivals arrivals, ModelManager.Entry e) {
        EngineOptions.Builder b = EngineOptions.builder().threads(config.threads()).exact(config.exact()).batchChunk(config.batchChunk())
                .wholePrompt(config.wholePrompt()).admissionMillis(config.admissionMillis()).arrivals(arrivals)
                // any request may carry an image: the plan counts the vision tower's copy the first one builds
                .images(true);
        // serve's sampling flags are the engine's defaults, which the engine lays over the file's general.sampling.* (the
        // command line beats the file, as in llama.cpp) and every request's options over them
        if (config.sampling() != null) b.generation(config.sampling());
        int perSlot = slotContext(config.kvBudget(), config.parallel());
        if (perSlot > 0) b.contextLength(perSlot);
        // an embedding model (EmbeddingGemma) is served for /api/embed and /v1/embeddings only
        if (EmbedderModel.isEmbeddingModel(e.path())) {
            var embedder = dev.jemma.core.embed.Embedder.load(e.path(), b.build());
            try {
                // compiled before the first request, as a chat model's steps are (Embedder.warmUp)
                embedder.warmUp();
            } catch (RuntimeException | Error ex) {
                embedder.close();
                throw ex;
            }
            return new EmbedderModel(embedder, e.size());
        }
        Engine engine = Engine.load(e.path(), b.parallel(config.parallel()).build());
        try {
            // the kernels compiled and the KV pool allocated before the first request: the JIT's first batched steps
            // make a burst of garbage that, beside freshly allocated caches under load, pushed the peak RSS past the
            // memory plan + 200 MB (docs/PERFORMANCE.md, "Serving")
            engine.warmUp();
        } catch (RuntimeException | Error ex) {
            engine.close();
            throw ex;
        }
        return new EngineModel(engine, config.parallel(), e.size());
    }

    /** Fewest positions a slot may hold: a chat turn's template alone takes a dozen tokens. */
    static final int MIN_SLOT_CONTEXT = 64;

    /** Positions per KV slot for a total budget split among {@code parallel} slots (0: no budget, the default). */
    static int slotContext(int kvBudget, int parallel) {
        if (kvBudget <= 0) return 0;
        int per = kvBudget / parallel;
        if (per < MIN_SLOT_CONTEXT) {
            throw new JemmaException("-c " + kvBudget + " split among --parallel " + parallel + " slots leaves " + per
                    + " tokens per slot; give at least " + (long) MIN_SLOT_CONTEXT * parallel + " or fewer slots");
        }
        return per;
    }

    @Override
    public dev.jemma.core.engine.KvPoolStatus kvPool() {
        return engine.kvPool();
    }

    @Override
    public dev.jemma.core.engine.BatchStatus batchStatus() {
        return engine.batchStatus();
    }

    @Override
    public void attach(ServerMetrics m) {
        metrics = m;
        engine.observeSteps(m::onStep);
    }

    /** Counts a generated token (the final flush of held text, id -1, is none). */
    private void counted(dev.jemma.core.engine.Token t) {
        ServerMetrics m = metrics;
        if (m != null && t.id() >= 0) m.onToken();
    }

    /** Pooled sessions (each may hold a KV cache); bounded by the pool size once requests finish. */
    synchronized int sessions() {
        return slots.size();
    }

    @Override
    public Info info() {
        return info;
    }

    @Override
    public Result run(Request r, Listener listener) {
        boolean audio = r.messages() != null && r.messages().stream().anyMatch(m -> !m.audio().isEmpty());
        if (audio && !engine.supportsAudio()) {
            throw HttpError.badRequest("this model takes no audio: it needs a Gemma 3n model with its mmproj file (the audio tower)");
        }
        String imagesField = r.imagesField();
        // a conversation with media goes through the session's conversation API (HF's prompt expansion, each clip or
        // image encoded once per conversation)
        if (imagesField != null || audio) return runWithImages(r, imagesField, listener);
        Tokenizer tok = engine.tokenizer();
        int ctx = requestContext(r.options());
        String rendered = null;
        int[] prompt;
        if (r.messages() != null) {
            List<ChatMessage> chat = new ArrayList<>();
            for (Message m : r.messages()) chat.add(m.chat());
            rendered = fit(chat, ctx, listener::gone);
            prompt = null; // tokenized below, against the pooled sessions
        } else {
            // Refused from its length alone before tokenizing: megabytes of text never fit and tokenizing them costs
            // seconds and hundreds of megabytes.
            long atLeast = tok.minTokens(r.prompt()) + (r.system() == null || r.raw() ? 0 : tok.minTokens(r.system()));
            if (atLeast >= ctx) {
                throw new HttpError(413, "the prompt is " + Tokenizer.utf8Length(r.prompt()) + " bytes, at least " + atLeast
                        + " tokens, but the context holds " + ctx);
            }
            if (r.raw()) {
                prompt = tok.encode(r.prompt(), r.context() == null || r.context().length == 0);
            } else {
                List<ChatMessage> turn = new ArrayList<>();
                if (r.system() != null && !r.system().isBlank()) turn.add(ChatMessage.system(r.system()));
                turn.add(ChatMessage.user(r.prompt()));
                prompt = tok.encodePrompt(engine.renderPrompt(turn, true));
            }
        }
        if (r.context() != null && r.context().length > 0 && prompt != null) {
            for (int id : r.context()) {
                if (id < 0 || id >= tok.vocabSize()) throw HttpError.badRequest("field 'context': token id " + id + " is out of range");
            }
            // Ollama's context continues an earlier exchange: its ids, then the new turn without a second BOS.
            int[] turn = prompt.length > 0 && prompt[0] == tok.bosId() ? Arrays.copyOfRange(prompt, 1, prompt.length) : prompt;
            prompt = concat(r.context(), turn);
        }
        GenerationOptions opts = options(r.options());
        if (prompt == null) prompt = chatPrompt(rendered);
        if (prompt.length >= ctx) {
            throw new HttpError(413, "the prompt is " + prompt.length + " tokens but the context holds " + ctx);
        }
        if (prompt.length == 0) throw HttpError.badRequest("the prompt is empty");
        Slot slot;
        synchronized (this) {
            slot = take(prompt);
        }
        boolean ok = false;
        try {
            Session s = slot.session;
            dev.jemma.core.engine.Generation g;
            try {
                dev.jemma.core.engine.TokenListener tl = t -> {
                    counted(t);
                    if (t.logprobs() != null) listener.onLogprob(logprob(t.logprobs()));
                    if (!t.text().isEmpty() && !listener.onText(t.text())) s.cancel();
                };
                g = s.generate(prompt, r.grammar() == null ? opts : opts.toBuilder().grammar(r.grammar()).build(), tl);
            } catch (JemmaException e) {
                String m = e.getMessage();
                throw new HttpError(m != null && m.contains("context holds") ? 413 : 400, m);
            }
            slot.tokens = concat(prompt, g.tokens());
            slot.conversation = null;
            // With a stop string the ids include the stop text the answer leaves out: no exact text then.
            boolean exact = rendered != null && g.stopReason() != dev.jemma.core.engine.StopReason.STOP_STRING;
            slot.promptText = exact ? rendered : null;
            slot.answerText = exact ? g.text() : null;
            ok = true;
            return new Result(g.promptTokens(), g.promptTokens() - g.reusedTokens(), g.tokens().length, g.promptNanos(),
                    g.generationNanos(), g.stopReason().apiName(), concat(prompt, g.tokens()));
        } finally {
            release(slot, ok);
        }
    }

    /**
     * A request with images or audio clips ({@code field}: the images' field, null when only audio) goes through the
     * session's conversation API, which splices the images in (HF's processor
     * expansion), encodes each image once per conversation and reuses the cache of the turns before; the session is the
     * one that answered this conversation before when there is one.
     */
    private Result runWithImages(Request r, String field, Listener listener) {
        if (field != null && !engine.supportsImages()) {
            throw HttpError.badRequest(field + ": this model takes no images (it has no vision tower; a Gemma 3 model needs its mmproj file)");
        }
        if (r.context() != null && r.context().length > 0) {
            throw HttpError.badRequest("field 'context' cannot be combined with images (send the conversation to /api/chat instead)");
        }
        List<ChatMessage> conv = new ArrayList<>();
        if (r.messages() != null) {
            for (Message m : r.messages()) conv.add(m.chat());
        } else {
            if (!r.raw() && r.system() != null && !r.system().isBlank()) conv.add(ChatMessage.system(r.system()));
            conv.add(ChatMessage.user(r.prompt(), r.images()));
        }
        GenerationOptions opts = options(r.options());
        Slot slot;
        synchronized (this) {
            slot = takeConversation(conv);
        }
        boolean ok = false;
        try {
            Session s = slot.session;
            dev.jemma.core.engine.Generation g;
            try {
                dev.jemma.core.engine.TokenListener tl = t -> {
                    counted(t);
                    if (t.logprobs() != null) listener.onLogprob(logprob(t.logprobs()));
                    if (!t.text().isEmpty() && !listener.onText(t.text())) s.cancel();
                };
                if (r.grammar() != null) opts = opts.toBuilder().grammar(r.grammar()).build();
                g = r.raw() ? s.complete(r.prompt(), r.images(), opts, tl) : s.generate(conv, opts, tl);
            } catch (JemmaException e) {
                String m = e.getMessage();
                throw new HttpError(m != null && m.contains("context holds") ? 413 : 400, m);
            }
            slot.tokens = new int[0];
            slot.promptText = null;
            slot.answerText = null;
            List<ChatMessage> held = new ArrayList<>(conv);
            held.add(ChatMessage.assistant(g.text()));
            slot.conversation = r.raw() ? null : held;
            ok = true;
            // no context ids: they would hold the images' soft tokens without the images
            return new Result(g.promptTokens(), g.promptTokens() - g.reusedTokens(), g.tokens().length, g.promptNanos(),
                    g.generationNanos(), g.stopReason().apiName(), new int[0]);
        } finally {
            release(slot, ok);
        }
    }

    /**
     * A rendered chat's token ids. One that continues a pooled conversation reuses that conversation's exact ids for the
     * part it already holds (the earlier prompt and the answer as generated), so the cache is reused in full even where
     * re-tokenizing the answer would split it differently; {@link #take} then picks that session (or, had another request
     * taken it meanwhile, the one sharing most of the prefix: the ids stay right either way). The tokenizing runs outside
     * this model's lock (the tokenizer is immutable): a long conversation's ids held every other request's start and
     * every finishing request's {@link #release} behind it.
     */
    private int[] chatPrompt(String rendered) {
        int[] held = null;
        int cut = -1;
        synchronized (this) {
            for (Slot x : slots) {
                int c = x.busy ? -1 : continuationPoint(x, rendered);
                if (c > cut) {
                    cut = c;
                    held = x.tokens; // replaced, never written in place: safe to read once the lock is left
                }
            }
        }
        return held != null ? concat(held, encodePrompt.apply(rendered.substring(cut))) : encodePrompt.apply(rendered);
    }

    /** How a rendered chat becomes ids: the tokenizer's; tests slow it down to see what waits for it. */
    private volatile java.util.function.Function<String, int[]> encodePrompt;

    /** Tests: tokenize rendered chats with {@code f} instead. */
    void encodePromptWith(java.util.function.Function<String, int[]> f) {
        encodePrompt = f;
    }

    /** An idle session whose conversation this one continues; else a fresh one while there is room; else the LRU. */
    private Slot takeConversation(List<ChatMessage> conv) {
        Slot chosen = null;
        for (Slot s : slots) {
            if (s.busy || s.conversation == null || s.conversation.size() >= conv.size()) continue;
            if (conv.subList(0, s.conversation.size() - 1).equals(s.conversation.subList(0, s.conversation.size() - 1))) chosen = s;
        }
        if (chosen == null && slots.size() < maxSessions) {
            chosen = new Slot(engine.newSession());
            slots.add(chosen);
        }
        if (chosen == null) {
            for (Slot s : slots) if (!s.busy && (chosen == null || s.lastUsed < chosen.lastUsed)) chosen = s;
        }
        if (chosen == null) {
            chosen = new Slot(engine.newSession());
            slots.add(chosen);
        }
        chosen.busy = true;
        return chosen;
    }

    /**
     * Renders a conversation, dropping its oldest exchanges (the system message stays) until it fits the context
     * with room for an answer ({@link ConversationFitter}: linear in the conversation, and it stops when the client
     * has gone); a last message that alone does not fit is a 413, a conversation the chat template refuses (roles
     * that do not alternate, …) a 400.
     */
    private String fit(List<ChatMessage> msgs, int ctx, java.util.function.BooleanSupplier gone) {
        int reserve = Math.min(ctx / 4, 256);
        try {
            return ConversationFitter.fit(msgs, ctx, reserve, engine.promptCodec(), gone).rendered();
        } catch (JemmaException e) {
            String m = e.getMessage();
            throw new HttpError(m != null && m.contains("context holds") ? 413 : 400, m);
        }
    }

    /**
     * Where a conversation's rendering stops matching what session {@code s} holds: the end of its earlier prompt
     * plus its answer (as the template writes it back, possibly trimmed), or -1 when it does not continue it.
     */
    private static int continuationPoint(Slot s, String rendered) {
        if (s.promptText == null || !rendered.startsWith(s.promptText)) return -1;
        int at = s.promptText.length();
        if (rendered.startsWith(s.answerText, at)) return at + s.answerText.length();
        // Gemma's template trims turns: the answer comes back without its surrounding whitespace.
        String trimmed = s.answerText.strip();
        if (rendered.startsWith(trimmed, at)) return at + trimmed.length();
        return -1;
    }

    private ServedModel.Logprob logprob(dev.jemma.core.sampling.TokenLogprobs lp) {
        List<ServedModel.Alternative> top = new ArrayList<>(lp.topIds().length);
        for (int i = 0; i < lp.topIds().length; i++) {
            byte[] b = tokenBytes(lp.topIds()[i]);
            top.add(new ServedModel.Alternative(new String(b, java.nio.charset.StandardCharsets.UTF_8), b, lp.topLogprobs()[i]));
        }
        byte[] b = tokenBytes(lp.id());
        return new ServedModel.Logprob(new String(b, java.nio.charset.StandardCharsets.UTF_8), b, lp.logprob(), top);
    }

    /** A token's text as bytes: what it prints, or a control token's own spelling ({@code <end_of_turn>}). */
    private byte[] tokenBytes(int id) {
        Tokenizer tok = engine.tokenizer();
        byte[] b = tok.tokenBytes(id);
        return b.length == 0 && tok.isControl(id) ? tok.piece(id).getBytes(java.nio.charset.StandardCharsets.UTF_8) : b;
    }

    /**
     * The context a request runs in: Ollama's {@code num_ctx} when given, which must fit one KV slot (the pool's budget
     * is fixed when the model loads; a larger context cannot be honoured, so it is refused, not cut), else the slot's.
     */
    private int requestContext(Options o) {
        int slot = engine.contextLength();
        Integer want = o.numCtx();
        if (want == null) return slot;
        if (want < 1) throw HttpError.badRequest("field 'options.num_ctx' must be >= 1, got " + want);
        if (want > slot) {
            dev.jemma.core.engine.KvPoolStatus p = engine.kvPool();
            throw HttpError.badRequest("field 'options.num_ctx': " + want + " tokens do not fit: each of the " + Math.max(1, p.slots())
                    + " KV slots holds " + slot + " (jemma serve -c sets the total, split among --parallel slots); send at most " + slot);
        }
        return want;
    }

    /**
     * The engine's options for a request's. Every field was range-checked when the request was read (SamplerSetting's
     * table, a 400 naming the field as sent), so the engine's own checks are not reached (SamplerRangeTableTest builds
     * each bound through here); should one be, it is still a 400, not a 500.
     */
    static GenerationOptions options(Options o) {
        try {
            GenerationOptions.Builder b = GenerationOptions.builder();
            if (o.numCtx() != null) b.contextLength(o.numCtx());
            if (o.ignoreEos() != null) b.ignoreEos(o.ignoreEos());
            if (o.logprobs() != null) b.logprobs(o.logprobs());
            if (o.numPredict() != null && o.numPredict() >= 0) b.maxTokens(o.numPredict());
            if (o.temperature() != null) b.temperature(o.temperature());
            if (o.topK() != null) b.topK(o.topK());
            if (o.topP() != null) b.topP(o.topP());
            if (o.minP() != null) b.minP(o.minP());
            if (o.repeatPenalty() != null) b.repeatPenalty(o.repeatPenalty());
            if (o.repeatLastN() != null) b.repeatLastN(o.repeatLastN());
            if (o.presencePenalty() != null) b.presencePenalty(o.presencePenalty());
            if (o.frequencyPenalty() != null) b.frequencyPenalty(o.frequencyPenalty());
            if (o.seed() != null) b.seed(o.seed());
            if (o.stop() != null && !o.stop().isEmpty()) b.stop(o.stop());
            o.samplers().applyTo(b);
            return b.build();
        } catch (IllegalArgumentException e) {
            throw HttpError.badRequest(e.getMessage());
        }
    }

    /**
     * Picks a session for a prompt: one whose cached tokens the prompt continues (a conversation's next turn); else a
     * fresh one while the pool has room (so a new conversation does not evict another's cache); else the idle one
     * sharing the longest prefix, the least recently used on ties.
     */
    private Slot take(int[] prompt) {
        Slot best = null;
        int bestCommon = -1;
        for (Slot s : slots) {
            if (s.busy) continue;
            int c = commonPrefix(s.tokens, prompt);
            if (c > bestCommon || (c == bestCommon && s.lastUsed < best.lastUsed)) {
                best = s;
                bestCommon = c;
            }
        }
        Slot chosen;
        // The engine never feeds back the last token of an answer cut by a length limit: allow one missing token.
        boolean continues = best != null && best.tokens.length > 0 && bestCommon >= best.tokens.length - 1;
        if (continues || (best != null && slots.size() >= maxSessions)) {
            chosen = best;
        } else {
            chosen = new Slot(engine.newSession());
            slots.add(chosen);
        }
        chosen.busy = true;
        return chosen;
    }

    private synchronized void release(Slot s, boolean ok) {
        s.busy = false;
        s.lastUsed = System.nanoTime();
        if (!ok) {
            s.tokens = new int[0];
            s.promptText = null;
            s.answerText = null;
            s.conversation = null;
        }
        // The pool only outgrows its size when more requests than sessions ran at once: shrink it back.
        while (slots.size() > maxSessions) {
            Slot lru = null;
            for (Slot x : slots) if (!x.busy && (lru == null || x.lastUsed < lru.lastUsed)) lru = x;
            if (lru == null) break;
            slots.remove(lru);
            lru.session.close();
        }
    }

    private static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static Info describe(Engine engine, long fileSize) {
        return describe(engine.metadata(), engine.path(), engine.contextLength(), fileSize, ModelCapabilities.of(engine));
    }

    /** /api/show facts from a model file's metadata (any architecture). */
    /** @param capabilities what the loaded model does (for /api/show and /api/tags) */
    static Info describe(Map<String, Object> md, java.nio.file.Path path, int contextLength, long fileSize, ModelCapabilities capabilities) {
        String arch = String.valueOf(md.getOrDefault("general.architecture", "gemma3"));
        Object label = md.get("general.size_label");
        String params = label != null ? label.toString() : parameterCount(path);
        Object ft = md.get("general.file_type");
        String quant = ft instanceof Number n ? fileType(n.intValue()) : OllamaApi.guessQuant(path.getFileName().toString());
        Map<String, Object> info = new LinkedHashMap<>();
        for (var e : md.entrySet()) {
            Object v = e.getValue();
            // Scalars only: the vocabulary arrays are megabytes (Ollama leaves them out too).
            if (v instanceof String || v instanceof Number || v instanceof Boolean) {
                if (e.getKey().equals("tokenizer.chat_template")) continue;
                info.put(e.getKey(), v);
            }
        }
        Object tmpl = md.get("tokenizer.chat_template");
        return new Info(arch, params, quant, contextLength, fileSize, tmpl == null ? "" : tmpl.toString(), info, capabilities);
    }

    /** Ollama-style parameter size ("4.3B", "999.9M") from the file's tensor element counts. */
    private static String parameterCount(java.nio.file.Path path) {
        try (dev.jemma.core.gguf.GgufFile f = dev.jemma.core.gguf.GgufFile.open(path)) {
            long n = 0;
            for (var t : f.tensors().values()) n += t.elementCount();
            if (n >= 1_000_000_000L) return String.format(java.util.Locale.ROOT, "%.1fB", n / 1e9);
            if (n >= 1_000_000L) return String.format(java.util.Locale.ROOT, "%.1fM", n / 1e6);
            return String.format(java.util.Locale.ROOT, "%.1fK", n / 1e3);
        } catch (RuntimeException e) {
            return "";
        }
    }

    /** llama.cpp's LLAMA_FTYPE numbers, as written in general.file_type. */
    private static String fileType(int t) {
        return switch (t) {
            case 0 -> "F32";
            case 1 -> "F16";
            case 2 -> "Q4_0";
            case 3 -> "Q4_1";
            case 7 -> "Q8_0";
            case 8 -> "Q5_0";
            case 9 -> "Q5_1";
            case 10 -> "Q2_K";
            case 11 -> "Q3_K_S";
            case 12 -> "Q3_K_M";
            case 13 -> "Q3_K_L";
            case 14 -> "Q4_K_S";
            case 15 -> "Q4_K_M";
            case 16 -> "Q5_K_S";
            case 17 -> "Q5_K_M";
            case 18 -> "Q6_K";
            case 32 -> "BF16";
            default -> "unknown (" + t + ")";
        };
    }

    @Override
    public synchronized void close() {
        for (Slot s : slots) s.session.close();
        slots.clear();
        engine.close();
    }
}
