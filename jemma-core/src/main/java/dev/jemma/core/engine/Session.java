package dev.jemma.core.engine;

import dev.jemma.core.JemmaException;
import dev.jemma.core.chat.ChatAudio;
import dev.jemma.core.chat.ChatImage;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.chat.ConversationFitter;
import dev.jemma.core.constrain.GrammarConstraint;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.sampling.Sampler;
import dev.jemma.core.sampling.StopStrings;
import dev.jemma.core.sampling.TokenLogprobs;
import dev.jemma.core.tokenizer.StreamDecoder;
import dev.jemma.core.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A conversation (or a series of completions) with its own KV cache. The cache survives between calls: each new
 * prompt is compared with the tokens already in the cache and only the part after their longest common prefix is
 * processed, so a multi-turn chat re-reads only the new turn.
 *
 * <p>Three levels:
 * <ul>
 *   <li>{@link #chat(String)} — keeps the history (with the optional system prompt) inside the session; when the
 *       context fills, the oldest turns are dropped;</li>
 *   <li>{@link #generate(List, GenerationOptions, TokenListener)} — answers a whole conversation passed in (what an
 *       HTTP server receives), without touching the session's own history;</li>
 *   <li>{@link #complete(String, GenerationOptions, TokenListener)} / {@link #generate(int[], GenerationOptions,
 *       TokenListener)} — raw text or token ids, no chat template.</li>
 * </ul>
 * Each has a streaming twin returning a {@link java.util.concurrent.Flow.Publisher} ({@link GenerationPublisher}).
 *
 * <p><b>Thread-safety:</b> one generation at a time per session (a second concurrent call fails with
 * {@link IllegalStateException}); {@link #cancel()} may be called from any thread. Use one session per concurrent
 * conversation.
 */
public final class Session implements AutoCloseable {
    private final Engine engine;
    private final String systemPrompt;
    private final List<ChatMessage> history = new ArrayList<>();
    private final AtomicBoolean busy = new AtomicBoolean();
    private volatile boolean cancelRequested;
    private final java.util.function.BooleanSupplier cancelled = () -> cancelRequested;
    private KvCache cache;
    /** Tokens whose keys/values are in the cache, in order; cache.length() of them are valid. */
    private int[] cached = new int[0];
    private boolean closed;
    /**
     * The logits row every step of a generation refills, and the last generation's sampler (its work buffers go to the
     * next one): kept across generations, as a server's pooled session runs one request after another — each request
     * left 2 MB of vocabulary-sized buffers behind (JFR, C = 8: Session.runUnchecked and Sampler.prepare, 52 MB each
     * over 48 requests).
     */
    private float[] logitsRow;
    private Sampler lastSampler;
    /** The conversation (system prompt included, our answer last) that {@link #seenTokens} spell, or null. */
    private List<ChatMessage> seenConversation;
    private int[] seenTokens;
    /** Set by {@link #fitConversation} for the run that follows; null for raw prompts. */
    private List<ChatMessage> pendingConversation;
    /** Set by {@link #fitConversation}: the prompt's images, one entry per soft-token run (null: none). */
    private PromptMedia pendingImages;
    /** Encodings of the images this conversation has seen, by SHA-256 (an image is encoded once, not once per turn). */
    private final java.util.Map<String, List<float[]>> encodedImages = new java.util.LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(java.util.Map.Entry<String, List<float[]>> e) {
            return size() > 32;
        }
    };

    /** Embeddings of a prompt's soft-token runs in order, and a key per run telling images apart for prefix reuse. */
    /**
     * The media of a prompt: one embedding block per run of {@code softToken}, with a key per run for the prefix cache.
     * Gemma 3's image runs attend bidirectionally (run in one call); Gemma 3n's runs are {@code causal}.
     */
    /** One kind of media in a prompt: its soft token, and per run of it (in prompt order) the rows and a cache key. */
    private record MediaRuns(int softToken, List<float[]> embeddings, int[] keys) {
    }

    /**
     * The media of a prompt, one entry per kind (Gemma 3n may have images and audio clips), and whether their rows are
     * causal (Gemma 3n's) or each run attends bidirectionally (Gemma 3's images, one kind).
     */
    private record PromptMedia(List<MediaRuns> kinds, boolean causal) {
        static PromptMedia of(int softToken, List<float[]> embeddings, List<Integer> keys, boolean causal) {
            return new PromptMedia(List.of(new MediaRuns(softToken, embeddings, keys.stream().mapToInt(Integer::intValue).toArray())), causal);
        }
    }
    private int lastStopId = -1;
    private volatile TokenFilter tokenFilter;

    Session(Engine engine, String systemPrompt) {
        this.engine = engine;
        this.systemPrompt = systemPrompt == null || systemPrompt.isBlank() ? null : systemPrompt;
    }

    // ------------------------------------------------------------ chat with history

    /** Sends a user message with the engine's default options; returns the answer (also added to the history). */
    public Generation chat(String userMessage) {
        return chat(userMessage, null, TokenListener.NONE);
    }

    /** Sends a user message, streaming the answer to {@code listener}. */
    public Generation chat(String userMessage, TokenListener listener) {
        return chat(userMessage, null, listener);
    }

    /**
     * Sends a user message and generates the answer; both join the history. When history plus message no longer fit
     * the context, the oldest user/assistant pairs are dropped from the history (the system prompt stays). A
     * cancelled answer is kept as far as it got.
     *
     * @param options overrides of the engine defaults, or null
     * @throws JemmaException when the message alone does not fit the context
     */
    public Generation chat(String userMessage, GenerationOptions options, TokenListener listener) {
        return chat(ChatMessage.user(userMessage), options, listener);
    }

    /**
     * Sends a user message that may carry images ({@link ChatMessage#user(String, List)}), as
     * {@link #chat(String, GenerationOptions, TokenListener)} does. An image stays in the history, and is encoded
     * once: later turns reuse its encoding and, through the KV cache, everything before the new turn.
     *
     * @throws JemmaException when the message has images and the model has no vision tower, or an image is bad
     */
    public Generation chat(ChatMessage userMessage, GenerationOptions options, TokenListener listener) {
        if (!userMessage.role().equals("user")) throw new IllegalArgumentException("chat takes a user message, got role " + userMessage.role());
        enter();
        try {
            history.add(userMessage);
            Generation g;
            try {
                int[] prompt = fitConversation(history, true, contextFor(options));
                g = run(prompt, options, listener);
            } catch (CancellationException e) {
                history.removeLast();
                return cancelledWhileFitting();
            } catch (RuntimeException e) {
                history.removeLast();
                throw e;
            }
            history.add(ChatMessage.assistant(g.text()));
            return g;
        } finally {
            leave();
        }
    }

    /** Streaming {@link #chat(String, GenerationOptions, TokenListener)}: generation starts on subscription. */
    public GenerationPublisher chatStream(String userMessage, GenerationOptions options) {
        return new GenerationPublisher(this, l -> chat(userMessage, options, l));
    }

    /** The conversation so far (without the system prompt), read-only. */
    public List<ChatMessage> history() {
        return Collections.unmodifiableList(history);
    }

    public String systemPrompt() {
        return systemPrompt;
    }

    /** Forgets the history and the cached tokens. */
    public void clear() {
        enter();
        try {
            history.clear();
            encodedImages.clear();
            engine.dropCache(this);
            cache = null;
            cached = new int[0];
            seenConversation = null;
            seenTokens = null;
        } finally {
            leave();
        }
    }

    // ------------------------------------------------------------ stateless conversation

    /**
     * Answers a whole conversation (system / user / assistant messages, ending with a user message) without adding
     * it to this session's history; the KV cache is still reused for the common prefix with the previous call. The
     * oldest turns are dropped when the conversation does not fit the context.
     */
    public Generation generate(List<ChatMessage> conversation, GenerationOptions options, TokenListener listener) {
        enter();
        try {
            List<ChatMessage> msgs = new ArrayList<>(conversation);
            int[] prompt;
            try {
                prompt = fitConversation(msgs, false, contextFor(options));
            } catch (CancellationException e) {
                return cancelledWhileFitting();
            }
            return run(prompt, options, listener);
        } finally {
            leave();
        }
    }

    /** Streaming {@link #generate(List, GenerationOptions, TokenListener)}. */
    public GenerationPublisher stream(List<ChatMessage> conversation, GenerationOptions options) {
        List<ChatMessage> copy = List.copyOf(conversation);
        return new GenerationPublisher(this, l -> generate(copy, options, l));
    }

    // ------------------------------------------------------------ raw

    /** Continues raw text (no chat template); BOS is prepended when the file asks for it. */
    public Generation complete(String prompt, GenerationOptions options, TokenListener listener) {
        int[] ids = engine.tokenizer().encode(prompt);
        return generate(ids, options, listener);
    }

    /**
     * Continues raw text with images: each {@code <start_of_image>} in the text places one image (images without a
     * marker go first), expanded as HF's processor does; no chat template. BOS is prepended when the file asks for it.
     */
    public Generation complete(String prompt, List<ChatImage> images, GenerationOptions options, TokenListener listener) {
        if (images.isEmpty()) return complete(prompt, options, listener);
        enter();
        try {
            cancelRequested = false;
            if (engine.vision() == null) {
                throw new JemmaException("this model takes no images: it has no vision tower (give a Gemma 3 model its mmproj file, --mmproj)");
            }
            List<ChatImage> all = new ArrayList<>();
            ChatMessage m = withMarkers(List.of(new ChatMessage("user", prompt, images)), all).getFirst();
            int[] ids = engine.tokenizer().encode(expand(m.content(), all));
            checkFits(ids.length, contextFor(options));
            pendingImages = images(List.of(m), ids);
            return run(ids, options, listener);
        } finally {
            leave();
        }
    }

    /** Streaming {@link #complete(String, GenerationOptions, TokenListener)}. */
    public GenerationPublisher completeStream(String prompt, GenerationOptions options) {
        return new GenerationPublisher(this, l -> complete(prompt, options, l));
    }

    /** Continues a token sequence (include BOS yourself if wanted). */
    public Generation generate(int[] promptTokens, GenerationOptions options, TokenListener listener) {
        enter();
        try {
            if (promptTokens.length == 0) throw new JemmaException("the prompt is empty");
            checkFits(promptTokens.length, contextFor(options));
            return run(promptTokens, options, listener);
        } finally {
            leave();
        }
    }

    // ------------------------------------------------------------ control

    /**
     * Constrains the following generations of this session (a grammar such as JSON mode), or lifts the constraint
     * with null. The filter keeps its own state: give each generation a fresh one.
     */
    public void setTokenFilter(TokenFilter filter) {
        tokenFilter = filter;
    }

    /** Stops the generation in progress at the next token (its result says {@link StopReason#CANCELLED}). */
    public void cancel() {
        cancelRequested = true;
    }

    /** Tokens currently in the KV cache (0 once an engine's KV pool gave this idle session's cache to another). */
    public int cachedTokens() {
        KvCache c = cache;
        return engine.holdsCache(this, c) ? c.length() : 0;
    }

    /** Tokens a generation can hold (prompt + answer): the engine's, or less per request ({@link GenerationOptions#contextLength()}). */
    public int contextLength() {
        return engine.contextLength();
    }

    public Engine engine() {
        return engine;
    }

    /** Releases the KV cache (the engine stays open). */
    @Override
    public void close() {
        cancel();
        if (!busy.compareAndSet(false, true)) return; // a running generation keeps its cache until it ends
        closed = true;
        engine.dropCache(this);
        cache = null;
        cached = new int[0];
    }

    private void enter() {
        if (!busy.compareAndSet(false, true)) throw new IllegalStateException("this session is already generating; use one session per concurrent conversation");
        cancelRequested = false; // a cancel() from here on (while the prompt is fitted) stops this call
        if (closed) {
            busy.set(false);
            throw new IllegalStateException("the session is closed");
        }
        if (engine.isClosed()) {
            busy.set(false);
            throw new IllegalStateException("the engine is closed");
        }
    }

    private void leave() {
        busy.set(false);
    }

    // ------------------------------------------------------------ internals

    /** The result of a call cancelled before its prompt was even fitted to the context. */
    private static Generation cancelledWhileFitting() {
        return new Generation("", new int[0], 0, 0, 0, 0, StopReason.CANCELLED);
    }

    /**
     * The context a request may use: its {@link GenerationOptions#contextLength()} (or the engine defaults'), at most
     * the engine's; a larger one is refused rather than silently cut.
     */
    private int contextFor(GenerationOptions requested) {
        GenerationOptions o = (requested == null ? GenerationOptions.none() : requested).orElse(engine.defaults());
        int max = engine.contextLength();
        Integer want = o.contextLength();
        if (want == null) return max;
        if (want > max) {
            throw new JemmaException("a context of " + want + " tokens was asked for, but a session holds at most " + max
                    + " (the engine's context length)");
        }
        return want;
    }

    private void checkFits(int promptLength, int ctx) {
        if (promptLength >= ctx) {
            throw new JemmaException("the prompt is " + promptLength + " tokens but the context holds " + ctx
                    + " (a longer context needs -c / contextLength; the model was trained for " + engine.config().contextLength() + ")");
        }
    }

    /**
     * Renders and tokenizes a conversation, dropping the oldest user/assistant pairs until it fits with room to
     * answer ({@link ConversationFitter}: linear in the conversation, polls {@link #cancel()}). {@code msgs} is modified
     * in place (so the session history shrinks too).
     */
    private int[] fitConversation(List<ChatMessage> msgs, boolean sessionHistory, int ctx) {
        int reserve = Math.min(ctx / 4, 256); // room for the answer
        List<ChatMessage> full = new ArrayList<>();
        if (sessionHistory && systemPrompt != null) full.add(ChatMessage.system(systemPrompt));
        full.addAll(msgs);
        ConversationFitter.Fitted f;
        try {
            f = ConversationFitter.fit(full, ctx, reserve, engine.promptCodec(), () -> cancelRequested);
        } catch (JemmaException e) {
            throw new JemmaException(e.getMessage() + " (a longer context needs -c / contextLength; the model was trained for "
                    + engine.config().contextLength() + ")");
        }
        int dropped = full.size() - f.messages().size();
        int sys = !full.isEmpty() && full.getFirst().role().equals("system") ? 1 : 0;
        int at = sys - (full.size() - msgs.size());
        for (int k = 0; k < dropped && at >= 0; k++) msgs.remove(at);
        List<ChatMessage> kept = f.messages();
        int[] ids = buildPrompt(kept);
        if (ids.length == 0) throw new JemmaException("the prompt is empty");
        checkFits(ids.length, ctx);
        pendingConversation = new ArrayList<>(kept);
        pendingImages = media(kept, ids);
        return ids;
    }

    /**
     * Tokens for a conversation. When it extends the conversation this session answered last (same messages, then
     * our answer, then new ones), the new prompt is the tokens the model actually saw last time plus the tokens of
     * the new turns: re-tokenizing the answer's text could differ from the sampled tokens (and the template trims
     * it), and any difference would force a full re-read once a sliding-window layer's ring has wrapped.
     */
    private int[] buildPrompt(List<ChatMessage> full) {
        if (full.stream().anyMatch(ChatMessage::hasAudio)) return buildAudioPrompt(full);
        boolean images = full.stream().anyMatch(ChatMessage::hasImages);
        if (images) return buildImagePrompt(full);
        String text = engine.renderPrompt(full, true);
        if (seenConversation != null && full.size() > seenConversation.size()
                && full.subList(0, seenConversation.size() - 1).equals(seenConversation.subList(0, seenConversation.size() - 1))
                && full.get(seenConversation.size() - 1).role().equals("assistant")
                && full.get(seenConversation.size() - 1).content().strip().equals(seenConversation.getLast().content().strip())) {
            List<ChatMessage> seenAsGiven = full.subList(0, seenConversation.size());
            String before = engine.renderPrompt(seenAsGiven, false);
            if (text.startsWith(before)) {
                int[] delta = engine.tokenizer().encodePrompt(text.substring(before.length()));
                int[] r = Arrays.copyOf(seenTokens, seenTokens.length + delta.length);
                System.arraycopy(delta, 0, r, seenTokens.length, delta.length);
                return r;
            }
        }
        // the template writes <bos> itself: tokenize without adding another
        return engine.tokenizer().encodePrompt(text);
    }

    /**
     * {@link #buildPrompt} for a conversation with images: each image gets a {@code <start_of_image>} marker in its
     * message (before the text unless the text places it), the template renders, and every marker is expanded the way
     * HF's processor does before tokenizing. The delta path of {@link #buildPrompt} applies the same way.
     */
    private int[] buildImagePrompt(List<ChatMessage> full) {
        Vision v = engine.vision();
        if (v == null) {
            throw new JemmaException("this model takes no images: it has no vision tower (give a Gemma 3 model its mmproj file, --mmproj)");
        }
        List<ChatImage> all = new ArrayList<>();
        List<ChatMessage> marked = withProtectedMarkers(full, all);
        String text = engine.renderChat(marked, true);
        int markers = count(text, Vision.BOI);
        if (markers != all.size()) {
            throw new JemmaException("the prompt has " + markers + " " + Vision.BOI + " markers but the messages carry " + all.size() + " image(s)");
        }
        if (seenConversation != null && full.size() > seenConversation.size()
                && full.subList(0, seenConversation.size() - 1).equals(seenConversation.subList(0, seenConversation.size() - 1))
                && full.get(seenConversation.size() - 1).role().equals("assistant")
                && full.get(seenConversation.size() - 1).content().strip().equals(seenConversation.getLast().content().strip())) {
            String before = engine.renderChat(withProtectedMarkers(full.subList(0, seenConversation.size()), new ArrayList<>()), false);
            if (text.startsWith(before)) {
                int first = count(before, Vision.BOI);
                int[] delta = engine.tokenizer().encodePrompt(expand(text.substring(before.length()), all.subList(first, all.size())));
                int[] r = Arrays.copyOf(seenTokens, seenTokens.length + delta.length);
                System.arraycopy(delta, 0, r, seenTokens.length, delta.length);
                return r;
            }
        }
        return engine.tokenizer().encodePrompt(expand(text, all));
    }

    /** The messages with one image marker per image (missing ones put before the text); collects the images in order. */
    private static List<ChatMessage> withMarkers(List<ChatMessage> msgs, List<ChatImage> images) {
        List<ChatMessage> out = new ArrayList<>(msgs.size());
        for (ChatMessage m : msgs) {
            if (!m.hasImages()) {
                out.add(m);
                continue;
            }
            int have = count(m.content(), Vision.BOI), n = m.images().size();
            if (have > n) {
                throw new JemmaException("a " + m.role() + " message has " + have + " " + Vision.BOI + " markers but only " + n + " image(s)");
            }
            images.addAll(m.images());
            out.add(new ChatMessage(m.role(), Vision.BOI.repeat(n - have) + m.content(), m.images()));
        }
        return out;
    }

    /**
     * {@link #withMarkers}, with the messages' own text protected as {@link Engine#renderPrompt} does (a typed
     * {@code <end_of_turn>} stays text) while the image markers stay control tokens.
     */
    private List<ChatMessage> withProtectedMarkers(List<ChatMessage> msgs, List<ChatImage> images) {
        Tokenizer tok = engine.tokenizer();
        List<ChatMessage> out = new ArrayList<>(msgs.size());
        for (ChatMessage m : withMarkers(msgs, images)) {
            String[] parts = m.content().split(java.util.regex.Pattern.quote(Vision.BOI), -1);
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < parts.length; i++) {
                if (i > 0) sb.append(Vision.BOI);
                sb.append(tok.protect(parts[i]));
            }
            out.add(new ChatMessage(m.role(), sb.toString(), m.images()));
        }
        return out;
    }

    private static int count(String text, String marker) {
        int n = 0;
        for (int i = text.indexOf(marker); i >= 0; i = text.indexOf(marker, i + marker.length())) n++;
        return n;
    }

    /** Replaces the k-th marker of {@code text} by the processor's expansion for {@code images.get(k)}. */
    private String expand(String text, List<ChatImage> images) {
        Vision v = engine.vision();
        StringBuilder sb = new StringBuilder();
        int at = 0, k = 0;
        for (int i = text.indexOf(Vision.BOI); i >= 0; i = text.indexOf(Vision.BOI, at)) {
            sb.append(text, at, i).append(v.expansion(encoded(images.get(k++)).size()));
            at = i + Vision.BOI.length();
        }
        return sb.append(text.substring(at)).toString();
    }

    /** The embeddings of an image's parts (original, crops), encoded on first use in this conversation. */
    private List<float[]> encoded(ChatImage image) {
        List<float[]> e = encodedImages.get(image.digest());
        if (e == null) {
            e = engine.encodeImage(engine.vision().pixelValues(image));
            encodedImages.put(image.digest(), e);
        }
        return e;
    }

    /** The images of a conversation's prompt, one entry per soft-token run of {@code ids}; null when it has none. */
    private PromptMedia images(List<ChatMessage> full, int[] ids) {
        if (full.stream().noneMatch(ChatMessage::hasImages)) return null;
        Vision v = engine.vision();
        List<float[]> emb = new ArrayList<>();
        List<Integer> keys = new ArrayList<>();
        for (ChatMessage m : full) {
            for (ChatImage im : m.images()) {
                List<float[]> parts = encoded(im);
                for (int p = 0; p < parts.size(); p++) {
                    emb.add(parts.get(p));
                    keys.add(im.digest().hashCode() * 31 + p);
                }
            }
        }
        dev.jemma.core.vision.ImagePrompt.check(ids, v.softToken, emb.size(), v.tokensPerImage());
        return PromptMedia.of(v.softToken, emb, keys, !v.encoder.bidirectional());
    }

    /** The images and clips of a conversation's prompt (Gemma 3n: both kinds, causal rows); null when it has none. */
    private PromptMedia media(List<ChatMessage> full, int[] ids) {
        PromptMedia im = images(full, ids);
        if (full.stream().noneMatch(ChatMessage::hasAudio)) return im;
        PromptMedia au = audio(full, ids);
        if (im == null) return au;
        List<MediaRuns> both = new ArrayList<>(im.kinds());
        both.addAll(au.kinds());
        return new PromptMedia(both, true);
    }

    /**
     * {@link #buildPrompt} for a conversation with audio clips (Gemma 3n), and images beside them: each clip gets an
     * {@code <audio_soft_token>} marker and each image a {@code <start_of_image>} marker in its message (those the text
     * does not place go before it: images, then clips), the template renders, and every marker becomes HF's
     * Gemma3nProcessor expansion before tokenizing. The delta path of {@link #buildPrompt} applies the same way.
     */
    private int[] buildAudioPrompt(List<ChatMessage> full) {
        Media3n m = engine.audio3n();
        if (m == null || m.audio == null) {
            throw new JemmaException("this model takes no audio: it needs a Gemma 3n model with its mmproj file (--mmproj), which holds the audio tower");
        }
        List<ChatImage> images = new ArrayList<>();
        List<ChatAudio> all = new ArrayList<>();
        List<ChatMessage> marked = withMediaMarkers(full, images, all);
        if (!images.isEmpty() && engine.vision() == null) {
            throw new JemmaException("this model takes no images: its mmproj file has no vision tower (MobileNet-V5)");
        }
        String text = engine.renderChat(marked, true);
        int markers = count(text, ChatMessage.AUDIO_MARKER);
        if (markers != all.size()) {
            throw new JemmaException("the prompt has " + markers + " " + ChatMessage.AUDIO_MARKER + " markers but the messages carry " + all.size() + " clip(s)");
        }
        if (count(text, Vision.BOI) != images.size()) {
            throw new JemmaException("the prompt has " + count(text, Vision.BOI) + " " + Vision.BOI + " markers but the messages carry " + images.size() + " image(s)");
        }
        if (seenConversation != null && full.size() > seenConversation.size()
                && full.subList(0, seenConversation.size() - 1).equals(seenConversation.subList(0, seenConversation.size() - 1))
                && full.get(seenConversation.size() - 1).role().equals("assistant")
                && full.get(seenConversation.size() - 1).content().strip().equals(seenConversation.getLast().content().strip())) {
            String before = engine.renderChat(withMediaMarkers(full.subList(0, seenConversation.size()), new ArrayList<>(), new ArrayList<>()), false);
            if (text.startsWith(before)) {
                int first = images.isEmpty() ? 0 : count(before, Vision.BOI);
                int[] delta = engine.tokenizer().encodePrompt(expandMedia(text.substring(before.length()), images.subList(first, images.size()), m));
                int[] r = Arrays.copyOf(seenTokens, seenTokens.length + delta.length);
                System.arraycopy(delta, 0, r, seenTokens.length, delta.length);
                return r;
            }
        }
        return engine.tokenizer().encodePrompt(expandMedia(text, images, m));
    }

    /** Every clip marker and, when there are images, every image marker of {@code text} replaced by its expansion. */
    private String expandMedia(String text, List<ChatImage> images, Media3n m) {
        // the audio expansion holds no image marker, so the images' k-th marker is still the k-th image's
        String audio = text.replace(ChatMessage.AUDIO_MARKER, m.audioExpansion());
        return images.isEmpty() ? audio : expand(audio, images);
    }

    /**
     * The messages with one clip marker per clip and one image marker per image (missing ones put before the text:
     * images, then clips), their own text protected as {@link Engine#renderPrompt} protects it while the markers stay
     * control tokens (an image marker only in a message with images); collects the images and clips in order.
     */
    private List<ChatMessage> withMediaMarkers(List<ChatMessage> msgs, List<ChatImage> images, List<ChatAudio> clips) {
        Tokenizer tok = engine.tokenizer();
        String am = ChatMessage.AUDIO_MARKER;
        java.util.regex.Pattern both = java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(Vision.BOI) + "|" + java.util.regex.Pattern.quote(am));
        java.util.regex.Pattern audioOnly = java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(am));
        List<ChatMessage> out = new ArrayList<>(msgs.size());
        for (ChatMessage m : msgs) {
            int have = count(m.content(), am), n = m.audio().size();
            if (have > n) throw new JemmaException("a " + m.role() + " message has " + have + " " + am + " markers but only " + n + " clip(s)");
            int haveImages = m.hasImages() ? count(m.content(), Vision.BOI) : 0, nImages = m.images().size();
            if (haveImages > nImages) {
                throw new JemmaException("a " + m.role() + " message has " + haveImages + " " + Vision.BOI + " markers but only " + nImages + " image(s)");
            }
            images.addAll(m.images());
            clips.addAll(m.audio());
            String content = Vision.BOI.repeat(nImages - haveImages) + am.repeat(n - have) + m.content();
            java.util.regex.Matcher x = (m.hasImages() ? both : audioOnly).matcher(content);
            StringBuilder sb = new StringBuilder();
            int at = 0;
            while (x.find()) {
                sb.append(tok.protect(content.substring(at, x.start()))).append(x.group());
                at = x.end();
            }
            out.add(m.withContent(sb.append(tok.protect(content.substring(at))).toString()));
        }
        return out;
    }

    /** The clips of a conversation's prompt, one entry per audio soft-token run of {@code ids}, each encoded once. */
    private PromptMedia audio(List<ChatMessage> full, int[] ids) {
        Media3n m = engine.audio3n();
        List<float[]> emb = new ArrayList<>();
        List<Integer> keys = new ArrayList<>();
        for (ChatMessage msg : full) {
            for (ChatAudio a : msg.audio()) {
                List<float[]> e = encodedImages.get("audio:" + a.digest());
                if (e == null) {
                    e = List.of(engine.encodeAudio(a));
                    encodedImages.put("audio:" + a.digest(), e);
                }
                emb.add(e.getFirst());
                keys.add(a.digest().hashCode());
            }
        }
        dev.jemma.core.vision.ImagePrompt.check(ids, m.audioSoftToken, emb.size(), m.tokensPerClip);
        return PromptMedia.of(m.audioSoftToken, emb, keys, true);
    }

    /**
     * The prompt as the prefix cache compares it: soft-token positions stand for their image and row (negative
     * values no token has), so a different image at the same place is not taken for the cached one.
     */
    private int[] reuseKeys(int[] prompt, PromptMedia media) {
        if (media == null) return prompt;
        int[] keys = prompt.clone();
        for (MediaRuns kind : media.kinds()) {
            List<int[]> spans = dev.jemma.core.vision.ImagePrompt.spans(prompt, kind.softToken());
            for (int k = 0; k < spans.size(); k++) {
                int[] sp = spans.get(k);
                for (int i = sp[0]; i < sp[1]; i++) keys[i] = -1 - ((kind.keys()[k] ^ ((i - sp[0]) * 0x9E3779B9)) & 0x7fffffff);
            }
        }
        return keys;
    }

    /** Records what the cache now represents: the conversation with our answer, closed the way the template closes a turn. */
    private void rememberConversation(List<ChatMessage> conversation, int[] prompt, Generation g, int stopId) {
        seenConversation = null;
        seenTokens = null;
        if (conversation == null) return;
        List<ChatMessage> withAnswer = new ArrayList<>(conversation);
        String sentinel = "JemmaAnswerSentinel7f3a"; // no whitespace or controls: templates trim content
        withAnswer.add(ChatMessage.assistant(sentinel));
        String rendered;
        try {
            rendered = engine.renderPrompt(withAnswer, false);
        } catch (RuntimeException e) {
            return;
        }
        int at = rendered.indexOf(sentinel);
        if (at < 0) return;
        String closing = rendered.substring(at + sentinel.length());
        Tokenizer tok = engine.tokenizer();
        int[] close;
        if (stopId >= 0 && !tok.piece(stopId).isEmpty() && closing.startsWith(tok.piece(stopId))) {
            int[] rest = tok.encodePrompt(closing.substring(tok.piece(stopId).length()));
            close = new int[rest.length + 1];
            close[0] = stopId;
            System.arraycopy(rest, 0, close, 1, rest.length);
        } else {
            close = tok.encodePrompt(closing);
        }
        int[] t = Arrays.copyOf(prompt, prompt.length + g.tokens().length + close.length);
        System.arraycopy(g.tokens(), 0, t, prompt.length, g.tokens().length);
        System.arraycopy(close, 0, t, prompt.length + g.tokens().length, close.length);
        withAnswer.set(withAnswer.size() - 1, ChatMessage.assistant(g.text()));
        seenConversation = withAnswer;
        seenTokens = t;
    }

    private Generation run(int[] prompt, GenerationOptions requested, TokenListener listener) {
        List<ChatMessage> conversation = pendingConversation;
        PromptMedia images = pendingImages;
        pendingConversation = null;
        pendingImages = null;
        lastStopId = -1;
        int ctx = contextFor(requested);
        try {
            cache(engine.acquireCache(this, cache, () -> cancelRequested));
        } catch (CancellationException e) {
            // cancelled while every KV slot was busy: nothing ran
            return new Generation("", new int[0], prompt.length, 0, 0, 0, StopReason.CANCELLED);
        }
        try {
            Generation g = runUnchecked(prompt, images, requested, listener, ctx);
            rememberConversation(conversation, prompt, g, g.stopReason() == StopReason.END_OF_TURN ? lastStopId : -1);
            return g;
        } catch (RuntimeException | Error e) {
            // a pass that failed half-way may have written some cache slots: forget the cache rather than trust it
            cache.clear();
            cached = new int[0];
            seenConversation = null;
            seenTokens = null;
            throw e;
        } finally {
            engine.releaseCache(this);
        }
    }

    /** Takes the cache this generation runs with; a different one than before holds none of our tokens. */
    private void cache(KvCache c) {
        if (c != cache) {
            cache = c;
            cached = new int[0];
        }
    }

    private Generation runUnchecked(int[] prompt, PromptMedia images, GenerationOptions requested, TokenListener listener, int ctx) {
        if (listener == null) listener = TokenListener.NONE;
        GenerationOptions opts = (requested == null ? GenerationOptions.none() : requested).orElse(engine.defaults());
        Tokenizer tok = engine.tokenizer();
        // one sampler per generation: it holds this sequence's Mirostat state; DRY's breakers come from the vocabulary
        Sampler sampler = new Sampler(opts.sampling(), lastSampler, tok::tokenBytes, tok.vocabSize());
        lastSampler = sampler;
        int maxTokens = opts.maxTokensOrUnlimited();
        boolean ignoreEos = opts.ignoreEosOrFalse();
        int[] stopIds = tok.stopIds();
        StopStrings stops = new StopStrings(opts.stopOrEmpty());
        StreamDecoder decoder = tok.newDecoder();
        int vocab = engine.vocabSize();
        Integer topLogprobs = opts.logprobs();
        // an explicit filter wins over the options' grammar; each run gets a fresh parse state
        TokenFilter filter = tokenFilter;
        if (filter == null && opts.grammar() != null) filter = new GrammarConstraint(opts.grammar(), engine.grammarVocabulary());

        long t0 = System.nanoTime();
        int[] keys = reuseKeys(prompt, images);
        int reused = reusePrefix(keys, images == null || images.causal() ? null : prompt);
        float[] logits = null;
        // the logits of this generation's latest step: one row, which every step refills (see StepScheduler.forward)
        if (logitsRow == null || logitsRow.length < vocab) logitsRow = new float[vocab];
        final float[] logitsRow = this.logitsRow;
        float[][] imageRows = null;
        List<int[]> imageRuns = List.of();
        if (images != null) {
            for (MediaRuns kind : images.kinds()) {
                float[][] rows = dev.jemma.core.vision.ImagePrompt.embeddingRows(prompt, kind.softToken(), kind.embeddings(), engine.config().dim());
                if (imageRows == null) imageRows = rows;
                else for (int i = 0; i < rows.length; i++) if (rows[i] != null) imageRows[i] = rows[i];
            }
            // Gemma 3's image runs attend bidirectionally and must stay whole; Gemma 3n's soft tokens (images and audio)
            // are causal rows like any other (HF Gemma3n has no media mask), so its runs may be split anywhere
            if (!images.causal()) imageRuns = dev.jemma.core.vision.ImagePrompt.spans(prompt, images.kinds().getFirst().softToken());
        }
        if (reused < prompt.length) {
            if (cancelRequested) {
                return new Generation("", new int[0], prompt.length, reused, System.nanoTime() - t0, 0, StopReason.CANCELLED);
            }
            // one call: the scheduler runs it in chunks between the other sessions' tokens (never cutting an image's
            // run) and drops the rest at a cancel; the cache key of an image row names its image (reuseKeys)
            try {
                logits = engine.forward(prompt, imageRows, imageRuns, reused, prompt.length - reused, cache, this, cancelled, logitsRow);
            } catch (CancellationException e) {
                remember(keys, reused, cache.length() - reused); // the chunks that ran stay reusable
                return new Generation("", new int[0], prompt.length, reused, System.nanoTime() - t0, 0, StopReason.CANCELLED);
            }
            remember(keys, reused, prompt.length - reused);
        }
        long t1 = System.nanoTime();

        // history for the penalties: prompt then output
        int[] hist = Arrays.copyOf(prompt, prompt.length + 64);
        int histLen = prompt.length;
        int[] out = new int[16];
        int nOut = 0;
        StringBuilder text = new StringBuilder();
        StopReason reason;
        engine.openStream(this);
        try {
            while (true) {
                if (cancelRequested) {
                    reason = StopReason.CANCELLED;
                    break;
                }
                if (maxTokens >= 0 && nOut >= maxTokens) {
                    reason = StopReason.MAX_TOKENS;
                    break;
                }
                // the model's distribution, before the grammar mask (and the sampler's penalties and temperature)
                TokenLogprobs.Position position = topLogprobs != null ? new TokenLogprobs.Position(logits, 0, vocab, topLogprobs) : null;
                int id = filter != null ? filter.choose(sampler, logits, vocab, hist, histLen) : sampler.sample(logits, 0, vocab, hist, histLen);
                if (filter != null) filter.accept(id);
                if (!ignoreEos && contains(stopIds, id)) {
                    lastStopId = id;
                    reason = StopReason.END_OF_TURN;
                    break;
                }
                if (nOut == out.length) out = Arrays.copyOf(out, out.length * 2);
                out[nOut++] = id;
                if (histLen == hist.length) hist = Arrays.copyOf(hist, hist.length * 2);
                hist[histLen++] = id;
                String spelled = filter != null && tok.isControl(id) ? filter.spelling(id) : null;
                // a control token a grammar names is text of the answer (FunctionGemma's markup), not nothing
                String piece = stops.accept(spelled != null ? decoder.flush() + spelled : decoder.accept(id));
                text.append(piece);
                // a mask only lowers disallowed tokens to -inf: the chosen token's logit is still the model's
                listener.onToken(new Token(id, piece, nOut - 1, position == null ? null : position.of(id, logits[id])));
                if (stops.stopped()) {
                    reason = StopReason.STOP_STRING;
                    break;
                }
                if (maxTokens >= 0 && nOut >= maxTokens) {
                    reason = StopReason.MAX_TOKENS;
                    break;
                }
                if (cache.length() + 1 > ctx) {
                    reason = StopReason.CONTEXT_FULL;
                    break;
                }
                try {
                    logits = engine.forward(new int[]{id}, null, List.of(), 0, 1, cache, this, cancelled, logitsRow);
                } catch (CancellationException e) {
                    reason = StopReason.CANCELLED;
                    break;
                }
                remember(new int[]{id}, 0, 1);
            }
        } finally {
            // a stream that ends is no longer waited for
            engine.closeStream(this);
        }
        if (reason != StopReason.STOP_STRING) {
            String tail = stops.accept(decoder.flush());
            tail += stops.flush();
            if (!tail.isEmpty()) {
                text.append(tail);
                listener.onToken(new Token(-1, tail, nOut));
            }
        }
        long t2 = System.nanoTime();
        return new Generation(text.toString(), Arrays.copyOf(out, nOut), prompt.length, reused, t1 - t0, t2 - t1, reason);
    }

    /**
     * Keeps the cached prefix the new prompt shares with the tokens already processed; returns how many prompt
     * tokens need no processing. At least the last prompt token is always re-run, to get its logits.
     */
    private int reusePrefix(int[] prompt, int[] idsWithImages) {
        int have = cache.length();
        int common = 0, max = Math.min(have, prompt.length - 1);
        while (common < max && cached[common] == prompt[common]) common++;
        // an image's soft tokens attend to each other in one call: never resume inside one
        if (idsWithImages != null) common = dev.jemma.core.vision.ImagePrompt.notInsideSpan(idsWithImages, engine.vision().softToken, common);
        if (common < have) {
            if (cache.canTruncateTo(common)) {
                cache.truncate(common);
            } else {
                // a sliding-window layer has overwritten entries the shorter prefix needs: start over
                cache.clear();
                common = 0;
            }
        }
        return common;
    }

    private void remember(int[] tokens, int offset, int n) {
        int start = cache.length() - n;
        if (cached.length < cache.length()) cached = Arrays.copyOf(cached, Math.max(cache.length(), cached.length * 2));
        System.arraycopy(tokens, offset, cached, start, n);
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) if (x == v) return true;
        return false;
    }
}
