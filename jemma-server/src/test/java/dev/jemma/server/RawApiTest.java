package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.chat.ChatMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** curl-style requests against a loopback server with the tiny model: both APIs, streaming, errors, KV reuse. */
class RawApiTest {
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

    private static List<JsonNode> lines(String body) {
        List<JsonNode> out = new ArrayList<>();
        for (String l : body.split("\n")) if (!l.isBlank()) out.add(new TestServers.Reply(200, l, null).json());
        return out;
    }

    @Test
    void versionTagsPsShowAndModels() {
        assertThat(TestServers.get(server, "/api/version").json().path("version").asText()).isNotEmpty();
        JsonNode tags = TestServers.get(server, "/api/tags").json();
        assertThat(tags.path("models").get(0).path("name").asText()).isEqualTo(M);
        assertThat(tags.path("models").get(0).path("details").path("format").asText()).isEqualTo("gguf");
        JsonNode ps = TestServers.get(server, "/api/ps").json();
        assertThat(ps.path("models").get(0).path("name").asText()).isEqualTo(M); // -m models load at start
        JsonNode show = TestServers.post(server, "/api/show", "{\"model\":\"" + M + "\"}").json();
        assertThat(show.path("details").path("quantization_level").asText()).isEqualTo("Q8_0");
        assertThat(show.path("model_info").path("general.architecture").asText()).isEqualTo("gemma3");
        assertThat(show.path("template").asText()).contains("bos_token");
        JsonNode models = TestServers.get(server, "/v1/models").json();
        assertThat(models.path("object").asText()).isEqualTo("list");
        assertThat(models.path("data").get(0).path("id").asText()).isEqualTo(M);
        assertThat(TestServers.get(server, "/v1/models/" + M).json().path("id").asText()).isEqualTo(M);
    }

    @Test
    void ollamaChatStreamedAndNot() {
        String req = "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello there\"}],"
                + "\"options\":{\"num_predict\":6,\"temperature\":0,\"seed\":1}";
        TestServers.Reply r = TestServers.post(server, "/api/chat", req + "}");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("application/x-ndjson");
        List<JsonNode> chunks = lines(r.body());
        JsonNode last = chunks.getLast();
        assertThat(last.path("done").asBoolean()).isTrue();
        assertThat(last.path("eval_count").asInt()).isBetween(1, 6);
        assertThat(last.path("prompt_eval_count").asInt()).isPositive();
        assertThat(last.path("done_reason").asText()).isIn("stop", "length");
        StringBuilder streamed = new StringBuilder();
        for (JsonNode c : chunks.subList(0, chunks.size() - 1)) {
            assertThat(c.path("done").asBoolean()).isFalse();
            streamed.append(c.path("message").path("content").asText());
        }
        JsonNode whole = TestServers.post(server, "/api/chat", req + ",\"stream\":false}").json();
        assertThat(whole.path("done").asBoolean()).isTrue();
        assertThat(whole.path("message").path("role").asText()).isEqualTo("assistant");
        assertThat(whole.path("eval_count").asInt()).isBetween(1, 6);
        assertThat(streamed.length() > 0 || last.path("eval_count").asInt() > 0).isTrue();
    }

    @Test
    void ollamaGenerateWithContextReusesTheKvCache() {
        String first = "{\"model\":\"" + M + "\",\"prompt\":\"The cat sat on the mat\",\"stream\":false,"
                + "\"options\":{\"num_predict\":5,\"temperature\":0}}";
        JsonNode a = TestServers.post(server, "/api/generate", first).json();
        JsonNode ctx = a.path("context");
        assertThat(ctx.size()).isEqualTo(a.path("prompt_eval_count").asInt() + a.path("eval_count").asInt());
        String second = "{\"model\":\"" + M + "\",\"prompt\":\"and then\",\"stream\":false,\"context\":" + ctx
                + ",\"options\":{\"num_predict\":5,\"temperature\":0}}";
        JsonNode b = TestServers.post(server, "/api/generate", second).json();
        int promptLen = b.path("context").size() - b.path("eval_count").asInt();
        int newTurn = promptLen - ctx.size();
        // Everything the cache already held is reused: only the new turn is processed (plus the last generated
        // token of the first answer when that one stopped on the length limit: it was sampled, never fed back).
        int expected = newTurn + (a.path("done_reason").asText().equals("length") ? 1 : 0);
        assertThat(b.path("prompt_eval_count").asInt()).isEqualTo(expected);
    }

    @Test
    void secondChatTurnOnlyProcessesTokensAfterTheCommonPrefix() {
        String u1 = "Tell me about the river";
        String q1 = "{\"model\":\"" + M + "\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"" + u1 + "\"}],"
                + "\"options\":{\"num_predict\":8,\"temperature\":0}}";
        JsonNode a = TestServers.post(server, "/api/chat", q1).json();
        String answer = a.path("message").path("content").asText();
        List<ChatMessage> turn1 = List.of(ChatMessage.user(u1));
        List<ChatMessage> turn2 = List.of(ChatMessage.user(u1), ChatMessage.assistant(answer), ChatMessage.user("and the sea"));
        int p1, suffix;
        try (Engine e = Engine.load(TestServers.tinyModel())) {
            String r1 = e.renderChat(turn1, true), r2 = e.renderChat(turn2, true);
            // The template writes the answer back trimmed.
            String written = r2.startsWith(r1 + answer) ? answer : answer.strip();
            assertThat(r2).startsWith(r1 + written);
            p1 = e.tokenizer().encode(r1, false).length;
            // What the second turn adds after the first prompt and the answer: end of that turn, the new user turn.
            suffix = e.tokenizer().encode(r2.substring(r1.length() + written.length()), false).length;
        }
        int e1 = a.path("eval_count").asInt();
        String q2 = "{\"model\":\"" + M + "\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"" + u1 + "\"},"
                + "{\"role\":\"assistant\",\"content\":" + Exchange.JSON.valueToTree(answer) + "},"
                + "{\"role\":\"user\",\"content\":\"and the sea\"}],\"options\":{\"num_predict\":4,\"temperature\":0}}";
        JsonNode b = TestServers.post(server, "/api/chat", q2).json();
        // Reused: the first prompt and the answer as generated (the model's own ids, so the sliding-window ring
        // cache never rolls back). Processed: the new turn, plus the answer's last token when a length limit cut
        // it (sampled, never fed back). The common prefix thus ends inside the last exchange.
        int expected = suffix + (a.path("done_reason").asText().equals("length") ? 1 : 0);
        assertThat(b.path("prompt_eval_count").asInt()).isEqualTo(expected);
        assertThat(expected).isLessThan(p1 + e1);
        // The third turn, through the OpenAI API, reports the reuse as cached tokens.
        String q3 = "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + u1 + "\"},"
                + "{\"role\":\"assistant\",\"content\":" + Exchange.JSON.valueToTree(answer) + "},"
                + "{\"role\":\"user\",\"content\":\"and the sea\"},"
                + "{\"role\":\"assistant\",\"content\":" + b.path("message").path("content") + "},"
                + "{\"role\":\"user\",\"content\":\"and the sky\"}],\"max_tokens\":3,\"temperature\":0}";
        JsonNode c = TestServers.post(server, "/v1/chat/completions", q3).json();
        assertThat(c.path("usage").path("prompt_tokens_details").path("cached_tokens").asInt())
                .isGreaterThanOrEqualTo(p1 + e1 + suffix - 1);
    }

    @Test
    void openAiChatCompletionsStreamedAndNot() {
        String req = "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief\"},"
                + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}],\"max_tokens\":5,\"temperature\":0,\"seed\":3";
        JsonNode whole = TestServers.post(server, "/v1/chat/completions", req + "}").json();
        assertThat(whole.path("object").asText()).isEqualTo("chat.completion");
        assertThat(whole.path("choices").get(0).path("message").path("role").asText()).isEqualTo("assistant");
        assertThat(whole.path("choices").get(0).path("finish_reason").asText()).isIn("stop", "length");
        assertThat(whole.path("usage").path("completion_tokens").asInt()).isBetween(1, 5);
        assertThat(whole.path("usage").path("total_tokens").asInt()).isEqualTo(
                whole.path("usage").path("prompt_tokens").asInt() + whole.path("usage").path("completion_tokens").asInt());
        TestServers.Reply r = TestServers.post(server, "/v1/chat/completions", req + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        assertThat(r.headers().firstValue("Content-Type").orElse("")).startsWith("text/event-stream");
        String[] events = r.body().split("\n\n");
        assertThat(events[events.length - 1]).isEqualTo("data: [DONE]");
        StringBuilder text = new StringBuilder();
        JsonNode usage = null;
        String finish = null;
        for (String ev : events) {
            assertThat(ev).startsWith("data: ");
            if (ev.equals("data: [DONE]")) continue;
            JsonNode c = new TestServers.Reply(200, ev.substring(6), null).json();
            assertThat(c.path("object").asText()).isEqualTo("chat.completion.chunk");
            if (c.path("usage").isObject()) usage = c.path("usage");
            for (JsonNode ch : c.path("choices")) {
                text.append(ch.path("delta").path("content").asText(""));
                if (!ch.path("finish_reason").isNull()) finish = ch.path("finish_reason").asText();
            }
        }
        assertThat(finish).isIn("stop", "length");
        assertThat(usage).isNotNull();
        assertThat(usage.path("completion_tokens").asInt()).isBetween(1, 5);
        assertThat(usage.path("prompt_tokens").asInt()).isEqualTo(whole.path("usage").path("prompt_tokens").asInt());
    }

    @Test
    void openAiCompletionsAndStopStrings() {
        JsonNode c = TestServers.post(server, "/v1/completions", "{\"model\":\"" + M + "\",\"prompt\":\"Once upon a time\","
                + "\"max_tokens\":7,\"temperature\":0}").json();
        assertThat(c.path("object").asText()).isEqualTo("text_completion");
        String text = c.path("choices").get(0).path("text").asText();
        assertThat(c.path("usage").path("completion_tokens").asInt()).isBetween(1, 7);
        if (text.length() >= 2) {
            // Stopping at a piece of the greedy answer ends the text just before it.
            String stop = text.substring(text.length() / 2, text.length() / 2 + 1);
            JsonNode s = TestServers.post(server, "/v1/completions", "{\"model\":\"" + M + "\",\"prompt\":\"Once upon a time\","
                    + "\"max_tokens\":7,\"temperature\":0,\"stop\":" + Exchange.JSON.valueToTree(stop) + "}").json();
            String stopped = s.path("choices").get(0).path("text").asText();
            assertThat(stopped).doesNotContain(stop);
            assertThat(s.path("choices").get(0).path("finish_reason").asText()).isEqualTo("stop");
        }
    }

    @Test
    void everyOllamaOptionIsAppliedOrRefusedByName() {
        String chat = "{\"model\":\"" + M + "\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"options\":";
        TestServers.Reply unknown = TestServers.post(server, "/api/chat", chat + "{\"frobnicate\":2}}");
        assertThat(unknown.status()).isEqualTo(400);
        assertThat(unknown.json().path("error").asText()).startsWith("field 'options.frobnicate' is not supported (supported: dry_allowed_length,");
        TestServers.Reply threads = TestServers.post(server, "/api/chat", chat + "{\"num_thread\":8}}");
        assertThat(threads.status()).isEqualTo(400);
        assertThat(threads.json().path("error").asText())
                .isEqualTo("field 'options.num_thread' is a load-time setting, not a per-request one; in Jemma it is set by jemma serve: -t");
        // a null is an option not sent
        assertThat(TestServers.post(server, "/api/chat", chat + "{\"mirostat\":null,\"num_predict\":2}}").status()).isEqualTo(200);
        // ignore_eos is applied, as on the OpenAI side: exactly num_predict tokens, whatever the model would have ended with
        for (int i = 0; i < 3; i++) {
            TestServers.Reply r = TestServers.post(server, "/api/generate", "{\"model\":\"" + M + "\",\"stream\":false,\"prompt\":\"Hello " + i
                    + "\",\"options\":{\"num_predict\":24,\"ignore_eos\":true,\"seed\":" + i + "}}");
            assertThat(r.status()).as(r.body()).isEqualTo(200);
            assertThat(r.json().path("eval_count").asInt()).isEqualTo(24);
            assertThat(r.json().path("done_reason").asText()).isEqualTo("length");
        }
    }

    @Test
    void malformedRequestsGetJsonErrorsWithTheRightStatus() {
        record Case(String path, String body, int status) {
        }
        for (Case k : List.of(
                new Case("/api/chat", "{not json", 400),
                new Case("/api/chat", "[1,2]", 400),
                new Case("/api/chat", "", 400),
                new Case("/api/chat", "{\"messages\":[]}", 400),
                new Case("/api/chat", "{\"model\":\"" + M + "\",\"messages\":\"hi\"}", 400),
                new Case("/api/chat", "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", 400),
                new Case("/api/chat", "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"options\":{\"temperature\":\"hot\"}}", 400),
                new Case("/api/generate", "{\"model\":\"" + M + "\",\"prompt\":\"x\",\"keep_alive\":\"soon\"}", 400),
                new Case("/api/generate", "{\"model\":\"" + M + "\",\"prompt\":\"x\",\"context\":[999999]}", 400),
                new Case("/api/chat", "{\"model\":\"nope\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 404),
                new Case("/api/show", "{\"model\":\"nope\"}", 404),
                new Case("/api/delete", "{\"model\":\"hf.co/a/b\"}", 405),
                new Case("/api/pull", "{\"model\":\"../../etc\"}", 400),
                new Case("/v1/chat/completions", "{\"model\":\"" + M + "\"}", 400),
                new Case("/v1/chat/completions", "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":3}", 400),
                new Case("/v1/chat/completions", "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":9}", 400),
                new Case("/v1/chat/completions", "{\"model\":\"gpt-4\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 404),
                new Case("/v1/completions", "{\"model\":\"" + M + "\",\"prompt\":42}", 400),
                new Case("/v1/nothing", "{}", 404),
                new Case("/api/chat", "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(9 << 20) + "\"}]}", 413))) {
            TestServers.Reply r = TestServers.post(server, k.path(), k.body());
            assertThat(r.status()).as(k.path() + " " + k.body().substring(0, Math.min(80, k.body().length()))).isEqualTo(k.status());
            JsonNode err = r.json().path("error");
            if (k.path().startsWith("/v1/")) assertThat(err.path("message").asText()).isNotEmpty();
            else assertThat(err.asText()).isNotEmpty();
        }
        // A prompt longer than the context: 413 as well.
        String longPrompt = "word ".repeat(6000);
        TestServers.Reply r = TestServers.post(server, "/api/generate", "{\"model\":\"" + M + "\",\"raw\":true,\"prompt\":\"" + longPrompt + "\"}");
        assertThat(r.status()).isEqualTo(413);
        assertThat(TestServers.send(server, HttpRequest.newBuilder(URI.create(server.uri() + "/api/tags"))
                .method("PATCH", HttpRequest.BodyPublishers.noBody())).status()).isEqualTo(405);
    }

    @Test
    void webPageAndAssetsAreServed() {
        TestServers.Reply page = TestServers.get(server, "/");
        assertThat(page.status()).isEqualTo(200);
        assertThat(page.headers().firstValue("Content-Type").orElse("")).startsWith("text/html");
        assertThat(page.body()).contains("<script src=\"/static/app.js\">");
        assertThat(TestServers.get(server, "/static/app.js").body()).contains("/api/chat");
        assertThat(TestServers.get(server, "/static/style.css").status()).isEqualTo(200);
        assertThat(TestServers.get(server, "/static/../../etc/passwd").status()).isIn(400, 404);
    }

    @Test
    void loadAndUnloadRequests() {
        JsonNode unload = TestServers.post(server, "/api/generate", "{\"model\":\"" + M + "\",\"keep_alive\":0}").json();
        assertThat(unload.path("done_reason").asText()).isEqualTo("unload");
        assertThat(TestServers.get(server, "/api/ps").json().path("models").size()).isZero();
        JsonNode load = TestServers.post(server, "/api/chat", "{\"model\":\"" + M + "\",\"messages\":[],\"keep_alive\":\"1h\"}").json();
        assertThat(load.path("done_reason").asText()).isEqualTo("load");
        assertThat(TestServers.get(server, "/api/ps").json().path("models").get(0).path("name").asText()).isEqualTo(M);
    }
}
