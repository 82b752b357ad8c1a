package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.SamplerSetting;
import dev.jemma.core.sampling.SamplerChain;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the web page's settings panel reads: GET /api/sampler-settings, SamplerSetting's range table (so the page checks
 * a value against the bounds the server uses without copying them), and /api/show's {@code sampling_defaults}, the
 * value of every setting a request leaves out (its placeholders).
 */
class SamplerSettingsApiTest {
    @TempDir
    Path home;

    /**
     * Every entry of the table, with its bounds and the rule the server's 400 states; a value the table's bounds refuse is
     * refused by the API with that rule. Mutation caught: a bound written from the wrong end (max as min).
     */
    @Test
    void theRangeTableIsTheServers() {
        try (JemmaServer server = TestServers.start(TestServers.config(), home)) {
            TestServers.Reply r = TestServers.get(server, "/api/sampler-settings");
            assertThat(r.status()).isEqualTo(200);
            JsonNode settings = r.json().path("settings");
            List<String> names = new ArrayList<>();
            settings.forEach(s -> names.add(s.path("name").asText()));
            assertThat(names).containsExactly(java.util.Arrays.stream(SamplerSetting.values()).map(SamplerSetting::apiName).toArray(String[]::new));
            JsonNode topP = entry(settings, "top_p");
            assertThat(topP.path("min").asDouble()).isEqualTo(0);
            assertThat(topP.path("max").asDouble()).isEqualTo(1);
            assertThat(topP.path("integer").asBoolean()).isFalse();
            assertThat(topP.path("rule").asText()).isEqualTo("between 0 and 1 (1 = off)");
            JsonNode penalty = entry(settings, "repeat_penalty");
            assertThat(penalty.path("min_exclusive").asBoolean()).isTrue();
            assertThat(penalty.path("max").asDouble()).isEqualTo(GenerationOptions.MAX_REPEAT_PENALTY);
            assertThat(entry(settings, "top_k").path("integer").asBoolean()).isTrue();
            assertThat(entry(settings, "top_k").path("min_exclusive").asBoolean()).isFalse();
            assertThat(entry(settings, "seed").path("min").isNull()).isTrue();
            assertThat(entry(settings, "seed").path("max").isNull()).isTrue();
            assertThat(entry(settings, "top_n_sigma").path("min").isNull()).isTrue();
            assertThat(r.json().path("samplers").path("default").asText()).isEqualTo(SamplerChain.DEFAULT.letters());
            assertThat(r.json().path("samplers").path("stages").get(3).path("letter").asText()).isEqualTo("k");
            // a value just past a bound the table gives is what the API refuses, in the table's words
            double over = topP.path("max").asDouble() + 0.5;
            TestServers.Reply refused = TestServers.post(server, "/api/generate", "{\"model\":\"" + TestServers.MODEL
                    + "\",\"prompt\":\"Hi\",\"stream\":false,\"options\":{\"num_predict\":1,\"top_p\":" + over + "}}");
            assertThat(refused.status()).isEqualTo(400);
            assertThat(refused.json().path("error").asText()).isEqualTo("field 'options.top_p' must be " + topP.path("rule").asText() + ", got " + over);
        }
    }

    /**
     * jemma serve's sampling flags ({@code --temp 0.5 --seed 7 --samplers "kt"}) are the defaults show reports, Gemma's
     * for the rest; without flags the seed is -1 (random) and the order llama.cpp's. Mutation caught: the defaults taken
     * from the file alone (serve's flags left out).
     */
    @Test
    void showReportsTheDefaultsARequestStartsFrom() {
        GenerationOptions serve = GenerationOptions.builder().temperature(0.5f).seed(7L).samplers(SamplerChain.ofLetters("kt")).build();
        try (JemmaServer server = TestServers.start(TestServers.config().withSampling(serve), home)) {
            JsonNode d = TestServers.post(server, "/api/show", "{\"model\":\"" + TestServers.MODEL + "\"}").json().path("sampling_defaults");
            assertThat(d.path("temperature").asDouble()).isEqualTo(0.5);
            assertThat(d.path("seed").asLong()).isEqualTo(7);
            assertThat(d.path("samplers").asText()).isEqualTo("kt");
            assertThat(d.path("top_k").asInt()).isEqualTo(64);
            assertThat(d.path("top_p").floatValue()).isEqualTo(0.95f);
            assertThat(d.path("repeat_last_n").asInt()).isEqualTo(64);
            assertThat(d.path("dry_penalty_last_n").asInt()).isEqualTo(-1);
            assertThat(d.path("num_predict").asInt()).isEqualTo(-1);
            List<String> missing = new ArrayList<>();
            for (SamplerSetting s : SamplerSetting.values()) if (!d.has(s.apiName())) missing.add(s.apiName());
            assertThat(missing).as("every setting has a default").isEmpty();
        }
        try (JemmaServer server = TestServers.start(TestServers.config(), home.resolve("plain"))) {
            JsonNode d = TestServers.post(server, "/api/show", "{\"model\":\"" + TestServers.MODEL + "\"}").json().path("sampling_defaults");
            assertThat(d.path("seed").asLong()).isEqualTo(-1);
            assertThat(d.path("temperature").asDouble()).isEqualTo(1.0);
            assertThat(d.path("samplers").asText()).isEqualTo(SamplerChain.DEFAULT.letters());
        }
    }

    private static JsonNode entry(JsonNode settings, String name) {
        for (JsonNode s : settings) if (s.path("name").asText().equals(name)) return s;
        throw new AssertionError("no entry " + name);
    }
}
