package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.constrain.JsonConstraint;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** JSON mode: real constrained generations through both APIs (the automaton's own test is in jemma-core). */
class JsonConstraintTest {
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

    @Test
    void ollamaFormatJsonProducesJson() throws Exception {
        for (int seed = 1; seed <= 3; seed++) {
            JsonNode r = TestServers.post(server, "/api/chat", "{\"model\":\"" + TestServers.MODEL + "\",\"stream\":false,"
                    + "\"format\":\"json\",\"messages\":[{\"role\":\"user\",\"content\":\"Give me a JSON object\"}],"
                    + "\"options\":{\"num_predict\":80,\"seed\":" + seed + "}}").json();
            String text = r.path("message").path("content").asText();
            // Every token kept the text a valid JSON prefix; a finished answer is a whole object.
            assertThat(JsonConstraint.firstError(text)).as(text).isEqualTo(-1);
            assertThat(text.strip()).startsWith("{");
            if (r.path("done_reason").asText().equals("stop")) {
                assertThat(Exchange.JSON.readTree(text).isObject()).as(text).isTrue();
            }
        }
    }

    @Test
    void openAiJsonObjectResponseFormat() {
        JsonNode r = TestServers.post(server, "/v1/chat/completions", "{\"model\":\"" + TestServers.MODEL + "\","
                + "\"response_format\":{\"type\":\"json_object\"},\"max_tokens\":40,\"seed\":7,"
                + "\"messages\":[{\"role\":\"user\",\"content\":\"JSON please\"}]}").json();
        String text = r.path("choices").get(0).path("message").path("content").asText();
        assertThat(JsonConstraint.firstError(text)).as(text).isEqualTo(-1);
        assertThat(text.strip()).startsWith("{");
    }
}
