package dev.jemma.core.chat;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.constrain.ToolCallGrammar;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * FunctionGemma (Gemma 3 270M fine-tuned for function calling): its chat template declares the tools itself
 * ({@code <start_function_declaration>declaration:NAME{…}<end_function_declaration>} in a developer turn), the model
 * answers with {@code <start_function_call>call:NAME{key:<escape>text<escape>,n:3}<end_function_call>} and reads
 * results as {@code <start_function_response>response:NAME{…}<end_function_response>} inside its own turn. Those
 * markers and {@code <escape>} are special tokens: the answer is decoded under a grammar that names them
 * ({@link ToolCallGrammar#functionGemma}), so a call always parses and its arguments validate against the function's
 * schema, and {@link #parse} reads the markup back.
 */
public final class FunctionGemma {
    /** The developer prompt the model card asks for when the conversation brings no system message. */
    public static final String DEVELOPER_PROMPT = "You are a model that can do function calling with the following functions";
    static final String ESCAPE = "<escape>";
    private static final ObjectMapper JSON = new ObjectMapper();

    private FunctionGemma() {
    }

    /** Whether a chat template is FunctionGemma's: it declares tools and writes calls with FunctionGemma's markers. */
    public static boolean isTemplate(String template) {
        return template != null && template.contains("<start_function_declaration>") && template.contains(ToolCallGrammar.CALL_START);
    }

    /** The grammar of the answer, or null for {@link ToolCalling.Choice#NONE}. */
    public static Grammar grammar(List<Tool> tools, ToolCalling.Choice choice, String only, boolean parallel) {
        if (choice == ToolCalling.Choice.NONE) return null;
        return ToolCallGrammar.functionGemma(ToolCalling.functions(tools, only), choice == ToolCalling.Choice.AUTO && only == null, parallel);
    }

    /**
     * The conversation as the template reads it: the tools travel with the system turn (one with the model card's
     * developer prompt is added if there is none), calls and results stay structured.
     */
    public static List<ChatMessage> conversation(List<ChatMessage> messages, List<Tool> tools) {
        List<ChatMessage> out = new ArrayList<>();
        int start = 0;
        if (tools != null && !tools.isEmpty()) {
            if (!messages.isEmpty() && messages.getFirst().role().equals("system")) {
                ChatMessage s = messages.getFirst();
                out.add(new ChatMessage("system", s.content(), s.images(), s.audio(), List.of(), null, tools));
                start = 1;
            } else {
                out.add(ChatMessage.systemWithTools(DEVELOPER_PROMPT, tools));
            }
        }
        out.addAll(messages.subList(start, messages.size()));
        return out;
    }

    /**
     * The calls in an answer ({@code <start_function_call>call:…<end_function_call>}, one or more), their arguments as
     * JSON object text; null when the answer is text or an unfinished call (cut by the token limit).
     */
    public static List<ToolCall> parse(String answer) {
        String t = answer.strip();
        if (!t.startsWith(ToolCallGrammar.CALL_START)) return null;
        List<ToolCall> out = new ArrayList<>();
        Reader r = new Reader(t);
        try {
            while (r.pos < t.length()) {
                r.expect(ToolCallGrammar.CALL_START);
                r.expect("call:");
                int brace = t.indexOf('{', r.pos);
                if (brace < 0) return null;
                String name = t.substring(r.pos, brace);
                r.pos = brace;
                JsonNode args = r.value();
                if (!args.isObject()) return null;
                r.expect(ToolCallGrammar.CALL_END);
                out.add(new ToolCall("call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24), name, args.toString()));
                while (r.pos < t.length() && Character.isWhitespace(t.charAt(r.pos))) r.pos++;
            }
        } catch (IllegalArgumentException e) {
            return null;
        }
        return out.isEmpty() ? null : out;
    }

    /** FunctionGemma's value syntax: {@code {k:v,…}}, {@code [v,…]}, {@code <escape>text<escape>}, numbers, true/false/null. */
    private static final class Reader {
        final String s;
        int pos;

        Reader(String s) {
            this.s = s;
        }

        void expect(String lit) {
            if (!s.startsWith(lit, pos)) throw new IllegalArgumentException();
            pos += lit.length();
        }

        JsonNode value() {
            if (pos >= s.length()) throw new IllegalArgumentException();
            if (s.startsWith(ESCAPE, pos)) {
                int end = s.indexOf(ESCAPE, pos + ESCAPE.length());
                if (end < 0) throw new IllegalArgumentException();
                String text = s.substring(pos + ESCAPE.length(), end);
                pos = end + ESCAPE.length();
                return JsonNodeFactory.instance.textNode(text);
            }
            char c = s.charAt(pos);
            if (c == '{') {
                pos++;
                ObjectNode o = JsonNodeFactory.instance.objectNode();
                if (s.startsWith("}", pos)) {
                    pos++;
                    return o;
                }
                while (true) {
                    int colon = s.indexOf(':', pos);
                    if (colon < 0) throw new IllegalArgumentException();
                    String key = s.substring(pos, colon);
                    pos = colon + 1;
                    o.set(key, value());
                    if (s.startsWith(",", pos)) pos++;
                    else if (s.startsWith("}", pos)) {
                        pos++;
                        return o;
                    } else throw new IllegalArgumentException();
                }
            }
            if (c == '[') {
                pos++;
                ArrayNode a = JsonNodeFactory.instance.arrayNode();
                if (s.startsWith("]", pos)) {
                    pos++;
                    return a;
                }
                while (true) {
                    a.add(value());
                    if (s.startsWith(",", pos)) pos++;
                    else if (s.startsWith("]", pos)) {
                        pos++;
                        return a;
                    } else throw new IllegalArgumentException();
                }
            }
            int end = pos;
            while (end < s.length() && ",}]".indexOf(s.charAt(end)) < 0) end++;
            String scalar = s.substring(pos, end);
            pos = end;
            try {
                JsonNode n = JSON.readTree(scalar);
                if (n == null || !(n.isNumber() || n.isBoolean() || n.isNull())) throw new IllegalArgumentException();
                return n;
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException();
            }
        }
    }

    static Map<String, JsonNode> functionsOf(List<Tool> tools) {
        Map<String, JsonNode> m = new LinkedHashMap<>();
        for (Tool t : tools) m.put(t.name(), t.parameters());
        return m;
    }
}
