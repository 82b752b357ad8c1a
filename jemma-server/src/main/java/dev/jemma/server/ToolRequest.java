package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.chat.Tool;
import dev.jemma.core.chat.ToolCall;
import dev.jemma.core.chat.ToolCalling;
import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.constrain.GrammarException;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A chat request's tools, in OpenAI's and Ollama's shape ({@code tools: [{type: "function", function: {name,
 * description, parameters}}]}), with OpenAI's {@code tool_choice} (auto, none, required, or a named function) and
 * {@code parallel_tool_calls}: the grammar the answer is decoded under, and the conversation rewritten for Gemma's
 * prompt format ({@link ToolCalling}).
 */
final class ToolRequest {
    final List<Tool> tools;
    final ToolCalling.Choice choice;
    final boolean parallel;
    /** The answer's grammar in Gemma's prompt format (built up front: a schema it cannot enforce is a 400 at once). */
    final Grammar grammar;
    private final String only;

    private ToolRequest(List<Tool> tools, ToolCalling.Choice choice, String only, boolean parallel) {
        this.tools = tools;
        this.choice = choice;
        this.parallel = parallel;
        this.only = only;
        try {
            this.grammar = ToolCalling.grammar(tools, choice, only, parallel);
        } catch (GrammarException e) {
            throw HttpError.badRequest("field 'tools': " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw HttpError.badRequest("field 'tool_choice': " + e.getMessage());
        }
    }

    /** The request's tools, or null when it offers none. */
    static ToolRequest parse(JsonNode body) {
        for (String legacy : List.of("functions", "function_call")) {
            if (body.has(legacy) && !body.get(legacy).isNull()) {
                throw HttpError.badRequest("field '" + legacy + "' is OpenAI's deprecated form; use 'tools' and 'tool_choice'");
            }
        }
        // its type is checked with or without tools: a wrong one was ignored when the request offered none
        Params.bool(body, "parallel_tool_calls", true);
        JsonNode arr = body.get("tools");
        JsonNode tc = body.get("tool_choice");
        if (arr == null || arr.isNull() || (arr.isArray() && arr.isEmpty())) {
            if (tc != null && !tc.isNull() && !(tc.isTextual() && (tc.asText().equals("none") || tc.asText().equals("auto")))) {
                throw HttpError.badRequest("field 'tool_choice' needs 'tools'");
            }
            return null;
        }
        if (!arr.isArray()) throw HttpError.badRequest("field 'tools' must be an array");
        List<Tool> tools = new ArrayList<>();
        for (int i = 0; i < arr.size(); i++) {
            JsonNode t = arr.get(i);
            String type = t.path("type").asText("function");
            if (!type.equals("function")) throw HttpError.badRequest("tools[" + i + "].type '" + type + "' is not supported (function only)");
            JsonNode f = t.get("function");
            if (f == null || !f.isObject()) throw HttpError.badRequest("tools[" + i + "].function is required");
            String name = Params.string(f, "name", null);
            if (name == null || name.isBlank()) throw HttpError.badRequest("tools[" + i + "].function.name is required");
            for (Tool other : tools) if (other.name().equals(name)) throw HttpError.badRequest("tools[" + i + "]: the name '" + name + "' is used twice");
            JsonNode params = f.get("parameters");
            if (params != null && !params.isNull() && !params.isObject()) throw HttpError.badRequest("tools[" + i + "].function.parameters must be a JSON Schema object");
            tools.add(new Tool(name, Params.string(f, "description", ""), params == null || params.isNull() ? null : params));
        }
        ToolCalling.Choice choice = ToolCalling.Choice.AUTO;
        String only = null;
        if (tc != null && !tc.isNull()) {
            if (tc.isTextual()) {
                choice = switch (tc.asText()) {
                    case "auto" -> ToolCalling.Choice.AUTO;
                    case "none" -> ToolCalling.Choice.NONE;
                    case "required" -> ToolCalling.Choice.REQUIRED;
                    default -> throw HttpError.badRequest("field 'tool_choice' must be auto, none, required or {\"type\":\"function\",\"function\":{\"name\":…}}");
                };
            } else if (tc.isObject() && tc.path("function").path("name").isTextual()) {
                choice = ToolCalling.Choice.REQUIRED;
                only = tc.get("function").get("name").asText();
            } else {
                throw HttpError.badRequest("field 'tool_choice' must be auto, none, required or {\"type\":\"function\",\"function\":{\"name\":…}}");
            }
        }
        return new ToolRequest(tools, choice, only, Params.bool(body, "parallel_tool_calls", true));
    }

    /** The answer's grammar in the model's tool format (null for tool_choice none). */
    Grammar grammar(ToolCalling.Format format) {
        if (format == ToolCalling.Format.GEMMA_PROMPT || grammar == null) return grammar;
        try {
            return format.grammar(tools, choice, only, parallel);
        } catch (GrammarException e) {
            throw HttpError.badRequest("field 'tools': " + e.getMessage());
        }
    }

    /**
     * The messages as the model's template gets them ({@link ToolCalling.Format#conversation}): in Gemma's prompt
     * format, tool declarations in the system turn (unless tool_choice is none), calls as the model writes them and
     * results as user turns; for FunctionGemma, the tools with the system turn and calls and results structured for
     * its template. Also for a request without tools whose history holds calls and results.
     */
    static List<ServedModel.Message> rewrite(List<ServedModel.Message> msgs, ToolRequest tools, ToolCalling.Format format) {
        boolean any = tools != null;
        for (ServedModel.Message m : msgs) any |= m.role().equals("tool") || !m.toolCalls().isEmpty();
        if (!any) return msgs;
        List<ChatMessage> chat = new ArrayList<>();
        for (ServedModel.Message m : msgs) chat.add(m.chat());
        List<Tool> declared = tools == null || tools.choice == ToolCalling.Choice.NONE ? List.of() : tools.tools;
        List<ServedModel.Message> out = new ArrayList<>();
        for (ChatMessage c : format.conversation(chat, declared, tools == null || tools.parallel)) {
            // a turn's images keep the request field they came from (for messages about them)
            String field = null;
            if (c.hasImages()) {
                for (ServedModel.Message m : msgs) {
                    if (m.imagesField() != null && m.images().contains(c.images().getFirst())) {
                        field = m.imagesField();
                        break;
                    }
                }
            }
            out.add(new ServedModel.Message(c.role(), c.content(), c.images(), field, c.audio(), c.toolCalls(), c.toolName(), c.tools()));
        }
        return out;
    }

    /**
     * Reads the tool calls of an assistant message (OpenAI: arguments as a JSON string and an id; Ollama: arguments
     * as an object) and remembers each id's function name for the tool messages that answer them.
     */
    static List<ToolCall> calls(JsonNode calls, int i, Map<String, String> names) {
        if (!calls.isArray()) throw HttpError.badRequest("messages[" + i + "].tool_calls must be an array");
        List<ToolCall> out = new ArrayList<>();
        for (JsonNode c : calls) {
            JsonNode f = c.path("function");
            String name = f.path("name").asText("");
            if (name.isEmpty()) throw HttpError.badRequest("messages[" + i + "].tool_calls: function.name is required");
            JsonNode a = f.get("arguments");
            String args = a == null || a.isNull() ? "{}" : a.isTextual() ? a.asText() : a.toString();
            try {
                if (!Exchange.JSON.readTree(args.isBlank() ? "{}" : args).isObject()) throw new IllegalArgumentException();
            } catch (Exception e) {
                throw HttpError.badRequest("messages[" + i + "].tool_calls: the arguments of '" + name + "' must be a JSON object");
            }
            String id = c.path("id").asText("");
            if (!id.isEmpty()) names.put(id, name);
            out.add(new ToolCall(id, name, args));
        }
        return out;
    }

    static Map<String, String> newNames() {
        return new HashMap<>();
    }
}
