package dev.jemma.server;

import dev.jemma.core.testing.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.ollama.OllamaEmbeddingModel;
import dev.langchain4j.model.openai.OpenAiEmbeddingModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * /api/embed, /api/embeddings and /v1/embeddings on the tiny EmbeddingGemma fixture: the vectors sentence-transformers
 * computes, through raw requests and unmodified LangChain4j Ollama and OpenAI embedding clients; chat and embedding
 * requests sent to the wrong kind of model, and bad fields, get a 400 naming the problem.
 */
class EmbeddingApiTest {
    static final String EMB = "embgemma-tiny-Q8_0";
    /** Case 0 of fixtures/embedding (short/none) and its reference vector for this file. */
    static final String TEXT = "A lighthouse keeper counts the ships that pass at dawn.";
    @TempDir
    static Path home;
    static JemmaServer server;
    static float[] ref;

    @BeforeAll
    static void start() throws IOException, URISyntaxException {
        Path emb = Fixtures.coreResource("embedding/embgemma-tiny/" + EMB + ".gguf");
        byte[] b = Files.readAllBytes(Fixtures.coreResource("embedding/embgemma-tiny/" + EMB + ".embeddings.f32"));
        ref = new float[64];
        ByteBuffer.wrap(b, 0, 256).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(ref);
        var c = JemmaServer.Config.defaults().withPort(0).withModels(List.of(TestServers.tinyModel().toString(), emb.toString()))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(30));
        server = TestServers.start(c, home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    static void assertReference(JsonNode v) {
        assertThat(v).hasSize(64);
        for (int i = 0; i < 64; i++) assertThat(Math.abs(v.get(i).floatValue() - ref[i])).as("component " + i).isLessThanOrEqualTo(1e-4f);
    }

    @Test
    void ollamaEmbed() {
        var r = TestServers.post(server, "/api/embed", "{\"model\":\"" + EMB + "\",\"input\":[\"" + TEXT + "\",\"other text\"]}");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonNode j = r.json();
        assertThat(j.get("model").asText()).isEqualTo(EMB);
        assertThat(j.get("embeddings")).hasSize(2);
        assertReference(j.get("embeddings").get(0));
        assertThat(j.get("prompt_eval_count").asInt()).isPositive();

        var one = TestServers.post(server, "/api/embed", "{\"model\":\"" + EMB + "\",\"input\":\"" + TEXT + "\",\"dimensions\":16}");
        assertThat(one.status()).as(one.body()).isEqualTo(200);
        JsonNode v = one.json().get("embeddings").get(0);
        assertThat(v).hasSize(16);
        double n = 0;
        for (JsonNode x : v) n += x.asDouble() * x.asDouble();
        assertThat(n).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));

        var legacy = TestServers.post(server, "/api/embeddings", "{\"model\":\"" + EMB + "\",\"prompt\":\"" + TEXT + "\"}");
        assertThat(legacy.status()).as(legacy.body()).isEqualTo(200);
        assertReference(legacy.json().get("embedding"));

        var show = TestServers.post(server, "/api/show", "{\"model\":\"" + EMB + "\"}");
        assertThat(show.json().get("capabilities").get(0).asText()).isEqualTo("embedding");
    }

    @Test
    void openAiEmbeddings() {
        var r = TestServers.post(server, "/v1/embeddings", "{\"model\":\"" + EMB + "\",\"input\":\"" + TEXT + "\"}");
        assertThat(r.status()).as(r.body()).isEqualTo(200);
        JsonNode j = r.json();
        assertThat(j.get("object").asText()).isEqualTo("list");
        assertReference(j.get("data").get(0).get("embedding"));
        assertThat(j.get("usage").get("prompt_tokens").asInt()).isEqualTo(26);

        var b64 = TestServers.post(server, "/v1/embeddings", "{\"model\":\"" + EMB + "\",\"input\":[\"" + TEXT + "\"],\"encoding_format\":\"base64\"}");
        assertThat(b64.status()).as(b64.body()).isEqualTo(200);
        byte[] raw = Base64.getDecoder().decode(b64.json().get("data").get(0).get("embedding").asText());
        float[] v = new float[raw.length / 4];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        assertThat(v).hasSize(64);
        for (int i = 0; i < 64; i++) assertThat(Math.abs(v[i] - ref[i])).isLessThanOrEqualTo(1e-4f);

        // token ids as given: the fixture's ids of case 0
        String ids = "[2,945,306,407,925,880,916,388,917,486,275,622,923,266,404,512,923,331,284,560,361,296,919,590,938,1]";
        var byIds = TestServers.post(server, "/v1/embeddings", "{\"model\":\"" + EMB + "\",\"input\":[" + ids + "]}");
        assertThat(byIds.status()).as(byIds.body()).isEqualTo(200);
        assertReference(byIds.json().get("data").get(0).get("embedding"));
    }

    @Test
    void langChain4jEmbeddingClients() {
        EmbeddingModel ollama = OllamaEmbeddingModel.builder().baseUrl(server.uri().toString()).modelName(EMB)
                .timeout(Duration.ofSeconds(60)).build();
        EmbeddingModel openai = OpenAiEmbeddingModel.builder().baseUrl(server.uri() + "/v1").apiKey("unused").modelName(EMB)
                .timeout(Duration.ofSeconds(60)).build();
        for (EmbeddingModel m : List.of(ollama, openai)) {
            List<Embedding> es = m.embedAll(List.of(TextSegment.from(TEXT), TextSegment.from("another"))).content();
            assertThat(es).hasSize(2);
            float[] v = es.get(0).vector();
            assertThat(v).hasSize(64);
            for (int i = 0; i < 64; i++) assertThat(Math.abs(v[i] - ref[i])).as(m.getClass().getSimpleName()).isLessThanOrEqualTo(1e-4f);
        }
    }

    @Test
    void wrongKindOfModelAndBadFieldsAre400s() {
        String chat = TestServers.MODEL;
        String longText = "lighthouse ".repeat(3000);
        Object[][] cases = {
                {"/api/embed", "{\"model\":\"" + chat + "\",\"input\":\"hi\"}", "chat model"},
                {"/v1/embeddings", "{\"model\":\"" + chat + "\",\"input\":\"hi\"}", "chat model"},
                {"/api/chat", "{\"model\":\"" + EMB + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":false}", "embedding model"},
                {"/v1/chat/completions", "{\"model\":\"" + EMB + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "embedding model"},
                {"/api/embed", "{\"model\":\"" + EMB + "\",\"input\":\"hi\",\"dimensions\":65}", "exceeds the model's 64"},
                {"/api/embed", "{\"model\":\"" + EMB + "\",\"input\":\"hi\",\"bogus\":1}", "'bogus'"},
                {"/api/embed", "{\"model\":\"" + EMB + "\",\"input\":\"hi\",\"options\":{\"temperature\":0}}", "options.temperature"},
                {"/api/embed", "{\"model\":\"" + EMB + "\",\"input\":[1,2]}", "'input'"},
                {"/api/embed", "{\"model\":\"" + EMB + "\",\"input\":\"" + longText + "\",\"truncate\":false}", "more than the model's limit"},
                {"/v1/embeddings", "{\"model\":\"" + EMB + "\",\"input\":\"hi\",\"encoding_format\":\"hex\"}", "encoding_format"},
                {"/v1/embeddings", "{\"model\":\"" + EMB + "\",\"input\":[[2,99999]]}", "out of range"},
        };
        for (Object[] c : cases) {
            var r = TestServers.post(server, (String) c[0], (String) c[1]);
            assertThat(r.status()).as(c[0] + " " + r.body()).isEqualTo(400);
            assertThat(r.json().get("error").toString()).as(c[0] + " " + r.body()).contains((String) c[2]);
        }
        var cut = TestServers.post(server, "/api/embed", "{\"model\":\"" + EMB + "\",\"input\":\"" + longText + "\"}");
        assertThat(cut.status()).as(cut.body()).isEqualTo(200);
        assertThat(cut.json().get("prompt_eval_count").asInt()).isEqualTo(2048);
    }
}
