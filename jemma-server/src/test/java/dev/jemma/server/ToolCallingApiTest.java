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

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tool calling through both APIs on the tiny model: tool_choice required / named / auto, parallel_tool_calls,
 * streamed calls, and a round trip with the result sent back as a tool message. Arguments validate (networknt).
 */
class ToolCallingApiTest {
    static final String PARAMS = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"maxLength\":10},"
            + "\"days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":7}},\"required\":[\"city\",\"days\"],\"additionalProperties\":false}";
    static final String TOOLS = "[{\"type\":\"function\",\"function\":{\"name\":\"forecast\",\"description\":\"Weather forecast\",\"parameters\":" + PARAMS
            + "}},{\"type\":\"function\",\"function\":{\"name\":\"now\",\"description\":\"The time\",\"parameters\":{\"type\":\"object\",\"properties\":{}}}}]";
    static final Schema FORECAST = SchemaRegistry.withDefaultDialect(Dialects.getDraft202012()).getSchema(PARAMS);

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

    private static String chat(String extra) {
        return "{\"model\":\"" + TestServers.MODEL + "\",\"max_tokens\":120,\"tools\":" + TOOLS + extra
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Oslo for 3 days?\"}]}";
    }

    private static void validArguments(JsonNode call) throws Exception {
        assertThat(call.path("type").asText()).isEqualTo("function");
        assertThat(call.path("id").asText()).startsWith("call_");
        String name = call.path("function").path("name").asText();
        assertThat(name).isIn("forecast", "now");
        JsonNode args = Exchange.JSON.readTree(call.path("function").path("arguments").asText());
        if (name.equals("forecast")) assertThat(FORECAST.validate(args)).as(args.toString()).isEmpty();
        else assertThat(args.isObject()).isTrue();
    }

    @Test
    void openAiRequiredToolChoiceGivesParsableCalls() throws Exception {
        int calls = 0;
        for (int seed = 1; seed <= 4; seed++) {
            JsonNode r = TestServers.post(server, "/v1/chat/completions", chat(",\"tool_choice\":\"required\",\"seed\":" + seed)).json();
            JsonNode c = r.path("choices").get(0);
            if (!c.path("finish_reason").asText().equals("tool_calls")) {
                assertThat(c.path("finish_reason").asText()).isEqualTo("length");
                continue;
            }
            calls++;
            assertThat(c.path("message").path("content").isNull()).isTrue();
            for (JsonNode call : c.path("message").path("tool_calls")) validArguments(call);
        }
        assertThat(calls).isPositive();
    }

    @Test
    void namedToolChoiceAndNoParallelCalls() throws Exception {
        for (int seed = 1; seed <= 3; seed++) {
            JsonNode r = TestServers.post(server, "/v1/chat/completions", chat(",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"forecast\"}},"
                    + "\"parallel_tool_calls\":false,\"seed\":" + seed)).json();
            JsonNode c = r.path("choices").get(0);
            if (!c.path("finish_reason").asText().equals("tool_calls")) continue;
            JsonNode calls = c.path("message").path("tool_calls");
            assertThat(calls.size()).isEqualTo(1);
            assertThat(calls.get(0).path("function").path("name").asText()).isEqualTo("forecast");
            validArguments(calls.get(0));
        }
    }

    @Test
    void streamedCallsArriveAsToolCallDeltas() throws Exception {
        for (int seed = 1; seed <= 3; seed++) {
            TestServers.Reply r = TestServers.post(server, "/v1/chat/completions", chat(",\"tool_choice\":\"required\",\"stream\":true,\"seed\":" + seed));
            assertThat(r.status()).isEqualTo(200);
            String finish = null;
            int calls = 0;
            StringBuilder content = new StringBuilder();
            for (String line : r.body().split("\n")) {
                if (!line.startsWith("data: {")) continue;
                JsonNode ch = Exchange.JSON.readTree(line.substring(6)).path("choices").get(0);
                for (JsonNode call : ch.path("delta").path("tool_calls")) {
                    validArguments(call);
                    assertThat(call.path("index").asInt()).isEqualTo(calls++);
                }
                content.append(ch.path("delta").path("content").asText(""));
                if (!ch.path("finish_reason").isNull()) finish = ch.path("finish_reason").asText();
            }
            assertThat(finish).isIn("tool_calls", "length");
            if (finish.equals("tool_calls")) {
                assertThat(calls).isPositive();
                assertThat(content.toString()).as("calls are not streamed as text").isEmpty();
            } else {
                // cut by max_tokens: the unfinished call list is the answer's text, as in the non-streamed reply
                assertThat(calls).isZero();
                assertThat(content.toString()).startsWith("[");
            }
        }
    }

    @Test
    void resultsGoBackAsToolMessages() {
        String body = "{\"model\":\"" + TestServers.MODEL + "\",\"max_tokens\":20,\"seed\":1,\"tools\":" + TOOLS + ",\"messages\":["
                + "{\"role\":\"user\",\"content\":\"Weather in Oslo?\"},"
                + "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"forecast\",\"arguments\":\"{\\\"city\\\":\\\"Oslo\\\",\\\"days\\\":1}\"}}]},"
                + "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"{\\\"sky\\\":\\\"clear\\\"}\"}]}";
        TestServers.Reply r = TestServers.post(server, "/v1/chat/completions", body);
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        assertThat(r.json().path("choices").get(0).path("finish_reason").asText()).isIn("stop", "length", "tool_calls");
        TestServers.Reply o = TestServers.post(server, "/api/chat", "{\"model\":\"" + TestServers.MODEL + "\",\"stream\":false,\"tools\":" + TOOLS
                + ",\"options\":{\"num_predict\":20,\"seed\":1},\"messages\":[{\"role\":\"user\",\"content\":\"Weather?\"},"
                + "{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[{\"function\":{\"name\":\"forecast\",\"arguments\":{\"city\":\"Oslo\",\"days\":2}}}]},"
                + "{\"role\":\"tool\",\"tool_name\":\"forecast\",\"content\":\"rain\"}]}");
        assertThat(o.status()).as(o.body()).isEqualTo(200);
    }

    @Test
    void ollamaToolCalls() throws Exception {
        int calls = 0;
        for (int seed = 1; seed <= 4; seed++) {
            for (boolean stream : new boolean[]{false, true}) {
                TestServers.Reply r = TestServers.post(server, "/api/chat", "{\"model\":\"" + TestServers.MODEL + "\",\"stream\":" + stream
                        + ",\"tool_choice\":\"required\",\"tools\":" + TOOLS + ",\"options\":{\"num_predict\":120,\"seed\":" + seed
                        + "},\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Oslo for 3 days?\"}]}");
                assertThat(r.status()).isEqualTo(200);
                for (String line : r.body().split("\n")) {
                    if (line.isBlank()) continue;
                    for (JsonNode call : Exchange.JSON.readTree(line).path("message").path("tool_calls")) {
                        calls++;
                        JsonNode args = call.path("function").path("arguments");
                        assertThat(args.isObject()).isTrue();
                        if (call.path("function").path("name").asText().equals("forecast")) assertThat(FORECAST.validate(args)).isEmpty();
                    }
                }
            }
        }
        assertThat(calls).isPositive();
    }

    @Test
    void toolChoiceNoneAnswersInText() {
        for (boolean stream : new boolean[]{false, true}) {
            TestServers.Reply r = TestServers.post(server, "/v1/chat/completions", chat(",\"tool_choice\":\"none\",\"seed\":3,\"max_tokens\":12,\"stream\":" + stream));
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            assertThat(r.body()).doesNotContain("tool_calls\":[").doesNotContain("\"finish_reason\":\"tool_calls\"");
        }
    }

    /** auto: text or calls, whichever the model starts with; calls (when there are) validate, text is plain content. */
    @Test
    void autoToolChoiceGivesTextOrValidCalls() throws Exception {
        for (int seed = 1; seed <= 3; seed++) {
            JsonNode c = TestServers.post(server, "/v1/chat/completions", chat(",\"tool_choice\":\"auto\",\"seed\":" + seed)).json().path("choices").get(0);
            if (c.path("finish_reason").asText().equals("tool_calls")) {
                for (JsonNode call : c.path("message").path("tool_calls")) validArguments(call);
            } else {
                assertThat(c.path("message").path("content").asText()).doesNotStartWith("[");
                assertThat(c.path("message").has("tool_calls")).isFalse();
            }
        }
    }

    @Test
    void badToolRequestsAre400s() {
        TestServers.Reply a = TestServers.post(server, "/v1/chat/completions", chat(",\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}"));
        assertThat(a.status()).isEqualTo(400);
        assertThat(a.json().path("error").path("message").asText()).contains("tool_choice").contains("nope");
        TestServers.Reply b = TestServers.post(server, "/v1/chat/completions", "{\"model\":\"" + TestServers.MODEL + "\",\"tools\":[{\"type\":\"function\","
                + "\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\",\"properties\":{\"x\":{\"not\":{}}}}}}],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertThat(b.status()).isEqualTo(400);
        assertThat(b.json().path("error").path("message").asText()).contains("tool 'f'").contains("'not'");
        TestServers.Reply c = TestServers.post(server, "/v1/chat/completions", chat(",\"response_format\":{\"type\":\"json_object\"}"));
        assertThat(c.status()).isEqualTo(400);
        assertThat(c.json().path("error").path("message").asText()).contains("'response_format' and 'tools'");
        TestServers.Reply d = TestServers.post(server, "/v1/chat/completions", "{\"model\":\"" + TestServers.MODEL + "\",\"functions\":[{\"name\":\"f\"}],"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}");
        assertThat(d.status()).isEqualTo(400);
        assertThat(d.json().path("error").path("message").asText()).contains("'functions'");
    }
}
