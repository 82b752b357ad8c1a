package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.dialect.Dialects;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Schemas and grammars through both APIs: Ollama {@code format}, OpenAI {@code response_format}, llama.cpp's
 * {@code grammar} / {@code json_schema}. Finished answers validate (networknt); what cannot be enforced is a 400
 * naming the keyword.
 */
class StructuredOutputTest {
    static final String SCHEMA = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":12},"
            + "\"age\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":120},\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\"]},\"maxItems\":3}},"
            + "\"required\":[\"name\",\"age\",\"tags\"],\"additionalProperties\":false}";
    static final Schema VALIDATOR = SchemaRegistry.withDefaultDialect(Dialects.getDraft202012()).getSchema(SCHEMA);

    @TempDir
    static Path home;
    static JemmaServer server;

    @BeforeAll
    static void start() {
        server = TestServers.start(TestServers.config(), home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static void validates(String text, String doneReason) throws Exception {
        if (!doneReason.equals("stop")) return; // cut by the token limit: a prefix
        JsonNode doc = Exchange.JSON.readTree(text);
        assertThat(VALIDATOR.validate(doc)).as(text).isEmpty();
    }

    @Test
    void ollamaFormatSchemaIsEnforced() throws Exception {
        int finished = 0;
        for (int seed = 1; seed <= 6; seed++) {
            JsonNode r = TestServers.post(server, "/api/chat", "{\"model\":\"" + TestServers.MODEL + "\",\"stream\":false,\"format\":" + SCHEMA
                    + ",\"messages\":[{\"role\":\"user\",\"content\":\"Describe a person\"}],\"options\":{\"temperature\":1,\"num_predict\":200,\"seed\":" + seed + "}}").json();
            validates(r.path("message").path("content").asText(), r.path("done_reason").asText());
            if (r.path("done_reason").asText().equals("stop")) finished++;
        }
        assertThat(finished).isPositive();
    }

    @Test
    void openAiJsonSchemaResponseFormatIsEnforced() throws Exception {
        int finished = 0;
        for (int seed = 1; seed <= 6; seed++) {
            JsonNode r = TestServers.post(server, "/v1/chat/completions", "{\"model\":\"" + TestServers.MODEL + "\",\"seed\":" + seed
                    + ",\"max_tokens\":200,\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"person\",\"strict\":true,\"schema\":" + SCHEMA
                    + "}},\"messages\":[{\"role\":\"user\",\"content\":\"Describe a person\"}]}").json();
            JsonNode c = r.path("choices").get(0);
            validates(c.path("message").path("content").asText(), c.path("finish_reason").asText());
            if (c.path("finish_reason").asText().equals("stop")) finished++;
        }
        assertThat(finished).isPositive();
    }

    @Test
    void llamaCppGrammarAndJsonSchemaFields() throws Exception {
        Pattern p = Pattern.compile("(yes|no), [0-9]{1,3}");
        for (int seed = 1; seed <= 4; seed++) {
            JsonNode r = TestServers.post(server, "/v1/completions", "{\"model\":\"" + TestServers.MODEL + "\",\"prompt\":\"Answer:\",\"seed\":" + seed
                    + ",\"max_tokens\":30,\"grammar\":\"root ::= (\\\"yes\\\" | \\\"no\\\") \\\", \\\" [0-9]{1,3}\"}").json();
            String text = r.path("choices").get(0).path("text").asText();
            assertThat(p.matcher(text).matches()).as(text).isTrue();
            JsonNode o = TestServers.post(server, "/api/generate", "{\"model\":\"" + TestServers.MODEL + "\",\"prompt\":\"Person:\",\"stream\":false,"
                    + "\"json_schema\":" + SCHEMA + ",\"options\":{\"num_predict\":200,\"seed\":" + seed + "}}").json();
            validates(o.path("response").asText(), o.path("done_reason").asText());
        }
    }

    @Test
    void unenforceableSchemasAndBadGrammarsAre400sNamingTheProblem() {
        String unique = "{\"type\":\"array\",\"uniqueItems\":true}";
        TestServers.Reply a = TestServers.post(server, "/api/chat", "{\"model\":\"" + TestServers.MODEL + "\",\"stream\":false,\"format\":" + unique
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.json().path("error").asText()).contains("field 'format'").contains("'uniqueItems'");
        TestServers.Reply b = TestServers.post(server, "/v1/chat/completions", "{\"model\":\"" + TestServers.MODEL + "\",\"response_format\":{\"type\":"
                + "\"json_schema\",\"json_schema\":{\"name\":\"x\",\"schema\":{\"type\":\"string\",\"format\":\"email\"}}},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertThat(b.status()).isEqualTo(400);
        assertThat(b.json().path("error").path("message").asText()).contains("response_format.json_schema.schema").contains("'format'");
        TestServers.Reply c = TestServers.post(server, "/v1/completions", "{\"model\":\"" + TestServers.MODEL + "\",\"prompt\":\"x\",\"grammar\":\"root ::= item\"}");
        assertThat(c.status()).isEqualTo(400);
        assertThat(c.json().path("error").path("message").asText()).contains("field 'grammar'").contains("rule 'item' is used but not defined");
        TestServers.Reply d = TestServers.post(server, "/api/generate", "{\"model\":\"" + TestServers.MODEL + "\",\"prompt\":\"x\",\"format\":\"json\",\"grammar\":\"root ::= \\\"a\\\"\"}");
        assertThat(d.status()).isEqualTo(400);
        assertThat(d.json().path("error").asText()).contains("'format' and 'grammar'");
        TestServers.Reply e = TestServers.post(server, "/v1/chat/completions", "{\"model\":\"" + TestServers.MODEL + "\",\"response_format\":{\"type\":\"json_schema\"},"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertThat(e.status()).isEqualTo(400);
        assertThat(e.json().path("error").path("message").asText()).contains("response_format.json_schema");
        // a schema and tools at once: refused, not one of them ignored
        TestServers.Reply t = TestServers.post(server, "/api/chat", "{\"model\":\"" + TestServers.MODEL + "\",\"format\":\"json\",\"tools\":[{\"type\":\"function\","
                + "\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}}],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertThat(t.status()).isEqualTo(400);
        assertThat(t.json().path("error").asText()).contains("'format' and 'tools'");
    }
}
