package dev.jemma.core.chat;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a conversation into the prompt text a model was trained on. A file's own Jinja template
 * ({@code tokenizer.chat_template}) is rendered with Jinjava, configured like Hugging Face's
 * {@code apply_chat_template} (trim_blocks, lstrip_blocks, {@code raise_exception}); a file without one gets Gemma's
 * format built in:
 * <pre>
 * &lt;bos&gt;&lt;start_of_turn&gt;user
 * {system}\n\n{user}&lt;end_of_turn&gt;
 * &lt;start_of_turn&gt;model
 * </pre>
 * The rendered text contains special-token text ({@code <bos>}, {@code <start_of_turn>}); tokenize it with special
 * parsing on and without adding another BOS. Thread-safe.
 *
 * <p>Jinjava is an optional dependency of jemma-core (jemma-cli and jemma-server bring it). Without it on the class
 * path, a file's template in Gemma's turn format ({@code <start_of_turn>} / {@code <end_of_turn>}, as every Gemma 3
 * and 3n file carries) is rendered by the built-in format, which matches it on the fixtures' conversations
 * (ChatTemplateTest); any other template fails at {@link #render} with a message saying what to add.
 */
public final class ChatTemplate {
    private final String source;
    private final String bosToken;
    private final String eosToken;
    /** Renders {@link #source}; null when the built-in format renders (no template, or no Jinja engine for a Gemma one). */
    private final JinjaRenderer jinja;
    /** Why a template cannot be rendered (no Jinja engine), or null. */
    private final String unavailable;
    /** Whether {@link #source} is FunctionGemma's template (tool results as mappings). */
    private final boolean functionGemma;

    private ChatTemplate(String source, String bosToken, String eosToken) {
        this.source = source;
        this.functionGemma = source != null && FunctionGemma.isTemplate(source);
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        if (source == null) {
            jinja = null;
            unavailable = null;
        } else if (jinjaAvailable()) {
            jinja = new JinjaRenderer();
            unavailable = null;
        } else {
            jinja = null;
            unavailable = gemmaFormat(source) ? null
                    : "chat template: this model's template needs a Jinja engine, which is not on the class path; add "
                    + "com.hubspot.jinjava:jinjava (jemma-cli and jemma-server include it) or send raw prompts";
        }
    }

    /** Whether Jinjava is on the class path (it is an optional dependency of jemma-core). */
    public static boolean jinjaAvailable() {
        try {
            Class.forName("com.hubspot.jinjava.Jinjava", false, ChatTemplate.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /** Whether a template uses Gemma's turn format, which the built-in renderer writes. */
    static boolean gemmaFormat(String template) {
        // FunctionGemma's template is Gemma's turns plus tool declarations the built-in format would drop silently
        return template.contains("<start_of_turn>") && template.contains("<end_of_turn>") && !FunctionGemma.isTemplate(template);
    }

    /** A Jinja template (Hugging Face conventions: {@code messages}, {@code add_generation_prompt}, {@code bos_token}). */
    public static ChatTemplate jinja(String template, String bosToken, String eosToken) {
        if (template == null || template.isBlank()) throw new IllegalArgumentException("empty template");
        return new ChatTemplate(template, bosToken, eosToken);
    }

    /** Gemma's format, for files that carry no template. */
    public static ChatTemplate gemma(String bosToken) {
        return new ChatTemplate(null, bosToken, "<eos>");
    }

    /**
     * The file's template if it has one, else Gemma's built-in format.
     *
     * @param bosToken the BOS piece's text (e.g. {@code <bos>}), or "" when the vocabulary has none
     */
    public static ChatTemplate fromGguf(GgufFile file, String bosToken, String eosToken) {
        String t = file.getString("tokenizer.chat_template");
        return t == null || t.isBlank() ? gemma(bosToken) : jinja(t, bosToken, eosToken);
    }

    /** Whether the built-in Gemma format renders, rather than a file's template. */
    public boolean isBuiltIn() {
        return jinja == null && unavailable == null;
    }

    /** The Jinja source, or null for the built-in format. */
    public String source() {
        return source;
    }

    /** Called by templates as {@code raise_exception('…')}. */
    public static String raiseException(String message) {
        throw new TemplateException(message);
    }

    /** A template refused the conversation (e.g. roles that do not alternate). */
    static final class TemplateException extends RuntimeException {
        TemplateException(String m) {
            super(m);
        }
    }

    /**
     * Renders a conversation.
     *
     * @param addGenerationPrompt end with the opening of a model turn, so the model answers next
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        if (unavailable != null) throw new JemmaException(unavailable);
        if (jinja == null) return renderGemma(messages, addGenerationPrompt);
        List<Map<String, Object>> msgs = new ArrayList<>();
        List<Object> tools = new ArrayList<>();
        for (ChatMessage m : messages) {
            for (Tool t : m.tools()) tools.add(toolData(t));
            // a system turn that only carries tool declarations is not a turn of its own
            if (!m.tools().isEmpty() && m.role().equals("system") && m.content().isBlank()) continue;
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("role", m.role());
            // a function's result that is a JSON object reaches FunctionGemma's template as a mapping, which it formats field
            // by field. Other templates get the text the client sent: Gemma 3's takes a string or a list of parts and
            // refuses a mapping ("Invalid content type"; Python's Jinja would iterate the keys and drop the result)
            Object content = m.content();
            if (m.role().equals("tool") && functionGemma && m.content().strip().startsWith("{")
                    && plain(m.content()) instanceof Map<?, ?> map) content = map;
            o.put("content", content);
            if (!m.toolCalls().isEmpty()) {
                List<Object> calls = new ArrayList<>();
                for (ToolCall c : m.toolCalls()) {
                    Map<String, Object> f = new LinkedHashMap<>();
                    f.put("name", c.name());
                    f.put("arguments", plain(c.arguments().isBlank() ? "{}" : c.arguments()));
                    Map<String, Object> call = new LinkedHashMap<>();
                    call.put("id", c.id());
                    call.put("type", "function");
                    call.put("function", f);
                    calls.add(call);
                }
                o.put("tool_calls", calls);
            }
            if (m.toolName() != null) o.put("name", m.toolName());
            msgs.add(o);
        }
        Map<String, Object> ctx = new HashMap<>();
        if (!tools.isEmpty()) ctx.put("tools", tools);
        ctx.put("messages", msgs);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        ctx.put("bos_token", bosToken);
        ctx.put("eos_token", eosToken);
        return jinja.render(source, ctx);
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    /** A tool as OpenAI's API and Hugging Face's templates shape it: {type: function, function: {name, description, parameters}}. */
    private static Map<String, Object> toolData(Tool t) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("name", t.name());
        f.put("description", t.description());
        if (t.parameters() != null) f.put("parameters", JSON.convertValue(t.parameters(), Object.class));
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("type", "function");
        o.put("function", f);
        return o;
    }

    /** JSON text as maps, lists and scalars (what a template iterates); text that is not JSON stays a string. */
    private static Object plain(String json) {
        try {
            return JSON.readValue(json, Object.class);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            return json;
        }
    }

    /** Gemma 3's template, written out: system text folded into the first user turn, assistant → model. */
    private String renderGemma(List<ChatMessage> messages, boolean addGenerationPrompt) {
        StringBuilder sb = new StringBuilder(bosToken);
        String prefix = "";
        int first = 0;
        if (!messages.isEmpty() && messages.get(0).role().equals("system")) {
            prefix = messages.get(0).content() + "\n\n";
            first = 1;
        }
        for (int i = first; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            boolean shouldBeUser = (i - first) % 2 == 0;
            if (m.role().equals("user") != shouldBeUser) {
                throw new JemmaException("chat template: Conversation roles must alternate user/assistant/user/assistant/...");
            }
            String role = m.role().equals("assistant") ? "model" : m.role();
            sb.append("<start_of_turn>").append(role).append('\n');
            if (i == first) sb.append(prefix);
            sb.append(m.content().strip()).append("<end_of_turn>\n");
        }
        if (addGenerationPrompt) sb.append("<start_of_turn>model\n");
        return sb.toString();
    }
}
