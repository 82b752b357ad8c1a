package dev.jemma.server;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A conversation the model's chat template refuses is the client's mistake, a 400 with the template's reason; it was
 * answered 413 (Payload Too Large), which tells a client to send less.
 */
class ChatTemplateErrorsTest {
    @TempDir
    static Path home;
    static JemmaServer server;
    static final String M = TestServers.MODEL;

    @BeforeAll
    static void start() {
        server = TestServers.start(TestServers.config(), home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @Test
    void rolesThatDoNotAlternateAreA400() {
        String messages = "\"messages\":[{\"role\":\"assistant\",\"content\":\"Hi\"}]";
        TestServers.Reply openAi = TestServers.post(server, "/v1/chat/completions", "{\"model\":\"" + M + "\",\"max_tokens\":2," + messages + "}");
        assertThat(openAi.status()).as(openAi.body()).isEqualTo(400);
        assertThat(openAi.json().path("error").path("message").asText()).contains("roles must alternate");
        TestServers.Reply ollama = TestServers.post(server, "/api/chat", "{\"model\":\"" + M + "\",\"stream\":false," + messages + "}");
        assertThat(ollama.status()).as(ollama.body()).isEqualTo(400);
        assertThat(ollama.json().path("error").asText()).contains("roles must alternate");
    }

    @Test
    void aLastMessageLongerThanTheContextStaysA413() {
        String huge = "word ".repeat(20_000);
        TestServers.Reply r = TestServers.post(server, "/v1/chat/completions",
                "{\"model\":\"" + M + "\",\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"" + huge + "\"}]}");
        assertThat(r.status()).as(r.body()).isEqualTo(413);
        assertThat(r.json().path("error").path("message").asText()).contains("context holds");
    }
}
