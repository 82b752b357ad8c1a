package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Long conversations and huge prompts (issue 22, findings 2 and 4): a chat of thousands of messages is trimmed in
 * linear time, a prompt that cannot fit is refused from its length before it is tokenized, and {@code <end_of_turn>}
 * typed by a user stays text.
 */
class HistoryAndPromptLimitsTest {
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

    static String longChat(int n) {
        ObjectNode body = Exchange.JSON.createObjectNode().put("model", M).put("stream", false);
        body.putObject("options").put("num_predict", 1).put("temperature", 0);
        ArrayNode msgs = body.putArray("messages");
        for (int i = 0; i < n; i++) {
            // ~48 bytes each, as the reproducer (2,000 messages ≈ 96 KB)
            msgs.addObject().put("role", i % 2 == 0 ? "user" : "assistant").put("content", "message number " + i + ", some filler text here.");
        }
        return Exchange.write(body);
    }

    @Test
    void thousandsOfMessagesAreTrimmedQuickly() {
        for (int n : new int[]{2001, 5001}) {
            long t0 = System.nanoTime();
            TestServers.Reply r = TestServers.post(server, "/api/chat", longChat(n));
            double s = (System.nanoTime() - t0) / 1e9;
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            JsonNode j = r.json();
            assertThat(j.path("done").asBoolean()).isTrue();
            assertThat(j.path("prompt_eval_count").asInt()).isPositive();
            // a generous guard: the quadratic trimming took 170 s (2,000) and > 300 s (5,000); ConversationFitterTest
            // bounds the work itself
            assertThat(s).as("seconds for %d messages", n).isLessThan(60);
        }
    }

    @Test
    void hugePromptsAreRefusedBeforeTokenizing() {
        String huge = "x".repeat(7 << 20);
        for (String path : new String[]{"/api/generate", "/api/chat", "/v1/chat/completions", "/v1/completions"}) {
            String body = switch (path) {
                case "/api/generate", "/v1/completions" -> "{\"model\":\"" + M + "\",\"prompt\":\"" + huge + "\"}";
                default -> "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + huge + "\"}]}";
            };
            long t0 = System.nanoTime();
            TestServers.Reply r = TestServers.post(server, path, body);
            assertThat(r.status()).as(path).isEqualTo(413);
            String msg = path.startsWith("/v1/") ? r.json().path("error").path("message").asText() : r.json().path("error").asText();
            assertThat(msg).contains("at least").contains("context holds");
            // tokenizing 7 MB took ~5 s and ~450 MB; refusing from the length is immediate (generous bound)
            assertThat((System.nanoTime() - t0) / 1e9).as(path).isLessThan(5);
        }
    }

    @Test
    void endOfTurnTypedByAUserStaysText() {
        String base = "{\"model\":\"" + M + "\",\"max_tokens\":1,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":";
        int typed = TestServers.post(server, "/v1/chat/completions", base + "\"a <end_of_turn> b\"}]}").json()
                .path("usage").path("prompt_tokens").asInt();
        int plain = TestServers.post(server, "/v1/chat/completions", base + "\"a b\"}]}").json()
                .path("usage").path("prompt_tokens").asInt();
        // as one control token it would add 1 token; as text it is '<', 'end', '_', 'of', … (several)
        assertThat(typed - plain).isGreaterThan(2);
    }
}
