package dev.jemma.core.constrain;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The grammar of a tool call answer: a JSON list of calls {@code [{"name": "f", "parameters": {…}}, …]} whose
 * parameters are valid against the named function's JSON Schema, so a call always parses and validates. With
 * {@code allowText} the answer may instead be plain text that does not start with {@code [} (tool choice "auto").
 */
public final class ToolCallGrammar {
    private ToolCallGrammar() {
    }

    /**
     * @param functions  function name → parameters schema (null: any JSON object), in the order offered
     * @param allowText  plain text is an alternative to calls
     * @param parallel   several calls may be listed (else exactly one)
     * @throws GrammarException when a parameters schema cannot be enforced (the message names the function)
     */
    public static Grammar of(Map<String, JsonNode> functions, boolean allowText, boolean parallel) {
        return Grammar.parse(gbnf(functions, allowText, parallel));
    }

    public static String gbnf(Map<String, JsonNode> functions, boolean allowText, boolean parallel) {
        if (functions.isEmpty()) throw new GrammarException("tools: no function to call");
        JsonSchemaGrammar c = JsonSchemaGrammar.combined();
        String ws = c.ws();
        List<String> calls = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, JsonNode> f : new LinkedHashMap<>(functions).entrySet()) {
            JsonNode schema = f.getValue();
            String params;
            try {
                params = schema == null || schema.isNull() ? c.add(com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode()
                        .put("type", "object"), "f" + i + "-parameters", "") : c.add(schema, "f" + i + "-parameters", "");
            } catch (GrammarException e) {
                throw new GrammarException("tool '" + f.getKey() + "' parameters: " + e.getMessage(), e.keyword());
            }
            String name = JsonSchemaGrammar.gbnfLiteral(quote(f.getKey()));
            calls.add(c.define("f" + i + "-call", "\"{\" " + ws + " \"\\\"name\\\"\" " + ws + " \":\" " + ws + " " + name + " " + ws
                    + " \",\" " + ws + " \"\\\"parameters\\\"\" " + ws + " \":\" " + ws + " " + params + " \"}\" " + ws));
            i++;
        }
        String call = c.define("call", String.join(" | ", calls));
        String list = c.define("calls", "\"[\" " + ws + " " + call + (parallel ? " (\",\" " + ws + " " + call + ")*" : "") + " \"]\" " + ws);
        if (!allowText) return c.render(list);
        // text: anything whose first character is neither '[' nor white space (so it cannot be a call list)
        String text = c.define("text", "[^\\[ \\t\\n\\r] [\\x00-\\U0010FFFF]*");
        return c.render(list + " | " + text);
    }

    /** FunctionGemma's markers of a call: special tokens of its vocabulary. */
    public static final String CALL_START = "<start_function_call>", CALL_END = "<end_function_call>";

    /**
     * The grammar of a FunctionGemma answer: one call (or, with {@code parallel}, several in a row) in its own markup,
     * {@code <start_function_call>call:NAME{key:value,…}<end_function_call>}, the arguments valid against the
     * function's schema in FunctionGemma's value syntax; with {@code allowText} plain text instead.
     */
    public static Grammar functionGemma(Map<String, JsonNode> functions, boolean allowText, boolean parallel) {
        return Grammar.parse(functionGemmaGbnf(functions, allowText, parallel));
    }

    public static String functionGemmaGbnf(Map<String, JsonNode> functions, boolean allowText, boolean parallel) {
        if (functions.isEmpty()) throw new GrammarException("tools: no function to call");
        JsonSchemaGrammar c = JsonSchemaGrammar.functionGemma();
        List<String> calls = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, JsonNode> f : new LinkedHashMap<>(functions).entrySet()) {
            String name = f.getKey();
            if (name.codePoints().anyMatch(ch -> ch < 0x20 || "{}<>:,\"".indexOf(ch) >= 0 || Character.isWhitespace(ch))) {
                throw new GrammarException("tool '" + name + "': FunctionGemma writes the function name bare, so it may not hold white space or any of {}<>:,\"", "name");
            }
            JsonNode schema = f.getValue();
            String params;
            try {
                params = c.add(schema == null || schema.isNull() ? com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode()
                        .put("type", "object") : schema, "f" + i + "-parameters", "");
            } catch (GrammarException e) {
                throw new GrammarException("tool '" + name + "' parameters: " + e.getMessage(), e.keyword());
            }
            calls.add(c.define("f" + i + "-call", JsonSchemaGrammar.gbnfLiteral(name) + " " + params));
            i++;
        }
        String call = c.define("call", CALL_START + " \"call:\" (" + String.join(" | ", calls) + ") " + CALL_END);
        String list = c.define("calls", call + (parallel ? "+" : ""));
        if (!allowText) return c.render(list);
        // text holds no markup token (those are only spelled by the grammar's references), so it cannot start a call
        String text = c.define("text", "[\\x00-\\U0010FFFF]*");
        return c.render(list + " | " + text);
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            if (ch == '"' || ch == '\\') sb.append('\\').append(ch);
            else if (ch < 0x20) sb.append(String.format("\\u%04x", (int) ch));
            else sb.append(ch);
        }
        return sb.append('"').toString();
    }
}
