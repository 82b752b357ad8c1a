package dev.jemma.core.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.constrain.ToolCallGrammar;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Prompt-based function calling for Gemma 3, which has no tool tokens: the tools are declared in the system prompt in
 * the format Google documents for Gemma ("You have access to functions… you MUST put it in the format of {"name":
 * function name, "parameters": dictionary of argument name and its value}"), here as a JSON list so several
 * independent calls fit in one answer; the answer is decoded under {@link ToolCallGrammar}, so a call always parses
 * and its parameters validate against the function's schema. Earlier calls go back into the conversation as the model
 * wrote them, and results as user turns in a {@code tool_output} block, so roles keep alternating as Gemma's template
 * requires.
 */
public final class ToolCalling {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** OpenAI's tool_choice: may call or answer (auto), must call (required), must not call (none). */
    public enum Choice { AUTO, REQUIRED, NONE }

    private ToolCalling() {
    }

    /** System-prompt text declaring the tools. */
    public static String declarations(List<Tool> tools, boolean parallel) {
        ArrayNode list = JSON.createArrayNode();
        for (Tool t : tools) {
            ObjectNode o = list.addObject().put("name", t.name());
            if (!t.description().isEmpty()) o.put("description", t.description());
            o.set("parameters", t.parameters() == null ? JSON.createObjectNode().put("type", "object") : t.parameters());
        }
        String json;
        try {
            json = JSON.writerWithDefaultPrettyPrinter().writeValueAsString(list);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        return "You have access to functions. If you decide to invoke any of the function(s), you MUST put it in the format of\n"
                + "[{\"name\": function name, \"parameters\": dictionary of argument name and its value}]\n"
                + (parallel ? "with one object per call (several calls in the list when they are independent).\n" : "with exactly one call in the list.\n")
                + "You SHOULD NOT include any other text in the response if you call a function.\n" + json;
    }

    /**
     * The grammar of the answer, or null for {@link Choice#NONE} (plain text).
     *
     * @param only call this function (a named tool_choice), or null
     */
    public static Grammar grammar(List<Tool> tools, Choice choice, String only, boolean parallel) {
        if (choice == Choice.NONE) return null;
        return ToolCallGrammar.of(functions(tools, only), choice == Choice.AUTO && only == null, parallel);
    }

    /** The functions that may be called: all, or only the one a named tool_choice asks for. */
    static Map<String, JsonNode> functions(List<Tool> tools, String only) {
        Map<String, JsonNode> functions = new LinkedHashMap<>();
        for (Tool t : tools) if (only == null || t.name().equals(only)) functions.put(t.name(), t.parameters());
        if (only != null && functions.isEmpty()) throw new IllegalArgumentException("tool_choice names '" + only + "', which is not among the tools");
        return functions;
    }

    /**
     * How a model calls tools: Google's prompt format for Gemma 3 (this class), or FunctionGemma's own template and
     * markup ({@link FunctionGemma}), chosen by the model's chat template.
     */
    public enum Format {
        GEMMA_PROMPT, FUNCTION_GEMMA;

        /** The format of a model whose chat template source is {@code template} (null: the built-in Gemma format). */
        public static Format of(String template) {
            return FunctionGemma.isTemplate(template) ? FUNCTION_GEMMA : GEMMA_PROMPT;
        }

        /** The grammar of the answer, or null for {@link Choice#NONE}. */
        public Grammar grammar(List<Tool> tools, Choice choice, String only, boolean parallel) {
            return this == FUNCTION_GEMMA ? FunctionGemma.grammar(tools, choice, only, parallel) : ToolCalling.grammar(tools, choice, only, parallel);
        }

        /** The calls in an answer, or null when it is text (or an unfinished call). */
        public List<ToolCall> parse(String answer) {
            return this == FUNCTION_GEMMA ? FunctionGemma.parse(answer) : ToolCalling.parse(answer);
        }

        /**
         * The conversation for the template: messages whose calls ({@link ChatMessage#toolCalls}) and results (role
         * {@code tool}, {@link ChatMessage#toolName}) are structured, with the tools to declare (none: declare nothing).
         */
        public List<ChatMessage> conversation(List<ChatMessage> messages, List<Tool> tools, boolean parallel) {
            if (this == FUNCTION_GEMMA) return FunctionGemma.conversation(messages, tools);
            List<ChatMessage> written = new ArrayList<>();
            for (ChatMessage m : messages) {
                if (!m.toolCalls().isEmpty()) {
                    String calls = callsText(m.toolCalls());
                    written.add(new ChatMessage(m.role(), m.content().isBlank() ? calls : m.content() + "\n" + calls, m.images(), m.audio()));
                } else if (m.role().equals("tool")) {
                    written.add(new ChatMessage("tool", resultText(m.toolName(), m.content()), m.images(), m.audio()));
                } else {
                    written.add(m);
                }
            }
            return ToolCalling.conversation(written, tools, parallel);
        }

        /** Whether a streamed answer that begins with {@code start} (its first non-blank text) is a call. */
        public boolean startsCalls(String start) {
            return this == FUNCTION_GEMMA ? start.startsWith(ToolCallGrammar.CALL_START) : start.startsWith("[");
        }
    }

    /** Earlier calls as the model writes them. */
    public static String callsText(List<ToolCall> calls) {
        ArrayNode list = JSON.createArrayNode();
        for (ToolCall c : calls) {
            ObjectNode o = list.addObject().put("name", c.name());
            try {
                o.set("parameters", JSON.readTree(c.arguments().isBlank() ? "{}" : c.arguments()));
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException("the arguments of tool call '" + c.name() + "' are not JSON: " + e.getOriginalMessage());
            }
        }
        return list.toString();
    }

    /** A tool's result as the text of a user turn. */
    public static String resultText(String name, String content) {
        return "```tool_output\n" + (name == null || name.isBlank() ? "" : name + ": ") + content + "\n```";
    }

    /**
     * The calls in an answer, or null when the answer is text (or an incomplete call list, e.g. cut by the token limit).
     * Ids are fresh ({@code call_…}).
     */
    public static List<ToolCall> parse(String answer) {
        String t = answer.strip();
        if (!t.startsWith("[")) return null;
        JsonNode list;
        try {
            list = JSON.readTree(t);
        } catch (JsonProcessingException e) {
            return null;
        }
        if (!list.isArray() || list.isEmpty()) return null;
        List<ToolCall> out = new ArrayList<>();
        for (JsonNode c : list) {
            if (!c.path("name").isTextual() || !c.path("parameters").isObject()) return null;
            out.add(new ToolCall("call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24), c.get("name").asText(),
                    c.get("parameters").toString()));
        }
        return out;
    }

    /**
     * A conversation ready for a template that knows system, user and assistant turns only: the declarations join
     * the system message (one is added if there is none), {@code tool} turns become user turns, and consecutive user
     * turns are merged so roles alternate.
     */
    public static List<ChatMessage> conversation(List<ChatMessage> messages, List<Tool> tools, boolean parallel) {
        List<ChatMessage> out = new ArrayList<>();
        String decl = tools == null || tools.isEmpty() ? null : declarations(tools, parallel);
        int start = 0;
        if (decl != null) {
            if (!messages.isEmpty() && messages.getFirst().role().equals("system")) {
                out.add(messages.getFirst().withContent(messages.getFirst().content() + "\n\n" + decl));
                start = 1;
            } else {
                out.add(ChatMessage.system(decl));
            }
        }
        for (int i = start; i < messages.size(); i++) {
            ChatMessage m = messages.get(i);
            ChatMessage turn = m.role().equals("tool") ? ChatMessage.user(m.content(), m.images(), m.audio()) : m;
            if (!out.isEmpty() && turn.role().equals("user") && out.getLast().role().equals("user")) {
                List<ChatImage> images = new ArrayList<>(out.getLast().images());
                images.addAll(turn.images());
                List<ChatAudio> audio = new ArrayList<>(out.getLast().audio());
                audio.addAll(turn.audio());
                out.set(out.size() - 1, ChatMessage.user(out.getLast().content() + "\n\n" + turn.content(), images, audio));
            } else {
                out.add(turn);
            }
        }
        return out;
    }
}
