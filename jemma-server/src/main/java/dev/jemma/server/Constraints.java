package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.constrain.GrammarException;
import dev.jemma.core.constrain.JsonConstraint;
import dev.jemma.core.constrain.JsonSchemaGrammar;

/**
 * The request fields that constrain an answer, for both APIs, as one {@link Grammar}: Ollama's {@code format}
 * ({@code "json"} or a JSON Schema), OpenAI's {@code response_format} ({@code json_object}, {@code json_schema}), and
 * llama.cpp's {@code grammar} (GBNF) and {@code json_schema}. A schema keyword that cannot be enforced, or a malformed
 * grammar, is a 400 naming the field and the keyword (or the rule and position); at most one of them per request.
 */
final class Constraints {
    private Constraints() {
    }

    /** Ollama: {@code format}, {@code grammar}, {@code json_schema}; null when none is set. */
    static Grammar ollama(JsonNode body) {
        Grammar g = null;
        String from = null;
        JsonNode f = body.get("format");
        if (f != null && !f.isNull() && !(f.isTextual() && f.asText().isEmpty())) {
            if (f.isTextual() && f.asText().equals("json")) g = JsonConstraint.grammar();
            else if (f.isObject()) g = schema(f, "format");
            else throw HttpError.badRequest("field 'format' must be \"json\" or a JSON schema object");
            from = "format";
        }
        return llamaCpp(body, g, from);
    }

    /** OpenAI: {@code response_format}, {@code grammar}, {@code json_schema}; null when none is set. */
    static Grammar openAi(JsonNode body) {
        Grammar g = null;
        String from = null;
        JsonNode rf = body.get("response_format");
        if (rf != null && !rf.isNull()) {
            if (!rf.isObject()) throw HttpError.badRequest("field 'response_format' must be an object");
            String type = Params.string(rf, "type", "");
            switch (type) {
                case "text" -> {
                }
                case "json_object" -> {
                    // llama.cpp's server also takes a schema here
                    JsonNode s = rf.get("schema");
                    g = s != null && !s.isNull() ? schema(s, "response_format.schema") : JsonConstraint.grammar();
                }
                case "json_schema" -> {
                    JsonNode js = rf.get("json_schema");
                    if (js == null || !js.isObject()) throw HttpError.badRequest("field 'response_format.json_schema' is required for type json_schema");
                    JsonNode s = js.get("schema");
                    if (s == null || s.isNull()) throw HttpError.badRequest("field 'response_format.json_schema.schema' is required");
                    // strict or not, the schema is enforced: every answer validates
                    g = schema(s, "response_format.json_schema.schema");
                }
                default -> throw HttpError.badRequest("field 'response_format.type' must be text, json_object or json_schema");
            }
            if (g != null) from = "response_format";
        }
        return llamaCpp(body, g, from);
    }

    private static Grammar llamaCpp(JsonNode body, Grammar g, String from) {
        String gbnf = Params.string(body, "grammar", null);
        if (gbnf != null && !gbnf.isBlank()) {
            if (from != null) throw HttpError.badRequest("fields '" + from + "' and 'grammar' cannot be combined");
            try {
                g = Grammar.parse(gbnf);
            } catch (GrammarException e) {
                throw HttpError.badRequest("field 'grammar': " + e.getMessage());
            }
            from = "grammar";
        }
        JsonNode js = body.get("json_schema");
        if (js != null && !js.isNull()) {
            if (from != null) throw HttpError.badRequest("fields '" + from + "' and 'json_schema' cannot be combined");
            g = schema(js, "json_schema");
        }
        return g;
    }

    static Grammar schema(JsonNode schema, String field) {
        if (!schema.isObject() && !schema.isBoolean()) throw HttpError.badRequest("field '" + field + "' must be a JSON Schema object");
        try {
            return JsonSchemaGrammar.fromSchema(schema);
        } catch (GrammarException e) {
            throw HttpError.badRequest("field '" + field + "': " + e.getMessage());
        }
    }
}
