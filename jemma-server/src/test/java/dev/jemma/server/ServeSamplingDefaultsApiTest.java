package dev.jemma.server;

import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.sampling.SamplerChain;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufWriter;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code jemma serve}'s sampling flags ({@link JemmaServer.Config#withSampling}) are every served model's defaults, as
 * llama-server's are: a request without the field uses them, and a request's own field wins — on /v1 and in Ollama's
 * options alike. Servers run in exact mode, as SamplerFieldsApiTest's, so seeded answers compare across requests.
 */
class ServeSamplingDefaultsApiTest {
    @TempDir
    Path home;

    private JemmaServer serve(GenerationOptions defaults) {
        return TestServers.start(TestServers.config().withEngine(1, true, 0).withSampling(defaults), home);
    }

    /** A 24-token /v1 completion with {@code fields} added; its text. */
    private static String openAi(JemmaServer s, String fields) {
        return openAi(s, TestServers.MODEL, fields);
    }

    private static String openAi(JemmaServer s, String model, String fields) {
        TestServers.Reply r = TestServers.post(s, "/v1/completions", "{\"model\":\"" + model + "\",\"prompt\":\""
                + SamplerFieldsApiTest.PROMPT + "\",\"max_tokens\":24,\"ignore_eos\":true" + fields + "}");
        assertThat(r.status()).as(fields + " -> " + r.body()).isEqualTo(200);
        return r.json().path("choices").get(0).path("text").asText();
    }

    /** The same through /api/generate, {@code options} inside Ollama's options. */
    private static String ollama(JemmaServer s, String options) {
        TestServers.Reply r = TestServers.post(s, "/api/generate", "{\"model\":\"" + TestServers.MODEL + "\",\"prompt\":\""
                + SamplerFieldsApiTest.PROMPT + "\",\"raw\":true,\"stream\":false,\"options\":{\"num_predict\":24,\"ignore_eos\":true"
                + options + "}}");
        assertThat(r.status()).as(options + " -> " + r.body()).isEqualTo(200);
        return r.json().path("response").asText();
    }

    /**
     * {@code --temp 0}: a request sending no temperature is answered greedily, one sending {@code temperature: 0.8} with
     * a seed is not. Mutation caught: EngineModel not passing the server's defaults to the engine (the request without
     * a temperature then samples at 1.0 with a random seed).
     */
    @Test
    void temperatureZeroMakesRequestsWithoutOneGreedy() {
        try (JemmaServer s = serve(GenerationOptions.builder().temperature(0f).build())) {
            String greedy = openAi(s, ",\"temperature\":0");
            assertThat(openAi(s, "")).isEqualTo(greedy);
            assertThat(openAi(s, ",\"temperature\":0.8,\"seed\":11")).as("the request's temperature wins").isNotEqualTo(greedy);
            String ollamaGreedy = ollama(s, ",\"temperature\":0");
            assertThat(ollama(s, "")).isEqualTo(ollamaGreedy);
            assertThat(ollama(s, ",\"temperature\":0.8,\"seed\":11")).as("the request's temperature wins").isNotEqualTo(ollamaGreedy);
        }
    }

    /**
     * {@code --seed 7}: two sampled requests without a seed answer alike, and a request's seed wins. {@code --samplers
     * temperature}: the chain has no top-k stage, so a request's {@code top_k: 1} no longer makes it greedy. Mutations
     * caught: the seed default dropped (the two requests draw random seeds and differ); the sampler order dropped
     * (top_k 1 then picks the greedy answer).
     */
    @Test
    void seedAndSamplerOrderAreDefaults() {
        GenerationOptions defaults = GenerationOptions.builder().seed(7L).samplers(SamplerChain.ofNames("temperature")).build();
        try (JemmaServer s = serve(defaults)) {
            String first = openAi(s, ",\"temperature\":1");
            assertThat(openAi(s, ",\"temperature\":1")).isEqualTo(first);
            assertThat(openAi(s, ",\"temperature\":1,\"seed\":8")).as("the request's seed wins").isNotEqualTo(first);
            assertThat(ollama(s, ",\"temperature\":1")).isEqualTo(ollama(s, ",\"temperature\":1"));
            String greedy = openAi(s, ",\"temperature\":0");
            assertThat(openAi(s, ",\"temperature\":1,\"top_k\":1")).as("no top_k stage").isNotEqualTo(greedy);
            assertThat(ollama(s, ",\"temperature\":1,\"top_k\":1")).as("no top_k stage").isNotEqualTo(ollama(s, ",\"temperature\":0"));
        }
    }

    /**
     * A flag beats the file's general.sampling.*, as llama.cpp's command line does: the tiny model with
     * {@code general.sampling.temp = 0} answers greedily when served plainly, and samples under {@code --temp 1
     * --seed 11}; /api/show lists the flag's value. Mutation caught: the file's defaults laid over the engine's
     * (Engine: {@code fileDefaults(...).orElse(options.generation())}).
     */
    @Test
    void aFlagBeatsTheFilesRecommendation() throws Exception {
        Path file = home.resolve("greedyfile.gguf");
        try (GgufFile f = GgufFile.open(TestServers.tinyModel())) {
            GgufWriter w = new GgufWriter().copyMetadata(f).putF32("general.sampling.temp", 0f);
            for (GgufTensorInfo t : f.tensors().values()) {
                w.addTensor(t.name(), t.dims(), t.type(), o -> o.write(f.tensorData(t).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(file);
        }
        var config = TestServers.config().withEngine(1, true, 0).withModels(List.of(file.toString()));
        String greedy;
        try (JemmaServer plain = TestServers.start(config, home.resolve("plain"))) {
            greedy = openAi(plain, "greedyfile", ",\"temperature\":0");
            assertThat(openAi(plain, "greedyfile", ",\"seed\":11")).as("the file's temperature 0").isEqualTo(greedy);
        }
        var flags = GenerationOptions.builder().temperature(1f).seed(11L).build();
        try (JemmaServer served = TestServers.start(config.withSampling(flags), home.resolve("flags"))) {
            assertThat(openAi(served, "greedyfile", "")).as("--temp 1 over the file's 0").isNotEqualTo(greedy);
            assertThat(openAi(served, "greedyfile", ",\"temperature\":0")).isEqualTo(greedy);
            var show = TestServers.post(served, "/api/show", "{\"model\":\"greedyfile\"}").json();
            assertThat(show.path("parameters").asText()).isEqualTo("temperature                    1\nseed                           11");
        }
    }
}
