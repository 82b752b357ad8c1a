package dev.jemma.server;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * llama-server's and Ollama's other sampler fields (typical, Mirostat, XTC, DRY; Ollama's dropped tfs_z and
 * penalize_newline; num_keep): each one sent changes the answer of a seeded request, its neutral value leaves it as it
 * was, and a value out of range is a 400 naming the field — on /v1 and in Ollama's options alike.
 */
class SamplerFieldsApiTest {
    @TempDir
    static Path home;
    static JemmaServer server;
    static final String M = TestServers.MODEL;

    @BeforeAll
    static void start() {
        // exact mode: this class compares seeded answers of two requests, and in the default mode a kernel compiled by the
        // JIT between them can move a logit through an int8 activation's rounding and flip a draw of the near-flat
        // random-weight model (seen in CLI runs of one JVM: docs/QAT.md's run-to-run note); exact mode's f32 sums move
        // by ~1e-7 there
        server = TestServers.start(TestServers.config().withEngine(1, true, 0), home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    /** A seeded /v1 completion of 24 tokens with llama-server's fields added; its text. */
    static String openAi(String temperature, String fields) {
        return openAi(PROMPT, temperature, fields);
    }

    static String openAi(String prompt, String temperature, String fields) {
        TestServers.Reply r = TestServers.post(server, "/v1/completions", "{\"model\":\"" + M + "\",\"prompt\":\"" + prompt + "\","
                + "\"max_tokens\":24,\"ignore_eos\":true,\"seed\":11,\"temperature\":" + temperature + fields + "}");
        assertThat(r.status()).as(fields + " -> " + r.body()).isEqualTo(200);
        return r.json().path("choices").get(0).path("text").asText();
    }

    /** The same through Ollama's /api/generate, the fields inside options. */
    static String ollama(String temperature, String options) {
        return ollama(PROMPT, temperature, options);
    }

    static String ollama(String prompt, String temperature, String options) {
        TestServers.Reply r = TestServers.post(server, "/api/generate", "{\"model\":\"" + M + "\",\"prompt\":\"" + prompt + "\","
                + "\"raw\":true,\"stream\":false,\"options\":{\"num_predict\":24,\"ignore_eos\":true,\"seed\":11,\"temperature\":" + temperature + options + "}}");
        assertThat(r.status()).as(options + " -> " + r.body()).isEqualTo(200);
        return r.json().path("response").asText();
    }

    static final String PROMPT = "Once upon a time";
    /** A prompt on which the tiny model's greedy answer repeats pieces of itself and of the prompt. */
    static final String REPETITIVE = "Once upon a time there was a time when once upon a time";

    /** Settings strong enough to change 24 seeded tokens of the tiny model (its 262k pieces rarely repeat by chance). */
    static final String[][] CHANGES = {
            {PROMPT, "1", ",\"typical_p\":0.05"},
            {PROMPT, "1", ",\"mirostat\":1,\"mirostat_tau\":0.5,\"mirostat_eta\":0.5"},
            {PROMPT, "1", ",\"mirostat\":2,\"mirostat_tau\":0.5"},
            {PROMPT, "1", ",\"xtc_probability\":1,\"xtc_threshold\":0.02"},
            {PROMPT, "1", ",\"top_n_sigma\":0.5"},
            {REPETITIVE, "0", ",\"dry_multiplier\":50,\"dry_allowed_length\":1,\"dry_sequence_breakers\":[]"},
    };

    @Test
    void eachSamplerChangesTheAnswerOnBothApis() {
        for (String[] c : CHANGES) {
            assertThat(openAi(c[0], c[1], c[2])).as("/v1 " + c[2]).isNotEqualTo(openAi(c[0], c[1], ""));
            assertThat(ollama(c[0], c[1], c[2])).as("options " + c[2]).isNotEqualTo(ollama(c[0], c[1], ""));
        }
    }

    /** Off values, and a sampler's settings without the sampler, change nothing. */
    @Test
    void neutralValuesLeaveTheAnswerAsItIs() {
        String base = openAi("1", ""), ollamaBase = ollama("1", "");
        for (String f : new String[]{",\"typical_p\":1", ",\"mirostat\":0,\"mirostat_tau\":3,\"mirostat_eta\":0.3",
                ",\"xtc_probability\":0,\"xtc_threshold\":0.3", ",\"xtc_probability\":1,\"xtc_threshold\":0.6", ",\"top_n_sigma\":-1",
                ",\"top_n_sigma\":0",
                ",\"dry_multiplier\":0,\"dry_base\":2,\"dry_allowed_length\":3,\"dry_penalty_last_n\":-1,\"dry_sequence_breakers\":[\"\\n\"]"}) {
            assertThat(openAi("1", f)).as("/v1 " + f).isEqualTo(base);
            assertThat(ollama("1", f)).as("options " + f).isEqualTo(ollamaBase);
        }
        // Ollama's dropped options at their neutral value, and num_keep (Jemma never shifts the context)
        assertThat(ollama("1", ",\"tfs_z\":1,\"penalize_newline\":true,\"num_keep\":4")).isEqualTo(ollamaBase);
        assertThat(ollama("1", ",\"tfs_z\":1.0,\"num_keep\":-1")).isEqualTo(ollamaBase);
    }

    static void refused(String path, String body, String field) {
        TestServers.Reply r = TestServers.post(server, path, body);
        assertThat(r.status()).as(body + " -> " + r.body()).isEqualTo(400);
        var error = r.json().path("error");
        assertThat(error.isTextual() ? error.asText() : error.path("message").asText()).as(body).contains("'" + field + "'");
    }

    @Test
    void outOfRangeValuesAreRefusedByName() {
        String[][] bad = {{"typical_p", "1.5"}, {"typical_p", "-0.1"}, {"mirostat", "3"}, {"mirostat", "1.5"}, {"mirostat_tau", "-1"},
                {"mirostat_eta", "\"fast\""}, {"xtc_probability", "2"}, {"xtc_threshold", "-0.5"}, {"dry_multiplier", "-1"},
                {"dry_base", "0.5"}, {"dry_allowed_length", "0"}, {"dry_penalty_last_n", "-2"}, {"dry_sequence_breakers", "\"\\n\""},
                {"dry_sequence_breakers", "[1]"}, {"dry_sequence_breakers", "[\"\"]"}, {"top_n_sigma", "101"},
                {"repeat_penalty", "0"}, {"top_p", "1.01"}, {"temperature", "-1"}, {"seed", "1.5"}};
        for (String[] b : bad) {
            refused("/v1/chat/completions", "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2,\""
                    + b[0] + "\":" + b[1] + "}", b[0]);
            refused("/api/generate", "{\"model\":\"" + M + "\",\"prompt\":\"Hi\",\"stream\":false,\"options\":{\"num_predict\":2,\""
                    + b[0] + "\":" + b[1] + "}}", "options." + b[0]);
        }
    }

    /**
     * llama-server's samplers list: llama.cpp's default order, as names or letters, changes nothing; a stage left out is
     * not run (top-k 1 without top_k in the list no longer makes the answer greedy); another order is run in that order:
     * a repeat penalty after a greedy temperature stage no longer changes the pick, before it, it does. Unknown names and
     * letters are a 400 naming the field. Ollama has no such option; Jemma takes it in {@code options}, as it takes XTC
     * and DRY there (the web page sends it so). Mutations caught: the list parsed but not passed to the generation
     * options (the penalties-after-temperature answer then differs from plain greedy); {@code options.samplers}
     * refused as unsupported again.
     */
    @Test
    void samplersInAnyOrderAreHonoured() {
        String base = openAi("1", "");
        assertThat(openAi("1", ",\"samplers\":\"edskypmxt\"")).isEqualTo(base);
        assertThat(openAi("1", ",\"samplers\":[\"penalties\",\"dry\",\"top_n_sigma\",\"top_k\",\"typ_p\",\"top_p\",\"min_p\",\"xtc\",\"temperature\"]"))
                .isEqualTo(base);
        String greedy = openAi("0", "");
        assertThat(openAi("1.5", ",\"top_k\":1,\"samplers\":[\"top_k\",\"temperature\"]")).isEqualTo(greedy);
        assertThat(openAi("1.5", ",\"top_k\":1,\"samplers\":\"tk\"")).isEqualTo(greedy);
        assertThat(openAi("1.5", ",\"top_k\":1,\"samplers\":[\"top_p\",\"temperature\"]")).isNotEqualTo(greedy);
        String plainGreedy = openAi(REPETITIVE, "0", "");
        String penalty = ",\"repeat_penalty\":5,\"repeat_last_n\":-1";
        assertThat(openAi(REPETITIVE, "0", penalty + ",\"samplers\":[\"temperature\",\"penalties\"]")).isEqualTo(plainGreedy);
        assertThat(openAi(REPETITIVE, "0", penalty + ",\"samplers\":\"et\"")).isNotEqualTo(plainGreedy)
                .isEqualTo(openAi(REPETITIVE, "0", penalty));
        String chat = "{\"model\":\"" + M + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":2,\"samplers\":";
        refused("/v1/chat/completions", chat + "[\"temperature\",\"tfs_z\"]}", "samplers");
        refused("/v1/chat/completions", chat + "[\"infill\"]}", "samplers");
        refused("/v1/chat/completions", chat + "\"kq\"}", "samplers");
        refused("/v1/chat/completions", chat + "3}", "samplers");
        assertThat(ollama("1.5", ",\"top_k\":1,\"samplers\":\"tk\"")).isEqualTo(ollama("0", ""));
        assertThat(ollama("1.5", ",\"top_k\":1,\"samplers\":[\"top_p\",\"temperature\"]")).isNotEqualTo(ollama("0", ""));
        refused("/api/generate", "{\"model\":\"" + M + "\",\"prompt\":\"Hi\",\"stream\":false,\"options\":{\"num_predict\":2,\"samplers\":\"kq\"}}",
                "options.samplers");
    }

    /** What Ollama dropped is refused with the reason, beyond its neutral value. */
    @Test
    void ollamasDroppedOptionsAreRefusedBeyondTheirNeutralValue() {
        String gen = "{\"model\":\"" + M + "\",\"prompt\":\"Hi\",\"stream\":false,\"options\":{\"num_predict\":2,";
        TestServers.Reply tfs = TestServers.post(server, "/api/generate", gen + "\"tfs_z\":0.95}}");
        assertThat(tfs.status()).isEqualTo(400);
        assertThat(tfs.json().path("error").asText()).startsWith("field 'options.tfs_z': tail-free sampling was removed");
        TestServers.Reply nl = TestServers.post(server, "/api/generate", gen + "\"penalize_newline\":false}}");
        assertThat(nl.status()).isEqualTo(400);
        assertThat(nl.json().path("error").asText()).startsWith("field 'options.penalize_newline': false is not supported");
        refused("/api/generate", gen + "\"num_keep\":-2}}", "options.num_keep");
        refused("/api/generate", gen + "\"penalize_newline\":\"no\"}}", "options.penalize_newline");
        // Ollama's options only: on /v1 they stay unknown fields
        refused("/v1/completions", "{\"model\":\"" + M + "\",\"prompt\":\"Hi\",\"max_tokens\":2,\"tfs_z\":1}", "tfs_z");
    }
}
