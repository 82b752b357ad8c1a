package dev.jemma.core.constrain;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * JSON Schema → GBNF, after the behaviour llama.cpp documents for its json-schema-to-grammar (its code is not used):
 * every output the grammar allows validates against the schema, and what cannot be enforced is refused with a
 * {@link GrammarException} naming the keyword — never silently ignored. The grammar may allow fewer documents than the
 * schema does (object properties come in the schema's order, no undeclared properties unless
 * {@code additionalProperties} asks for them, dates only use days 01–28, numbers in a range carry no exponent).
 *
 * <p>Supported: {@code type} (one or a list), {@code properties} + {@code required}, {@code additionalProperties},
 * {@code enum}, {@code const}, {@code items} / {@code prefixItems} (and draft-7 tuple {@code items} +
 * {@code additionalItems}), {@code minItems} / {@code maxItems}, {@code minLength} / {@code maxLength},
 * {@code pattern} (the regex subset llama.cpp supports: literals, {@code .}, classes, groups, alternation,
 * quantifiers, {@code \d \w \s}, anchors), {@code format} date / time / date-time / uuid, {@code anyOf},
 * {@code oneOf} (when its alternatives cannot overlap), {@code allOf} (object schemas merged), {@code $ref} to
 * {@code #}, {@code #/$defs/…} or any local JSON pointer (recursion allowed), integer {@code minimum} /
 * {@code maximum} / {@code exclusiveMinimum} / {@code exclusiveMaximum} (numbers in a range too, without exponent).
 * OpenAPI's {@code nullable} is not JSON Schema (validators ignore it): the value is generated without null, which is
 * valid under either reading. Annotations ({@code title}, {@code description}, {@code default}, {@code examples} …)
 * are ignored as the specification says.
 *
 * <p>The same schemas also convert to FunctionGemma's call syntax ({@link #functionGemma}): values as its chat template
 * writes them, strings between {@code <escape>} tokens, object keys bare, no whitespace. A string's text never
 * contains {@code <escape>} (so a call parses back unambiguously); with {@code minLength}/{@code maxLength} it
 * contains no {@code <} at all. Extra properties ({@code additionalProperties} true or a schema) are refused there.
 */
public final class JsonSchemaGrammar {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "default", "examples", "$schema", "$id", "$comment",
            "deprecated", "readOnly", "writeOnly", "$defs", "definitions", "$anchor", "contentMediaType", "contentEncoding", "strict");
    private static final Set<String> SUPPORTED = Set.of("type", "properties", "required", "additionalProperties", "enum", "const",
            "items", "prefixItems", "additionalItems", "minItems", "maxItems", "minLength", "maxLength", "pattern", "format", "anyOf",
            "oneOf", "allOf", "$ref", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "nullable");
    private static final List<String> TYPES = List.of("object", "array", "string", "number", "integer", "boolean", "null");
    private static final int MAX_DIGITS = 16;
    private static final Set<String> PRIMITIVES = Set.of("ws", "boolean", "null", "integral-part", "number", "integer", "char",
            "plain-char", "string", "value", "object", "array", "date", "time", "uuid", "esc-text", "esc-text-1", "esc-text-2",
            "esc-text-3", "esc-text-4", "esc-text-5", "esc-text-6", "esc-text-7", "fg-key");
    /** FunctionGemma's string delimiter, a special token. */
    static final String ESCAPE = "<escape>";

    /** The document $refs resolve in: the schema being converted. */
    private JsonNode root;
    private final Map<String, String> rules = new LinkedHashMap<>();
    private final Map<String, String> ruleByBody = new HashMap<>();
    private final Map<String, String> refRules = new HashMap<>();
    /** FunctionGemma's call syntax instead of JSON. */
    private final boolean markup;

    private JsonSchemaGrammar(JsonNode root) {
        this(root, false);
    }

    private JsonSchemaGrammar(JsonNode root, boolean markup) {
        this.root = root;
        this.markup = markup;
    }

    /** The grammar of documents valid against {@code schema}. */
    public static Grammar fromSchema(JsonNode schema) {
        return Grammar.parse(toGbnf(schema));
    }

    /** Parses the schema text first; a syntax error is a {@link GrammarException} too. */
    public static Grammar fromSchema(String schemaJson) {
        JsonNode n;
        try {
            n = JSON.readTree(schemaJson);
        } catch (JsonProcessingException e) {
            throw new GrammarException("JSON Schema: not valid JSON: " + e.getOriginalMessage());
        }
        if (n == null) throw new GrammarException("JSON Schema: empty");
        return fromSchema(n);
    }

    /** The GBNF text for {@code schema} (for inspection; {@link #fromSchema} compiles it). */
    public static String toGbnf(JsonNode schema) {
        JsonSchemaGrammar c = new JsonSchemaGrammar(schema);
        return c.render(c.visit(schema, "root", ""));
    }

    /** A converter for several schemas in one grammar ({@link #add}, then {@link #render}). */
    static JsonSchemaGrammar combined() {
        return new JsonSchemaGrammar(null);
    }

    /** A converter to FunctionGemma's value syntax, for several schemas in one grammar. */
    static JsonSchemaGrammar functionGemma() {
        return new JsonSchemaGrammar(null, true);
    }

    /** The GBNF of a string's delimiter: a JSON quote, or FunctionGemma's {@code <escape>} token. */
    private String quote() {
        return markup ? ESCAPE : "\"\\\"\"";
    }

    /** Converts one more schema (its $refs resolve inside it); returns the name of the rule for its documents. */
    String add(JsonNode schema, String hint, String path) {
        root = schema;
        refRules.clear();
        return rule(hint, visit(schema, hint, path));
    }

    /** A rule of this grammar with the given body (deduplicated), for callers composing around schemas. */
    String define(String hint, String body) {
        return rule(hint, body);
    }

    /** The name of the optional-whitespace rule. */
    String ws() {
        return primitive("ws");
    }

    /** The whole grammar with {@code rootBody} as the start rule. */
    String render(String rootBody) {
        StringBuilder sb = new StringBuilder();
        sb.append("root ::= ").append(rootBody).append('\n');
        for (var e : rules.entrySet()) if (!e.getKey().equals("root")) sb.append(e.getKey()).append(" ::= ").append(e.getValue()).append('\n');
        return sb.toString();
    }

    // ------------------------------------------------------------------ rules

    /** A named rule with this body (one rule per distinct body). */
    private String rule(String hint, String body) {
        String existing = ruleByBody.get(body);
        if (existing != null) return existing;
        String name = fresh(hint);
        rules.put(name, body);
        ruleByBody.put(body, name);
        return name;
    }

    private String fresh(String hint) {
        String base = hint.replaceAll("[^a-zA-Z0-9-]+", "-").replaceAll("^-+|-+$", "");
        if (base.isEmpty() || base.equals("root")) base = "value";
        String name = base;
        for (int i = 2; rules.containsKey(name) || PRIMITIVES.contains(name); i++) name = base + "-" + i;
        rules.put(name, ""); // reserved
        return name;
    }

    private String primitive(String name) {
        if (rules.containsKey(name)) return name;
        if (markup) {
            String fg = markupPrimitive(name);
            if (fg != null) {
                rules.put(name, fg);
                switch (name) {
                    case "value" -> {
                        for (String p : List.of("object", "array", "string", "number", "boolean", "null")) primitive(p);
                    }
                    case "object" -> {
                        primitive("fg-key");
                        primitive("value");
                    }
                    case "array" -> primitive("value");
                    case "string" -> primitive("esc-text");
                    case "esc-text" -> {
                        for (int k = 1; k < ESCAPE.length(); k++) primitive("esc-text-" + k);
                    }
                    default -> {
                    }
                }
                return name;
            }
        }
        String body = switch (name) {
            case "ws" -> "| \" \" | \"\\n\" [ \\t]{0,20}";
            case "boolean" -> "(\"true\" | \"false\") ws";
            case "null" -> "\"null\" ws";
            case "integral-part" -> "[0] | [1-9] [0-9]{0," + (MAX_DIGITS - 1) + "}";
            case "number" -> "(\"-\"? " + primitive("integral-part") + ") (\".\" [0-9]{1," + MAX_DIGITS + "})? ([eE] [-+]? [0-9]{1," + MAX_DIGITS + "})? " + primitive("ws");
            case "integer" -> "(\"-\"? " + primitive("integral-part") + ") " + primitive("ws");
            // escapes never spell a surrogate: a lone one is not a character, and a pair would count as two
            case "char" -> "[^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" ([0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2}))";
            case "plain-char" -> "[^\"\\\\\\x00-\\x1F]";
            case "string" -> "\"\\\"\" " + primitive("char") + "* \"\\\"\" " + primitive("ws");
            case "value" -> "object | array | string | number | boolean | null";
            case "object" -> "\"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws";
            case "array" -> "\"[\" ws ( value (\",\" ws value)* )? \"]\" ws";
            case "date" -> "[0-9]{4} \"-\" (\"0\" [1-9] | \"1\" [0-2]) \"-\" (\"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8])";
            case "time" -> "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" [0-5] [0-9] (\".\" [0-9]{1,6})? (\"Z\" | [+-] ([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9])";
            case "uuid" -> "[0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12}";
            default -> throw new IllegalArgumentException(name);
        };
        rules.put(name, body);
        if (name.equals("value")) for (String p : List.of("object", "array", "string", "number", "boolean", "null")) primitive(p);
        if (name.equals("object") || name.equals("array")) {
            primitive("value");
            primitive("ws");
        }
        if (name.equals("boolean") || name.equals("null")) primitive("ws");
        return name;
    }

    /**
     * FunctionGemma's forms of the shared rules, or null where JSON's serve (numbers, booleans, dates…). A string's
     * text is a small automaton over how much of {@code <escape>} it has just read, so it never contains it.
     */
    private String markupPrimitive(String name) {
        if (name.equals("esc-text") || name.startsWith("esc-text-")) {
            int k = name.equals("esc-text") ? 0 : Integer.parseInt(name.substring("esc-text-".length()));
            String state0 = "esc-text";
            if (k == 0) return "\"\" | [^<] esc-text | \"<\" esc-text-1";
            char want = ESCAPE.charAt(k);
            String alts = "\"\" | \"<\" esc-text-1 | [^<" + classChar(want) + "] " + state0;
            if (k + 1 < ESCAPE.length()) alts += " | " + gbnfLiteral(String.valueOf(want)) + " esc-text-" + (k + 1);
            return alts;
        }
        return switch (name) {
            case "ws" -> "\"\"";
            case "char", "plain-char" -> "[^<]";
            case "string" -> ESCAPE + " esc-text " + ESCAPE;
            case "fg-key" -> "[a-zA-Z_] [a-zA-Z0-9_.\\-]*";
            case "object" -> "\"{\" ( fg-key \":\" value (\",\" fg-key \":\" value)* )? \"}\"";
            case "array" -> "\"[\" ( value (\",\" value)* )? \"]\"";
            default -> null;
        };
    }

    /** A JSON value as FunctionGemma writes it: strings between {@code <escape>} tokens, keys bare. */
    private static String markupLiteral(JsonNode v) {
        if (v.isTextual()) return ESCAPE + " " + gbnfLiteral(v.asText()) + " " + ESCAPE;
        if (v.isObject()) {
            List<String> parts = new ArrayList<>();
            for (var e : v.properties()) parts.add(gbnfLiteral(e.getKey() + ":") + " " + markupLiteral(e.getValue()));
            return "\"{\" " + String.join(" \",\" ", parts) + (parts.isEmpty() ? "" : " ") + "\"}\"";
        }
        if (v.isArray()) {
            List<String> parts = new ArrayList<>();
            for (JsonNode x : v) parts.add(markupLiteral(x));
            return "\"[\" " + String.join(" \",\" ", parts) + (parts.isEmpty() ? "" : " ") + "\"]\"";
        }
        return gbnfLiteral(v.toString());
    }

    // ------------------------------------------------------------------ schemas

    private static GrammarException unsupported(String keyword, String path, String why) {
        return new GrammarException("JSON Schema keyword '" + keyword + "'" + (path.isEmpty() ? "" : " at " + path) + ": " + why, keyword);
    }

    /** A GBNF expression for the documents valid against {@code s}. */
    private String visit(JsonNode s, String hint, String path) {
        if (s.isBoolean()) {
            if (s.asBoolean()) return primitive("value");
            throw unsupported("false", path, "the schema false matches nothing");
        }
        if (!s.isObject()) throw new GrammarException("JSON Schema" + (path.isEmpty() ? "" : " at " + path) + ": a schema must be an object or a boolean");
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!SUPPORTED.contains(k) && !ANNOTATIONS.contains(k)) throw unsupported(k, path, "not supported by the grammar converter");
        }
        if (s != root && s.has("$id")) throw unsupported("$id", path, "a nested $id changes where references resolve");
        if (s.has("$ref")) {
            if (onlyAnnotationsBesides(s, "$ref")) return ref(s.get("$ref").asText(), path);
            // a $ref beside other keywords means both apply: merge as allOf
            ObjectNode rest = s.deepCopy();
            rest.remove("$ref");
            ArrayNode all = JsonNodeFactory.instance.arrayNode();
            all.add(resolve(s.get("$ref").asText(), path));
            all.add(rest);
            return visit(JsonNodeFactory.instance.objectNode().set("allOf", all), hint, path);
        }
        if (s.has("allOf")) return visit(mergeAllOf(s, path), hint, path);
        if (s.has("anyOf") || s.has("oneOf")) {
            String kw = s.has("anyOf") ? "anyOf" : "oneOf";
            if (s.has("anyOf") && s.has("oneOf")) throw unsupported("oneOf", path, "anyOf and oneOf together");
            JsonNode alts = s.get(kw);
            if (!alts.isArray() || alts.isEmpty()) throw unsupported(kw, path, "must be a non-empty array");
            List<JsonNode> branches = new ArrayList<>();
            ObjectNode siblings = s.deepCopy();
            siblings.remove(kw);
            boolean plainSiblings = onlyAnnotations(siblings);
            for (JsonNode a : alts) {
                if (plainSiblings) {
                    branches.add(a);
                } else {
                    // "type": "object", "anyOf": [...]: each branch is the branch and the siblings
                    ArrayNode both = JsonNodeFactory.instance.arrayNode().add(siblings).add(a);
                    branches.add(JsonNodeFactory.instance.objectNode().set("allOf", both));
                }
            }
            if (kw.equals("oneOf")) checkDisjoint(branches, path);
            List<String> exprs = new ArrayList<>();
            for (int i = 0; i < branches.size(); i++) exprs.add(visit(branches.get(i), hint + "-" + i, path + "/" + kw + "/" + i));
            return "(" + String.join(" | ", exprs) + ")";
        }
        if (s.has("const")) {
            checkOnly(s, path, "const", "type");
            return literalValue(s.get("const"));
        }
        if (s.has("enum")) {
            checkOnly(s, path, "enum", "type");
            JsonNode e = s.get("enum");
            if (!e.isArray() || e.isEmpty()) throw unsupported("enum", path, "must be a non-empty array");
            List<String> alts = new ArrayList<>();
            for (JsonNode v : e) if (!s.has("type") || typeMatches(s.get("type"), v)) alts.add(literalValue(v));
            if (alts.isEmpty()) throw unsupported("enum", path, "no value has the schema's type");
            return "(" + String.join(" | ", alts) + ")";
        }
        List<String> types = types(s, path);
        if (types.size() > 1) {
            List<String> exprs = new ArrayList<>();
            for (String t : types) exprs.add(typed(s, t, hint, path));
            return "(" + String.join(" | ", exprs) + ")";
        }
        return typed(s, types.getFirst(), hint, path);
    }

    private List<String> types(JsonNode s, String path) {
        JsonNode t = s.get("type");
        if (t != null) {
            List<String> out = new ArrayList<>();
            if (t.isTextual()) out.add(t.asText());
            else if (t.isArray()) for (JsonNode x : t) out.add(x.asText());
            else throw unsupported("type", path, "must be a string or an array of strings");
            for (String x : out) if (!TYPES.contains(x)) throw unsupported("type", path, "unknown type '" + x + "'");
            if (out.isEmpty()) throw unsupported("type", path, "empty list of types");
            return out;
        }
        // no type: what the keywords present describe
        if (s.has("properties") || s.has("required") || s.has("additionalProperties")) return List.of("object");
        if (s.has("items") || s.has("prefixItems") || s.has("minItems") || s.has("maxItems")) return List.of("array");
        if (s.has("minLength") || s.has("maxLength") || s.has("pattern") || s.has("format")) return List.of("string");
        if (s.has("minimum") || s.has("maximum") || s.has("exclusiveMinimum") || s.has("exclusiveMaximum")) return List.of("number");
        return List.of("any");
    }

    private String typed(JsonNode s, String type, String hint, String path) {
        return switch (type) {
            case "any" -> primitive("value");
            case "null" -> primitive("null");
            case "boolean" -> primitive("boolean");
            case "string" -> string(s, hint, path);
            case "integer", "number" -> number(s, type.equals("integer"), hint, path);
            case "array" -> array(s, hint, path);
            default -> object(s, hint, path);
        };
    }

    private static boolean onlyAnnotations(JsonNode s) {
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) if (!ANNOTATIONS.contains(it.next())) return false;
        return true;
    }

    private static boolean onlyAnnotationsBesides(JsonNode s, String keyword) {
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!k.equals(keyword) && !ANNOTATIONS.contains(k)) return false;
        }
        return true;
    }

    /** enum / const cannot be combined with keywords that would also have to hold. */
    private static void checkOnly(JsonNode s, String path, String keyword, String... allowed) {
        Set<String> ok = new HashSet<>(List.of(allowed));
        ok.add(keyword);
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!ok.contains(k) && !ANNOTATIONS.contains(k)) throw unsupported(k, path, "cannot be combined with " + keyword);
        }
    }

    private static boolean typeMatches(JsonNode type, JsonNode v) {
        List<String> ts = new ArrayList<>();
        if (type.isTextual()) ts.add(type.asText());
        else for (JsonNode t : type) ts.add(t.asText());
        String kind = kind(v);
        return ts.contains(kind) || (kind.equals("integer") && ts.contains("number"))
                || (kind.equals("number") && ts.contains("integer") && v.decimalValue().stripTrailingZeros().scale() <= 0);
    }

    private static String kind(JsonNode v) {
        if (v.isNull()) return "null";
        if (v.isBoolean()) return "boolean";
        if (v.isIntegralNumber()) return "integer";
        if (v.isNumber()) return "number";
        if (v.isTextual()) return "string";
        if (v.isArray()) return "array";
        return "object";
    }

    /** A JSON value written compactly, as a GBNF literal, followed by optional whitespace. */
    private String literalValue(JsonNode v) {
        if (markup) return markupLiteral(v);
        try {
            return gbnfLiteral(JSON.writeValueAsString(v)) + " " + primitive("ws");
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String gbnfLiteral(String s) {
        StringBuilder sb = new StringBuilder("\"");
        s.codePoints().forEach(c -> {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\x%02X", c));
                    else sb.appendCodePoint(c);
                }
            }
        });
        return sb.append('"').toString();
    }

    // ------------------------------------------------------------------ $ref

    private JsonNode resolve(String ref, String path) {
        if (!ref.equals("#") && !ref.startsWith("#/")) {
            throw unsupported("$ref", path, "only local JSON-pointer references (#/...) are supported, not '" + ref + "'");
        }
        JsonNode target = ref.equals("#") ? root : root.at(ref.substring(1));
        if (target.isMissingNode()) throw unsupported("$ref", path, "'" + ref + "' does not resolve");
        return target;
    }

    private String ref(String ref, String path) {
        String name = refRules.get(ref);
        if (name != null) return name;
        JsonNode target = resolve(ref, path);
        name = fresh(ref.equals("#") ? "root-ref" : ref.substring(ref.lastIndexOf('/') + 1));
        refRules.put(ref, name);
        rules.put(name, visit(target, name, ref));
        return name;
    }

    // ------------------------------------------------------------------ combinators

    /** allOf of object schemas (and $refs to them) as one object schema; a single branch as itself. */
    private JsonNode mergeAllOf(JsonNode s, String path) {
        List<JsonNode> parts = new ArrayList<>();
        JsonNode all = s.get("allOf");
        if (!all.isArray() || all.isEmpty()) throw unsupported("allOf", path, "must be a non-empty array");
        for (JsonNode a : all) parts.add(a.isObject() && a.has("$ref") && onlyAnnotationsBesides(a, "$ref") ? resolve(a.get("$ref").asText(), path) : a);
        ObjectNode siblings = s.deepCopy();
        siblings.remove("allOf");
        if (!onlyAnnotations(siblings)) parts.add(siblings);
        parts.removeIf(p -> p.isBoolean() && p.asBoolean() || p.isObject() && onlyAnnotations(p));
        if (parts.isEmpty()) return JsonNodeFactory.instance.booleanNode(true);
        if (parts.size() == 1) return parts.getFirst();
        ObjectNode merged = JsonNodeFactory.instance.objectNode();
        merged.put("type", "object");
        ObjectNode props = merged.putObject("properties");
        Set<String> required = new LinkedHashSet<>();
        for (JsonNode p : parts) {
            if (p.isObject() && p.has("allOf")) p = mergeAllOf(p, path);
            if (p.isObject() && p.has("$ref")) p = resolve(p.get("$ref").asText(), path);
            boolean object = p.isObject() && (p.path("type").asText("").equals("object") || (!p.has("type") && (p.has("properties") || p.has("required"))));
            if (!object) throw unsupported("allOf", path, "only object schemas can be combined (merged properties)");
            for (Iterator<String> it = p.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!Set.of("type", "properties", "required").contains(k) && !ANNOTATIONS.contains(k)) {
                    throw unsupported(k, path, "cannot be merged across allOf branches");
                }
            }
            if (p.has("properties")) {
                for (var e : p.get("properties").properties()) {
                    JsonNode prev = props.get(e.getKey());
                    if (prev == null) props.set(e.getKey(), e.getValue());
                    else props.set(e.getKey(), JsonNodeFactory.instance.objectNode().set("allOf", JsonNodeFactory.instance.arrayNode().add(prev).add(e.getValue())));
                }
            }
            if (p.has("required")) for (JsonNode r : p.get("required")) required.add(r.asText());
        }
        ArrayNode req = merged.putArray("required");
        required.forEach(req::add);
        return merged;
    }

    /**
     * oneOf is enforced only when at most one branch can match any document: branches of different JSON types, or
     * objects told apart by a required property whose const/enum values differ (a discriminator).
     */
    private void checkDisjoint(List<JsonNode> branches, String path) {
        List<Set<String>> kinds = new ArrayList<>();
        for (JsonNode b : branches) kinds.add(kinds(b, path));
        boolean disjoint = true;
        for (int i = 0; i < kinds.size() && disjoint; i++) {
            for (int j = i + 1; j < kinds.size(); j++) {
                Set<String> x = new HashSet<>(kinds.get(i));
                x.retainAll(kinds.get(j));
                if (!x.isEmpty()) {
                    disjoint = false;
                    break;
                }
            }
        }
        if (disjoint || discriminated(branches, path)) return;
        throw unsupported("oneOf", path, "its alternatives can overlap, so 'exactly one' cannot be enforced (use anyOf, or give each"
                + " alternative a distinct type or a required property with distinct const values)");
    }

    /** The JSON kinds a schema can produce ("any" for all). */
    private Set<String> kinds(JsonNode b, String path) {
        if (b.isObject() && b.has("$ref")) b = resolve(b.get("$ref").asText(), path);
        if (!b.isObject()) return Set.of("object", "array", "string", "number", "boolean", "null");
        Set<String> out = new HashSet<>();
        if (b.has("const")) {
            out.add("const:" + b.get("const"));
            return out;
        }
        if (b.has("enum")) {
            for (JsonNode v : b.get("enum")) out.add("const:" + v);
            return out;
        }
        for (String k : List.of("anyOf", "oneOf")) {
            if (b.has(k)) {
                for (JsonNode a : b.get(k)) out.addAll(kinds(a, path));
                return out;
            }
        }
        List<String> ts;
        try {
            ts = types(b, path);
        } catch (GrammarException e) {
            ts = List.of("any");
        }
        for (String t : ts) {
            switch (t) {
                case "any" -> out.addAll(List.of("object", "array", "string", "number", "boolean", "null"));
                case "integer" -> out.add("number");
                default -> out.add(t);
            }
        }
        // a const of some kind collides with that kind
        Set<String> expanded = new HashSet<>(out);
        return expanded;
    }

    private boolean discriminated(List<JsonNode> branches, String path) {
        List<JsonNode> objs = new ArrayList<>();
        for (JsonNode b : branches) {
            if (b.isObject() && b.has("$ref")) b = resolve(b.get("$ref").asText(), path);
            if (!b.isObject() || !b.has("properties")) return false;
            objs.add(b);
        }
        for (var e : objs.getFirst().get("properties").properties()) {
            String name = e.getKey();
            Set<String> seen = new HashSet<>();
            boolean ok = true;
            for (JsonNode o : objs) {
                JsonNode p = o.path("properties").get(name);
                boolean required = false;
                for (JsonNode r : o.path("required")) required |= r.asText().equals(name);
                if (p == null || !required) {
                    ok = false;
                    break;
                }
                List<JsonNode> values = new ArrayList<>();
                if (p.has("const")) values.add(p.get("const"));
                else if (p.has("enum")) p.get("enum").forEach(values::add);
                else {
                    ok = false;
                    break;
                }
                for (JsonNode v : values) {
                    if (!seen.add(v.toString())) {
                        ok = false;
                        break;
                    }
                }
                if (!ok) break;
            }
            if (ok) return true;
        }
        return false;
    }

    // ------------------------------------------------------------------ strings

    private String string(JsonNode s, String hint, String path) {
        Integer min = nonNegative(s, "minLength", path), max = nonNegative(s, "maxLength", path);
        if (s.has("format")) {
            String f = s.get("format").asText();
            for (String k : List.of("pattern", "minLength", "maxLength")) if (s.has(k)) throw unsupported(k, path, "cannot be combined with format");
            String body = switch (f) {
                case "date" -> primitive("date");
                case "time" -> primitive("time");
                case "date-time" -> primitive("date") + " \"T\" " + primitive("time");
                case "uuid" -> primitive("uuid");
                default -> throw unsupported("format", path, "'" + f + "' is not supported (date, time, date-time, uuid are)");
            };
            return rule(hint + "-" + f, quote() + " " + body + " " + quote() + " " + primitive("ws"));
        }
        if (s.has("pattern")) {
            for (String k : List.of("minLength", "maxLength")) if (s.has(k)) throw unsupported(k, path, "cannot be combined with pattern");
            String body = new RegexToGbnf(s.get("pattern").asText(), path).translate();
            return rule(hint, quote() + " " + body + " " + quote() + " " + primitive("ws"));
        }
        if (min == null && max == null) return primitive("string");
        int lo = min == null ? 0 : min;
        if (max != null && max < lo) throw unsupported("maxLength", path, "is below minLength");
        if (lo > GbnfParser.MAX_REPEAT || (max != null && max > GbnfParser.MAX_REPEAT)) throw unsupported(max != null ? "maxLength" : "minLength", path, "above " + GbnfParser.MAX_REPEAT);
        return rule(hint, quote() + " " + primitive("char") + "{" + lo + "," + (max == null ? "" : max) + "} " + quote() + " " + primitive("ws"));
    }

    private static Integer nonNegative(JsonNode s, String k, String path) {
        JsonNode v = s.get(k);
        if (v == null) return null;
        if (!v.canConvertToInt() || !v.isIntegralNumber() && v.asDouble() != Math.rint(v.asDouble()) || v.asInt() < 0) {
            throw unsupported(k, path, "must be a non-negative integer");
        }
        return v.asInt();
    }

    // ------------------------------------------------------------------ numbers

    private String number(JsonNode s, boolean integer, String hint, String path) {
        boolean ranged = s.has("minimum") || s.has("maximum") || s.has("exclusiveMinimum") || s.has("exclusiveMaximum");
        if (!ranged) return primitive(integer ? "integer" : "number");
        BigInteger lo = null, hi = null;
        if (s.has("minimum")) lo = ceil(s.get("minimum"), false, "minimum", path);
        if (s.has("exclusiveMinimum")) lo = max(lo, ceil(s.get("exclusiveMinimum"), true, "exclusiveMinimum", path));
        if (s.has("maximum")) hi = floor(s.get("maximum"), false, "maximum", path);
        if (s.has("exclusiveMaximum")) hi = min(hi, floor(s.get("exclusiveMaximum"), true, "exclusiveMaximum", path));
        if (lo != null && hi != null && lo.compareTo(hi) > 0) {
            throw unsupported(s.has("maximum") ? "maximum" : "exclusiveMaximum", path, integer ? "no integer lies in the range"
                    : "no integer lies in the range (numbers in a range are generated as integers and decimals between them)");
        }
        String ints = IntegerRange.gbnf(lo, hi);
        String expr = "(" + ints + ")";
        if (!integer) {
            // decimals i.fff with a non-negative integer part i where [i, i+1) lies inside the range
            BigInteger dlo = lo == null ? BigInteger.ZERO : lo.max(BigInteger.ZERO);
            BigInteger dhi = hi == null ? null : hi.subtract(BigInteger.ONE);
            if (dhi == null || dlo.compareTo(dhi) <= 0) expr = "(" + expr + " | (" + IntegerRange.gbnf(dlo, dhi) + ") \".\" [0-9]{1," + MAX_DIGITS + "})";
        }
        return rule(hint, expr + " " + primitive("ws"));
    }

    private static BigInteger ceil(JsonNode v, boolean exclusive, String k, String path) {
        if (!v.isNumber()) throw unsupported(k, path, "must be a number (draft-4 boolean exclusive bounds are not supported)");
        java.math.BigDecimal d = v.decimalValue();
        BigInteger c = d.setScale(0, java.math.RoundingMode.CEILING).toBigInteger();
        if (exclusive && new java.math.BigDecimal(c).compareTo(d) == 0) c = c.add(BigInteger.ONE);
        return c;
    }

    private static BigInteger floor(JsonNode v, boolean exclusive, String k, String path) {
        if (!v.isNumber()) throw unsupported(k, path, "must be a number (draft-4 boolean exclusive bounds are not supported)");
        java.math.BigDecimal d = v.decimalValue();
        BigInteger f = d.setScale(0, java.math.RoundingMode.FLOOR).toBigInteger();
        if (exclusive && new java.math.BigDecimal(f).compareTo(d) == 0) f = f.subtract(BigInteger.ONE);
        return f;
    }

    private static BigInteger max(BigInteger a, BigInteger b) {
        return a == null ? b : a.max(b);
    }

    private static BigInteger min(BigInteger a, BigInteger b) {
        return a == null ? b : a.min(b);
    }

    // ------------------------------------------------------------------ arrays

    private String array(JsonNode s, String hint, String path) {
        for (String k : List.of("uniqueItems", "contains")) if (s.has(k)) throw unsupported(k, path, "not supported");
        Integer min = nonNegative(s, "minItems", path), max = nonNegative(s, "maxItems", path);
        int lo = min == null ? 0 : min;
        if (max != null && max < lo) throw unsupported("maxItems", path, "is below minItems");
        List<JsonNode> prefix = new ArrayList<>();
        JsonNode rest;
        JsonNode items = s.get("items");
        if (s.has("prefixItems")) {
            s.get("prefixItems").forEach(prefix::add);
            rest = items;
        } else if (items != null && items.isArray()) {
            items.forEach(prefix::add); // draft 4-7 tuple form
            rest = s.get("additionalItems");
        } else {
            rest = items;
        }
        boolean restAllowed = rest == null || !(rest.isBoolean() && !rest.asBoolean());
        // a tuple: every prefix item is written (up to maxItems)
        int n = max == null ? prefix.size() : Math.min(prefix.size(), max);
        if (n < lo && !restAllowed) throw unsupported("minItems", path, "asks for more items than the tuple allows");
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < n; i++) parts.add(visit(prefix.get(i), hint + "-" + i, path + "/prefixItems/" + i));
        StringBuilder body = new StringBuilder("\"[\" " + primitive("ws") + " ");
        for (int i = 0; i < parts.size(); i++) body.append(i == 0 ? "" : "\",\" ws ").append(parts.get(i)).append(' ');
        if (restAllowed && (max == null || max > n)) {
            String item = rest == null ? primitive("value") : visit(rest, hint + "-item", path + "/items");
            int restMin = Math.max(0, lo - n);
            Integer restMax = max == null ? null : max - n;
            if (restMin > GbnfParser.MAX_REPEAT || (restMax != null && restMax > GbnfParser.MAX_REPEAT)) {
                throw unsupported(restMax != null ? "maxItems" : "minItems", path, "above " + GbnfParser.MAX_REPEAT);
            }
            String sep = "\",\" ws ";
            if (n > 0) {
                // each further item comes after a comma
                body.append("(").append(sep).append(item).append("){").append(restMin).append(",").append(restMax == null ? "" : restMax).append("} ");
            } else if (restMin > 0) {
                body.append(item).append(" (").append(sep).append(item).append("){").append(restMin - 1).append(",")
                        .append(restMax == null ? "" : restMax - 1).append("} ");
            } else {
                body.append("(").append(item).append(" (").append(sep).append(item).append("){0,").append(restMax == null ? "" : restMax - 1).append("})? ");
            }
        }
        body.append("\"]\" ws");
        return rule(hint, body.toString());
    }

    // ------------------------------------------------------------------ objects

    private String object(JsonNode s, String hint, String path) {
        for (String k : List.of("patternProperties", "propertyNames", "minProperties", "maxProperties", "dependentRequired",
                "dependentSchemas", "dependencies", "unevaluatedProperties")) {
            if (s.has(k)) throw unsupported(k, path, "not supported");
        }
        JsonNode propsNode = s.path("properties");
        Map<String, JsonNode> props = new LinkedHashMap<>();
        if (propsNode.isObject()) for (var e : propsNode.properties()) props.put(e.getKey(), e.getValue());
        Set<String> required = new LinkedHashSet<>();
        for (JsonNode r : s.path("required")) required.add(r.asText());
        JsonNode additional = s.get("additionalProperties");
        boolean extras = additional != null && !(additional.isBoolean() && !additional.asBoolean());
        // required names without a declared schema: whatever additionalProperties allows
        for (String r : required) {
            if (!props.containsKey(r)) props.put(r, additional != null && additional.isObject() ? additional : JsonNodeFactory.instance.booleanNode(true));
        }
        if (additional != null && additional.isBoolean() && !additional.asBoolean() && !required.stream().allMatch(props::containsKey)) {
            throw unsupported("required", path, "names a property that additionalProperties false forbids");
        }
        List<String> declared = new ArrayList<>(props.keySet()); // extra keys must differ from all of them
        // a property whose schema is false may not appear: fine unless it is required
        for (var it = props.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (e.getValue().isBoolean() && !e.getValue().asBoolean()) {
                if (required.contains(e.getKey())) throw unsupported("false", path + "/properties/" + e.getKey(), "a required property's schema is false");
                it.remove();
            }
        }
        List<String> names = new ArrayList<>(props.keySet());
        List<String> kvs = new ArrayList<>();
        for (String name : names) {
            String value = visit(props.get(name), hint + "-" + name, path + "/properties/" + name);
            if (markup && (name.isEmpty() || name.codePoints().anyMatch(ch -> ch < 0x20 || ":,{}[]<>\"".indexOf(ch) >= 0 || Character.isWhitespace(ch)))) {
                throw unsupported("properties", path, "FunctionGemma writes keys bare, so the property name '" + name + "' (empty, or with"
                        + " white space or one of :,{}[]<>\") cannot be told apart from the call's syntax");
            }
            String key = markup ? gbnfLiteral(name) : gbnfLiteral(jsonString(name));
            kvs.add(rule(hint + "-" + name + "-kv", key + " " + primitive("ws") + " \":\" " + primitive("ws") + " " + value));
        }
        String extraFirst = "", extraNext = "";
        if (extras && markup) {
            throw unsupported("additionalProperties", path, "extra properties are not generated in FunctionGemma's call syntax (declare"
                    + " the properties, or set additionalProperties to false)");
        }
        if (extras) {
            String value = additional.isObject() ? visit(additional, hint + "-additional", path + "/additionalProperties") : primitive("value");
            String key = rule(hint + "-additional-key", "\"\\\"\" " + notIn(declared, hint + "-additional-key") + " \"\\\"\" ws");
            String kv = rule(hint + "-additional-kv", key + " \":\" ws " + value);
            extraNext = rule(hint + "-additional-next", "(\",\" ws " + kv + ")*");
            extraFirst = rule(hint + "-additional-first", "(" + kv + " " + extraNext + ")?");
        }
        // A_k: nothing written yet from property k on; B_k: something written, so each next one follows a comma
        int n = names.size();
        String nextB = extras ? extraNext : "";
        String nextA = extras ? extraFirst : "";
        for (int k = n - 1; k >= 0; k--) {
            boolean req = required.contains(names.get(k));
            String kv = kvs.get(k);
            String b = "\",\" ws " + kv + (nextB.isEmpty() ? "" : " " + nextB);
            if (!req) b = "(" + b + ")" + (nextB.isEmpty() ? "?" : " | " + nextB);
            String a = kv + (nextB.isEmpty() ? "" : " " + nextB);
            if (!req) a = a + (nextA.isEmpty() ? "" : " | " + nextA);
            String bName = rule(hint + "-after-" + k, b);
            String aName = rule(hint + "-from-" + k, a);
            nextB = bName;
            nextA = !req && nextA.isEmpty() ? "(" + aName + ")?" : aName;
        }
        String members = nextA.isEmpty() ? "" : nextA + " ";
        return rule(hint, "\"{\" " + primitive("ws") + " " + members + "\"}\" ws");
    }

    private static String jsonString(String s) {
        try {
            return JSON.writeValueAsString(s);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Plain JSON string content (no escapes) equal to none of {@code names}: a trie of the names, complemented. */
    private String notIn(List<String> names, String hint) {
        TreeMap<Integer, Object> trie = new TreeMap<>();
        for (String name : names) {
            if (name.codePoints().anyMatch(c -> c < 0x20 || c == '"' || c == '\\')) continue; // never spelled without escapes
            TreeMap<Integer, Object> node = trie;
            for (int c : name.codePoints().toArray()) {
                @SuppressWarnings("unchecked")
                TreeMap<Integer, Object> child = (TreeMap<Integer, Object>) node.computeIfAbsent(c, x -> new TreeMap<Integer, Object>());
                node = child;
            }
            node.put(-1, Boolean.TRUE); // a name ends here
        }
        return notInNode(trie, hint);
    }

    @SuppressWarnings("unchecked")
    private String notInNode(TreeMap<Integer, Object> node, String hint) {
        List<String> alts = new ArrayList<>();
        boolean terminal = node.containsKey(-1);
        if (!terminal) alts.add("\"\"");
        StringBuilder cls = new StringBuilder("[^\"\\\\\\x00-\\x1F");
        for (int c : node.keySet()) if (c >= 0) cls.append(classChar(c));
        cls.append("]");
        alts.add(cls + " " + primitive("plain-char") + "*");
        for (var e : node.entrySet()) {
            if (e.getKey() < 0) continue;
            String child = notInNode((TreeMap<Integer, Object>) e.getValue(), hint);
            alts.add(gbnfLiteral(new String(Character.toChars(e.getKey()))) + " " + child);
        }
        return rule(hint, String.join(" | ", alts));
    }

    static String classChar(int c) {
        return switch (c) {
            case '\\' -> "\\\\";
            case ']' -> "\\]";
            case '[' -> "\\[";
            case '-' -> "\\-";
            case '^' -> "\\^";
            case '"' -> "\\\"";
            default -> c < 0x20 ? String.format("\\x%02X", c) : new String(Character.toChars(c));
        };
    }
}
