package dev.jemma.server;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Request fields a new user's client sends that used to be accepted with a 200 and ignored: each is now honoured or
 * refused with a 400 naming it, and its neutral value still passes.
 */
class UnsupportedFieldsTest {
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

    static String chat(String extra) {
        return "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":4" + extra + "}";
    }

    static String completion(String extra) {
        return "{\"model\":\"" + M + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":4" + extra + "}";
    }

    static void refused(String path, String body, String field) {
        TestServers.Reply r = TestServers.post(server, path, body);
        assertThat(r.status()).as(body + " -> " + r.body()).isEqualTo(400);
        var error = r.json().path("error");
        // OpenAI: {"error": {"message": …}}; Ollama: {"error": "…"}
        assertThat(error.isTextual() ? error.asText() : error.path("message").asText()).contains("'" + field + "'");
    }

    static void accepted(String path, String body) {
        TestServers.Reply r = TestServers.post(server, path, body);
        assertThat(r.status()).as(body + " -> " + r.body()).isEqualTo(200);
    }

    @Test
    void openAiFieldsThatWouldChangeTheAnswerAreRefusedByName() {
        refused("/v1/chat/completions", chat(",\"logit_bias\":{\"5\":10}"), "logit_bias");
        refused("/v1/completions", completion(",\"logit_bias\":{\"5\":-100}"), "logit_bias");
        refused("/v1/chat/completions", chat(",\"modalities\":[\"text\",\"audio\"]"), "modalities");
        refused("/v1/chat/completions", chat(",\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"}"), "audio");
        refused("/v1/chat/completions", chat(",\"web_search_options\":{}"), "web_search_options");
        refused("/v1/completions", completion(",\"echo\":true"), "echo");
        refused("/v1/completions", completion(",\"best_of\":3"), "best_of");
    }

    /** As /v1/embeddings (and OpenAI) do: a field the endpoint does not know is a 400 naming it, not ignored. */
    @Test
    void unknownFieldsAreRefusedByName() {
        refused("/v1/chat/completions", chat(",\"frobnicate\":1"), "frobnicate");
        refused("/v1/chat/completions", chat(",\"n_probs\":1"), "n_probs");
        refused("/v1/chat/completions", chat(",\"dynatemp_range\":0.5"), "dynatemp_range");
        refused("/v1/completions", completion(",\"tfs_z\":0.5"), "tfs_z");
        refused("/v1/completions", completion(",\"messages\":[]"), "messages");
        TestServers.Reply r = TestServers.post(server, "/v1/chat/completions", chat(",\"chat_template_kwargs\":{}"));
        assertThat(r.json().path("error").path("message").asText()).isEqualTo("field 'chat_template_kwargs' is not supported by /v1/chat/completions");
        // fields that leave the answer as it is pass
        accepted("/v1/chat/completions", chat(",\"metadata\":{\"k\":\"v\"},\"service_tier\":\"auto\",\"cache_prompt\":true,\"prediction\":null"));
        accepted("/v1/completions", completion(",\"user\":\"u\",\"cache_prompt\":false,\"stream_options\":null"));
    }

    /** A known field of the wrong type is refused even where it would not be used (it was ignored with a 200). */
    @Test
    void wrongTypesOfOptionalFieldsAreRefused() {
        refused("/v1/chat/completions", chat(",\"stream_options\":true"), "stream_options");
        refused("/v1/completions", completion(",\"stream_options\":\"include_usage\""), "stream_options");
        refused("/v1/chat/completions", chat(",\"parallel_tool_calls\":\"yes\""), "parallel_tool_calls");
        refused("/api/chat", "{\"model\":\"" + M + "\",\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"parallel_tool_calls\":1}",
                "parallel_tool_calls");
        accepted("/v1/chat/completions", chat(",\"stream_options\":{\"include_usage\":true},\"parallel_tool_calls\":false"));
    }

    @Test
    void neutralValuesOfThoseFieldsStillPass() {
        accepted("/v1/chat/completions", chat(",\"logit_bias\":{},\"modalities\":[\"text\"],\"audio\":null,\"user\":\"u1\",\"store\":false"));
        accepted("/v1/completions", completion(",\"logit_bias\":null,\"echo\":false,\"best_of\":1"));
    }

    /** llama-server's sampling fields on /v1, as its clients send them: applied (top-k 1 and min-p 1 are greedy), checked. */
    @Test
    void openAiTakesLlamaServersTopKAndMinP() {
        String greedy = TestServers.post(server, "/v1/chat/completions", chat(",\"max_tokens\":8,\"temperature\":0"))
                .json().path("choices").get(0).path("message").path("content").asText();
        for (String narrow : new String[]{"\"top_k\":1", "\"min_p\":1"}) {
            for (int seed = 1; seed <= 3; seed++) {
                TestServers.Reply r = TestServers.post(server, "/v1/chat/completions",
                        chat(",\"max_tokens\":8,\"temperature\":1.5,\"top_p\":1," + narrow + ",\"seed\":" + seed));
                assertThat(r.status()).as(r.body()).isEqualTo(200);
                assertThat(r.json().path("choices").get(0).path("message").path("content").asText()).as(narrow + " seed " + seed).isEqualTo(greedy);
            }
        }
        refused("/v1/chat/completions", chat(",\"top_k\":-1"), "top_k");
        refused("/v1/completions", completion(",\"min_p\":\"high\""), "min_p");
        refused("/v1/chat/completions", chat(",\"repeat_penalty\":true"), "repeat_penalty");
        refused("/v1/chat/completions", chat(",\"repeat_last_n\":-2"), "repeat_last_n");
    }

    /** repeat_last_n -1 (the whole context, Ollama's and llama.cpp's meaning) passed the server's check, then the engine refused it. */
    @Test
    void repeatLastNMinusOneIsTheWholeContext() {
        accepted("/api/generate", "{\"model\":\"" + M + "\",\"prompt\":\"Hello\",\"stream\":false,\"options\":{\"num_predict\":2,\"repeat_last_n\":-1,\"repeat_penalty\":1.3}}");
        accepted("/v1/chat/completions", chat(",\"repeat_last_n\":-1,\"repeat_penalty\":1.3"));
    }

    /** /api/generate and /api/chat know their fields as /api/embed does; a sampling option beside options gets a hint. */
    @Test
    void ollamaUnknownTopLevelFieldsAreRefusedByName() {
        String gen = "{\"model\":\"" + M + "\",\"prompt\":\"Hello\",\"stream\":false";
        String chat = "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"stream\":false";
        TestServers.Reply r = TestServers.post(server, "/api/generate", gen + ",\"num_predict\":2}");
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.json().path("error").asText())
                .isEqualTo("field 'num_predict' is not supported by /api/generate (a sampling option: put it inside \"options\")");
        refused("/api/chat", chat + ",\"frobnicate\":true}", "frobnicate");
        refused("/api/generate", gen + ",\"messages\":[]}", "messages");
        refused("/api/chat", chat + ",\"truncate\":false}", "truncate");
        refused("/api/chat", chat + ",\"shift\":true}", "shift");
        refused("/api/generate", gen + ",\"truncate\":\"no\"}", "truncate");
        refused("/api/generate", gen + ",\"shift\":0}", "shift");
        accepted("/api/chat", chat + ",\"truncate\":true,\"shift\":false,\"options\":{\"num_predict\":2}}");
        accepted("/api/generate", gen + ",\"system\":\"Be brief.\",\"keep_alive\":\"5m\",\"options\":{\"num_predict\":2}}");
    }

    @Test
    void ollamaTemplateIsRefusedUnlessRaw() {
        String gen = "{\"model\":\"" + M + "\",\"prompt\":\"Hello\",\"stream\":false,\"options\":{\"num_predict\":2}";
        refused("/api/generate", gen + ",\"template\":\"{{ .Prompt }}\"}", "template");
        accepted("/api/generate", gen + ",\"template\":\"\"}");
        accepted("/api/generate", gen + ",\"raw\":true,\"template\":\"{{ .Prompt }}\"}");
    }
}
