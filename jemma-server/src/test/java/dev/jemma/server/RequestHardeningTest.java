package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Request fields that used to be refused, ignored or degraded silently (issue 22, findings 6 and 7). */
class RequestHardeningTest {
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

    static String chat(String user, String extra) {
        return "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":" + Exchange.JSON.valueToTree(user) + "}]" + extra + "}";
    }

    @Test
    void openAiTopPZeroIsValidAndKeepsOnlyTheMostLikelyToken() {
        String greedy = TestServers.post(server, "/v1/chat/completions", chat("Hello", ",\"max_tokens\":8,\"temperature\":0"))
                .json().path("choices").get(0).path("message").path("content").asText();
        for (int seed = 1; seed <= 3; seed++) {
            TestServers.Reply r = TestServers.post(server, "/v1/chat/completions",
                    chat("Hello", ",\"max_tokens\":8,\"temperature\":1.5,\"top_p\":0,\"seed\":" + seed));
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            assertThat(r.json().path("choices").get(0).path("message").path("content").asText()).isEqualTo(greedy);
        }
        JsonNode ollama = TestServers.post(server, "/api/chat", chat("Hello", ",\"stream\":false,\"options\":{\"num_predict\":8,\"top_p\":0,\"seed\":5}")).json();
        assertThat(ollama.path("message").path("content").asText()).isEqualTo(greedy);
    }
}
