package dev.jemma.core.constrain;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.dialect.Dialects;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * JSON Schema → grammar, checked by sampling: random walks through each grammar (every distinct next state equally
 * likely, so structure is explored rather than long strings) must give documents that Jackson parses and that the
 * networknt validator accepts. The corpus is ours plus the JSON-Schema-Test-Suite (draft 2020-12) files of the keywords
 * the converter handles; every suite schema is either converted (then its walks validate, and none of the suite's
 * invalid instances, written compactly, is a sentence of the grammar) or refused naming a keyword.
 */
class JsonSchemaGrammarTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final SchemaRegistry REGISTRY = SchemaRegistry.withDefaultDialect(Dialects.getDraft202012());
    static final int WALKS = 150;

    static JsonNode resource(String name) throws Exception {
        try (InputStream in = JsonSchemaGrammarTest.class.getResourceAsStream(name)) {
            return JSON.readTree(in);
        }
    }

    /** A random sentence of the grammar, or null when it ran past maxBytes. */
    static String walk(Grammar g, SplittableRandom r, int maxBytes) {
        GrammarMatcher m = new GrammarMatcher(g);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (out.size() < maxBytes) {
            if (m.canEnd() && (!m.canContinue() || r.nextInt(3) == 0)) return out.toString(StandardCharsets.UTF_8);
            Map<Integer, List<Integer>> byNext = new TreeMap<>();
            for (int b = 0; b < 256; b++) {
                int n = m.next(m.state(), b);
                if (n != GrammarMatcher.DEAD) byNext.computeIfAbsent(n, k -> new ArrayList<>()).add(b);
            }
            List<List<Integer>> groups = new ArrayList<>(byNext.values());
            List<Integer> group = groups.get(r.nextInt(groups.size()));
            int b = group.get(r.nextInt(group.size()));
            m.feed(b);
            out.write(b);
        }
        return null;
    }

    /** Walks the schema's grammar; every finished walk must validate. Returns how many finished. */
    static int walksValidate(JsonNode schema, String name) {
        Grammar g = JsonSchemaGrammar.fromSchema(schema);
        Schema validator;
        try {
            validator = REGISTRY.getSchema(JSON.writeValueAsString(schema));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        SplittableRandom r = new SplittableRandom(name.hashCode());
        int finished = 0;
        for (int i = 0; i < WALKS; i++) {
            String doc = walk(g, r, 4000);
            if (doc == null) continue;
            finished++;
            JsonNode n;
            try {
                n = JSON.readTree(doc);
            } catch (Exception e) {
                throw new AssertionError(name + ": not JSON: " + doc, e);
            }
            List<Error> errors = validator.validate(n);
            assertThat(errors).as("%s: %s", name, doc).isEmpty();
        }
        return finished;
    }

    @Test
    void corpusWalksValidate() throws Exception {
        for (JsonNode c : resource("schema-corpus.json")) {
            int finished = walksValidate(c.get("schema"), c.get("name").asText());
            assertThat(finished).as(c.get("name").asText()).isGreaterThan(WALKS / 2);
        }
    }

    @Test
    void jsonSchemaTestSuite() throws Exception {
        int converted = 0, refused = 0;
        Map<String, Integer> refusedBy = new TreeMap<>();
        for (String file : List.of("additionalProperties", "allOf", "anyOf", "boolean_schema", "const", "defs", "enum", "exclusiveMaximum",
                "exclusiveMinimum", "items", "maxItems", "maxLength", "maximum", "minItems", "minLength", "minimum", "multipleOf", "not",
                "oneOf", "pattern", "prefixItems", "properties", "ref", "required", "type", "uniqueItems")) {
            for (JsonNode group : resource("suite/" + file + ".json")) {
                String name = file + ": " + group.get("description").asText();
                JsonNode schema = group.get("schema");
                Grammar g;
                try {
                    g = JsonSchemaGrammar.fromSchema(schema);
                } catch (GrammarException e) {
                    assertThat(e.getMessage()).as(name).startsWith("JSON Schema");
                    assertThat(e.getMessage()).as(name).doesNotContain("\n");
                    refused++;
                    refusedBy.merge(String.valueOf(e.keyword()), 1, Integer::sum);
                    continue;
                }
                converted++;
                walksValidate(schema, name);
                for (JsonNode t : group.get("tests")) {
                    if (t.get("valid").asBoolean()) continue;
                    String compact = JSON.writeValueAsString(t.get("data"));
                    assertThat(GrammarMatcher.matches(g, compact)).as("%s: invalid instance %s accepted", name, compact).isFalse();
                }
            }
        }
        System.out.printf("JSON-Schema-Test-Suite: %d schemas converted and checked, %d refused naming a keyword %s%n", converted, refused, refusedBy);
        assertThat(converted).isGreaterThan(100);
    }

    @Test
    void unenforceableKeywordsAreRefusedByName() {
        record Case(String schema, String keyword) {
        }
        for (Case c : List.of(
                new Case("{\"type\":\"array\",\"uniqueItems\":true}", "uniqueItems"),
                new Case("{\"type\":\"number\",\"multipleOf\":3}", "multipleOf"),
                new Case("{\"not\":{\"type\":\"string\"}}", "not"),
                new Case("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"format\":\"email\"}}}", "format"),
                new Case("{\"type\":\"object\",\"minProperties\":2}", "minProperties"),
                new Case("{\"type\":\"object\",\"patternProperties\":{\"^x\":{}}}", "patternProperties"),
                new Case("{\"if\":{\"type\":\"string\"},\"then\":{\"minLength\":2}}", "if"),
                new Case("{\"type\":\"string\",\"pattern\":\"^(?=a)b$\"}", "pattern"),
                new Case("{\"type\":\"string\",\"pattern\":\"(a)\\\\1\"}", "pattern"),
                new Case("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\"}]}", "oneOf"),
                new Case("{\"$ref\":\"http://example.com/s.json\"}", "$ref"),
                new Case("{\"type\":\"number\",\"minimum\":0.2,\"maximum\":0.8}", "maximum"),
                new Case("{\"type\":\"string\",\"minLength\":2,\"pattern\":\"^a+$\"}", "minLength"),
                new Case("{\"type\":\"object\",\"properties\":{\"a\":false},\"required\":[\"a\"]}", "false"))) {
            assertThatThrownBy(() -> JsonSchemaGrammar.fromSchema(c.schema())).as(c.schema()).isInstanceOf(GrammarException.class)
                    .hasMessageContaining("'" + c.keyword() + "'")
                    .satisfies(e -> assertThat(((GrammarException) e).keyword()).isEqualTo(c.keyword()));
        }
    }

    @Test
    void propertiesKeepTheirOrderAndRequiredOnesAppear() {
        Grammar g = JsonSchemaGrammar.fromSchema("{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"integer\"},\"a\":{\"type\":\"integer\"},"
                + "\"c\":{\"type\":\"integer\"}},\"required\":[\"a\"]}");
        assertThat(GrammarMatcher.matches(g, "{\"a\":1}")).isTrue();
        assertThat(GrammarMatcher.matches(g, "{\"b\":2,\"a\":1,\"c\":3}")).isTrue();
        assertThat(GrammarMatcher.matches(g, "{\"a\":1,\"c\":3}")).isTrue();
        assertThat(GrammarMatcher.matches(g, "{\"a\":1,\"b\":2}")).isFalse(); // declared order
        assertThat(GrammarMatcher.matches(g, "{\"b\":2}")).isFalse();         // a is required
        assertThat(GrammarMatcher.matches(g, "{\"a\":1,}")).isFalse();
        assertThat(GrammarMatcher.matches(g, "{\"a\":1,\"d\":4}")).isFalse();  // no additional properties
    }
}
