package dev.jemma.core.embed;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.JemmaException;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The public embedding API: tokenization with task prompts and EOS, Matryoshka, truncation, refusals. */
class EmbedderTest {
    private static JsonNode manifest;
    private static Path bundled;

    @BeforeAll
    static void read() throws Exception {
        bundled = Path.of(EmbedderTest.class.getResource("/embedding/manifest-lite.json").toURI()).getParent();
        manifest = new ObjectMapper().readTree(bundled.resolve("manifest-lite.json").toFile());
    }

    private static Path model(String name, String type) {
        Path root = name.equals("embgemma-tiny") ? bundled : Fixtures.shared().resolve("embedding");
        return root.resolve(name + "/" + name + "-" + type + ".gguf");
    }

    private static EngineOptions exact() {
        return EngineOptions.builder().threads(2).exact(true).build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"embgemma-tiny", "embgemma-realvocab"})
    void tokenizesEveryCaseAsSentenceTransformers(String name) {
        try (Embedder e = Embedder.load(model(name, "Q8_0"), exact())) {
            for (JsonNode c : manifest.get("models").get(name).get("cases")) {
                String prompt = c.get("prompt").asText(), input = c.get("input").asText();
                String text = input.substring(prompt.length());
                String mode = c.get("mode").asText();
                int[] want = Fixtures.ints(c.get("ids"));
                assertThat(e.tokenize(text, mode)).as(c.get("id").asText()).containsExactly(want);
                assertThat(e.tokenize(input, null)).as(c.get("id").asText() + " (prompt inline)").containsExactly(want);
            }
        }
    }

    @Test
    void embedsTextsWithPromptsAndMatryoshkaLikeTheReference() {
        JsonNode m = manifest.get("models").get("embgemma-tiny");
        float[] ref = Fixtures.readF32(bundled.resolve("embgemma-tiny/embgemma-tiny-F32.embeddings.f32"));
        float[] ref16 = Fixtures.readF32(bundled.resolve("embgemma-tiny/embgemma-tiny-F32.mrl16.f32"));
        List<String> texts = new ArrayList<>();
        List<Integer> rows = new ArrayList<>();
        for (JsonNode c : m.get("cases")) {
            if (!c.get("mode").asText().equals("query")) continue;
            texts.add(c.get("input").asText().substring(c.get("prompt").asText().length()));
            rows.add(c.get("index").asInt());
        }
        try (Embedder e = Embedder.load(model("embgemma-tiny", "F32"), exact())) {
            assertThat(e.isEmbeddingModel()).isTrue();
            assertThat(e.dimension()).isEqualTo(64);
            assertThat(e.pooling()).isEqualTo("mean");
            Embeddings full = e.embed(new EmbedRequest(texts, "query", 0, true));
            Embeddings small = e.embed(new EmbedRequest(texts, "query", 16, true));
            for (int i = 0; i < texts.size(); i++) {
                int r = rows.get(i);
                float[] want = java.util.Arrays.copyOfRange(ref, r * 64, r * 64 + 64);
                float[] want16 = java.util.Arrays.copyOfRange(ref16, r * 16, r * 16 + 16);
                assertThat(full.vectors().get(i)).containsExactly(want, org.assertj.core.data.Offset.offset(1e-5f));
                assertThat(small.vectors().get(i)).containsExactly(want16, org.assertj.core.data.Offset.offset(1e-5f));
                assertThat(full.tokenCounts()[i]).isEqualTo(m.get("cases").get(r).get("ids").size());
            }
            assertThat(Embeddings.cosine(full.vectors().get(0), full.vectors().get(0))).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-6f));
        }
    }

    /** {@link Embedder#warmUp} runs its rounds within the limit and changes no result (beyond rounding), even with short texts. */
    @Test
    void aWarmUpChangesNoResult() {
        String text = "The old library by the river opened every morning at eight.";
        float[] cold;
        try (Embedder e = Embedder.load(model("embgemma-tiny", "Q8_0"), exact())) {
            cold = e.embed(text);
        }
        try (Embedder e = Embedder.load(model("embgemma-tiny", "Q8_0"), exact())) {
            assertThat(e.warmUp()).as("rounds").isBetween(1, Embedder.WARM_UP_ROUNDS);
            // bit for bit: the warmed-up (C2-compiled) kernels sum in the order the cold ones do (det27)
            dev.jemma.core.testing.SameBits.assertSameBits(e.embed(text), cold, "warm against cold");
        }
        try (Embedder e = Embedder.load(model("embgemma-tiny", "Q8_0"), EngineOptions.builder().threads(2).exact(true).contextLength(8).build())) {
            assertThat(e.warmUp()).as("rounds, texts of at most 8 tokens").isBetween(1, Embedder.WARM_UP_ROUNDS);
        }
    }

    @Test
    void truncatesOrRefusesOverLongTexts() {
        EngineOptions opts = EngineOptions.builder().threads(2).exact(true).contextLength(8).build();
        try (Embedder e = Embedder.load(model("embgemma-tiny", "Q8_0"), opts)) {
            assertThat(e.maxTokens()).isEqualTo(8);
            String longText = "The old library by the river opened every morning at eight.";
            Embeddings r = e.embed(EmbedRequest.of(longText));
            assertThat(r.tokenCounts()[0]).isEqualTo(8);
            assertThat(r.truncated()[0]).isTrue();
            // the cut keeps the start and the end-of-text token
            int[] ids = e.tokenize(longText, null);
            int[] kept = java.util.Arrays.copyOf(ids, 8);
            kept[7] = e.tokenizer().eosId();
            float[] direct = e.embedIds(List.of(kept))[0];
            assertThat(r.vectors().get(0)).containsExactly(direct, org.assertj.core.data.Offset.offset(1e-6f));
            assertThatThrownBy(() -> e.embed(EmbedRequest.of(longText).withTruncate(false)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokens, more than the model's limit of 8");
            assertThatThrownBy(() -> e.embed(EmbedRequest.of("x").withDimensions(65)))
                    .hasMessageContaining("dimensions 65 exceeds the model's 64");
            assertThatThrownBy(() -> e.embed(EmbedRequest.of("x").withPrompt("qurey")))
                    .hasMessageContaining("unknown prompt 'qurey'");
        }
    }

    @Test
    void aChatModelGivesPooledNormalisedStates() {
        Path chat = Fixtures.demoModel();
        try (Embedder e = Embedder.load(chat, EngineOptions.builder().threads(2).build(), "last")) {
            assertThat(e.isEmbeddingModel()).isFalse();
            assertThat(e.pooling()).isEqualTo("last");
            float[] a = e.embed("In the beginning God created the heaven and the earth.");
            float[] b = e.embed("And God said, Let there be light: and there was light.");
            double n = 0;
            for (float x : a) n += x * x;
            assertThat(n).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
            assertThat(Embeddings.cosine(a, b)).isLessThan(0.9999f);
        }
    }

    @Test
    void refusesAFileThatIsNotAModel() throws IOException {
        Path bad = java.nio.file.Files.createTempFile("notamodel", ".gguf");
        java.nio.file.Files.writeString(bad, "hello");
        try {
            assertThatThrownBy(() -> Embedder.load(bad)).isInstanceOf(JemmaException.class).hasMessageContaining(bad.getFileName().toString());
        } finally {
            java.nio.file.Files.delete(bad);
        }
    }
}
