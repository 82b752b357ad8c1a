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

    static java.util.List<JsonNode> lines(String body) {
        java.util.List<JsonNode> out = new java.util.ArrayList<>();
        for (String l : body.split("\n")) if (!l.isBlank()) out.add(new TestServers.Reply(200, l, null).json());
        return out;
    }

    static java.util.List<JsonNode> events(String body) {
        java.util.List<JsonNode> out = new java.util.ArrayList<>();
        for (String ev : body.split("\n\n")) {
            if (ev.isBlank() || ev.equals("data: [DONE]")) continue;
            out.add(new TestServers.Reply(200, ev.substring(6), null).json());
        }
        return out;
    }

    /** One token's entry: logprob <= 0, bytes spell the token, alternatives sorted, greedy = first alternative. */
    static void checkEntry(JsonNode e, int top, boolean greedy) {
        double lp = e.path("logprob").asDouble(1);
        assertThat(lp).isLessThanOrEqualTo(0);
        byte[] bytes = new byte[e.path("bytes").size()];
        for (int i = 0; i < bytes.length; i++) bytes[i] = (byte) e.path("bytes").get(i).asInt();
        assertThat(new String(bytes, java.nio.charset.StandardCharsets.UTF_8)).isEqualTo(e.path("token").asText());
        JsonNode alts = e.path("top_logprobs");
        assertThat(alts.size()).isEqualTo(top);
        double sum = 0;
        for (int i = 0; i < alts.size(); i++) {
            sum += Math.exp(alts.get(i).path("logprob").asDouble());
            if (i > 0) assertThat(alts.get(i).path("logprob").asDouble()).isLessThanOrEqualTo(alts.get(i - 1).path("logprob").asDouble());
        }
        assertThat(sum).isLessThanOrEqualTo(1.0001);
        if (greedy && top > 0) {
            assertThat(alts.get(0).path("token").asText()).isEqualTo(e.path("token").asText());
            assertThat(alts.get(0).path("logprob").asDouble()).isEqualTo(lp);
        }
    }

    @Test
    void openAiChatLogprobsStreamedAndNot() {
        String req = chat("Tell me a story", ",\"max_tokens\":6,\"temperature\":0,\"logprobs\":true,\"top_logprobs\":3");
        JsonNode whole = TestServers.post(server, "/v1/chat/completions", req).json();
        JsonNode choice = whole.path("choices").get(0);
        JsonNode content = choice.path("logprobs").path("content");
        assertThat(content.size()).isEqualTo(whole.path("usage").path("completion_tokens").asInt());
        java.io.ByteArrayOutputStream joined = new java.io.ByteArrayOutputStream();
        for (JsonNode e : content) {
            checkEntry(e, 3, true);
            for (JsonNode b : e.path("bytes")) joined.write(b.asInt());
        }
        // the tokens' bytes spell the answer (which drops the leading space of its first piece)
        assertThat(joined.toString(java.nio.charset.StandardCharsets.UTF_8).strip()).startsWith(choice.path("message").path("content").asText().strip());
        // streamed: the same entries, spread over the chunks
        TestServers.Reply r = TestServers.post(server, "/v1/chat/completions", req.substring(0, req.length() - 1) + ",\"stream\":true}");
        java.util.List<Double> streamed = new java.util.ArrayList<>();
        for (JsonNode c : events(r.body())) {
            for (JsonNode e : c.path("choices").get(0).path("logprobs").path("content")) streamed.add(e.path("logprob").asDouble());
        }
        java.util.List<Double> once = new java.util.ArrayList<>();
        for (JsonNode e : content) once.add(e.path("logprob").asDouble());
        assertThat(streamed).isEqualTo(once);
        // without logprobs: null, as before; top_logprobs alone is refused
        assertThat(TestServers.post(server, "/v1/chat/completions", chat("Hi", ",\"max_tokens\":2")).json()
                .path("choices").get(0).path("logprobs").isNull()).isTrue();
        TestServers.Reply bad = TestServers.post(server, "/v1/chat/completions", chat("Hi", ",\"top_logprobs\":2"));
        assertThat(bad.status()).isEqualTo(400);
        assertThat(bad.json().path("error").path("message").asText()).contains("top_logprobs");
        assertThat(TestServers.post(server, "/v1/chat/completions", chat("Hi", ",\"logprobs\":true,\"top_logprobs\":21")).status()).isEqualTo(400);
    }

    @Test
    void openAiLegacyCompletionLogprobs() {
        String req = "{\"model\":\"" + M + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":5,\"temperature\":0,\"logprobs\":2}";
        JsonNode c = TestServers.post(server, "/v1/completions", req).json().path("choices").get(0);
        JsonNode lp = c.path("logprobs");
        int n = lp.path("tokens").size();
        assertThat(n).isPositive();
        assertThat(lp.path("token_logprobs").size()).isEqualTo(n);
        assertThat(lp.path("top_logprobs").size()).isEqualTo(n);
        assertThat(lp.path("text_offset").size()).isEqualTo(n);
        for (int i = 0; i < n; i++) {
            String tok = lp.path("tokens").get(i).asText();
            // the sampled token is always listed among the alternatives
            assertThat(lp.path("top_logprobs").get(i).path(tok).asDouble(1)).isEqualTo(lp.path("token_logprobs").get(i).asDouble());
            assertThat(lp.path("top_logprobs").get(i).size()).isBetween(1, 3);
        }
        assertThat(String.join("", iterate(lp.path("tokens")))).startsWith(c.path("text").asText());
        assertThat(TestServers.post(server, "/v1/completions", req.replace("\"logprobs\":2", "\"logprobs\":6")).status()).isEqualTo(400);
    }

    static java.util.List<String> iterate(JsonNode arr) {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (JsonNode x : arr) out.add(x.asText());
        return out;
    }

    @Test
    void ollamaLogprobsStreamedAndNot() {
        String req = chat("Tell me a story", ",\"stream\":false,\"logprobs\":true,\"top_logprobs\":2,\"options\":{\"num_predict\":6,\"temperature\":0}");
        JsonNode whole = TestServers.post(server, "/api/chat", req).json();
        JsonNode lps = whole.path("logprobs");
        assertThat(lps.size()).isEqualTo(whole.path("eval_count").asInt());
        for (JsonNode e : lps) checkEntry(e, 2, true);
        TestServers.Reply r = TestServers.post(server, "/api/chat", req.replace("\"stream\":false", "\"stream\":true"));
        java.util.List<Double> streamed = new java.util.ArrayList<>();
        for (JsonNode c : lines(r.body())) for (JsonNode e : c.path("logprobs")) streamed.add(e.path("logprob").asDouble());
        java.util.List<Double> once = new java.util.ArrayList<>();
        for (JsonNode e : lps) once.add(e.path("logprob").asDouble());
        assertThat(streamed).isEqualTo(once);
        // /api/generate too, and logprobs without alternatives
        JsonNode gen = TestServers.post(server, "/api/generate", "{\"model\":\"" + M + "\",\"prompt\":\"Hi\",\"stream\":false,"
                + "\"logprobs\":true,\"options\":{\"num_predict\":3,\"temperature\":0}}").json();
        assertThat(gen.path("logprobs").size()).isEqualTo(gen.path("eval_count").asInt());
        for (JsonNode e : gen.path("logprobs")) assertThat(e.has("top_logprobs")).isFalse();
        assertThat(TestServers.post(server, "/api/chat", chat("Hi", ",\"top_logprobs\":3")).status()).isEqualTo(400);
    }

    @Test
    void thinkingIsRefusedByNameUnlessOff() {
        for (String think : new String[]{"true", "\"high\""}) {
            for (String path : new String[]{"/api/chat", "/api/generate"}) {
                String body = path.equals("/api/chat") ? chat("Hi", ",\"think\":" + think)
                        : "{\"model\":\"" + M + "\",\"prompt\":\"Hi\",\"think\":" + think + "}";
                TestServers.Reply r = TestServers.post(server, path, body);
                assertThat(r.status()).as(path + " think " + think).isEqualTo(400);
                assertThat(r.json().path("error").asText()).contains("think");
            }
        }
        assertThat(TestServers.post(server, "/api/chat", chat("Hi", ",\"stream\":false,\"think\":false,\"options\":{\"num_predict\":2}")).status()).isEqualTo(200);
        TestServers.Reply effort = TestServers.post(server, "/v1/chat/completions", chat("Hi", ",\"reasoning_effort\":\"high\""));
        assertThat(effort.status()).isEqualTo(400);
        assertThat(effort.json().path("error").path("message").asText()).contains("reasoning_effort");
    }

    @Test
    void jsonModeCutByTheTokenLimitSaysLength() {
        JsonNode o = TestServers.post(server, "/api/chat", chat("Describe a cat as JSON", ",\"stream\":false,\"format\":\"json\",\"options\":{\"num_predict\":2}")).json();
        assertThat(o.path("done_reason").asText()).isEqualTo("length");
        JsonNode c = TestServers.post(server, "/v1/chat/completions", chat("Describe a cat as JSON",
                ",\"max_tokens\":2,\"response_format\":{\"type\":\"json_object\"}")).json();
        assertThat(c.path("choices").get(0).path("finish_reason").asText()).isEqualTo("length");
    }
}
