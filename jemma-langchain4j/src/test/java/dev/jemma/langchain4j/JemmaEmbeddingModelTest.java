package dev.jemma.langchain4j;

import dev.jemma.core.testing.Fixtures;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.output.Response;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The in-process LangChain4j embedding model against the tiny EmbeddingGemma fixture's sentence-transformers vectors. */
class JemmaEmbeddingModelTest {
    static final String TEXT = "A lighthouse keeper counts the ships that pass at dawn.";

    static Path model() {
        return Fixtures.coreResource("embedding/embgemma-tiny/embgemma-tiny-Q8_0.gguf");
    }

    /** Row r of the fixture's reference embeddings (row 0: short/none, 1: short/query, 2: short/document). */
    static float[] ref(int row) throws Exception {
        byte[] b = Files.readAllBytes(Fixtures.coreResource("embedding/embgemma-tiny/embgemma-tiny-Q8_0.embeddings.f32"));
        float[] v = new float[64];
        ByteBuffer.wrap(b, row * 256, 256).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }

    @Test
    void embedsLikeSentenceTransformersWithPromptViews() throws Exception {
        try (JemmaEmbeddingModel plain = JemmaEmbeddingModel.builder().modelPath(model()).threads(2).build()) {
            EmbeddingModel query = plain.withPrompt("query"), document = plain.withPrompt("document");
            assertThat(plain.dimension()).isEqualTo(64);
            Response<List<Embedding>> r = plain.embedAll(List.of(TextSegment.from(TEXT), TextSegment.from("x")));
            assertThat(r.content()).hasSize(2);
            assertThat(r.tokenUsage().inputTokenCount()).isPositive();
            float[][] got = {r.content().get(0).vector(), query.embed(TEXT).content().vector(), document.embed(TEXT).content().vector()};
            for (int row = 0; row < 3; row++) {
                float[] want = ref(row);
                for (int i = 0; i < 64; i++) assertThat(Math.abs(got[row][i] - want[i])).as("row %d [%d]", row, i).isLessThanOrEqualTo(1e-4f);
            }
        }
    }

    @Test
    void matryoshkaAndRefusals() throws Exception {
        try (JemmaEmbeddingModel m = JemmaEmbeddingModel.builder().modelPath(model()).dimensions(16).prompt("query").build()) {
            float[] v = m.embed(TEXT).content().vector();
            assertThat(v).hasSize(16);
            assertThat(m.dimension()).isEqualTo(16);
            double n = 0;
            for (float x : v) n += x * x;
            assertThat(n).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
            assertThatThrownBy(() -> m.withPrompt("nonsense")).hasMessageContaining("unknown prompt 'nonsense'");
        }
        assertThatThrownBy(() -> JemmaEmbeddingModel.builder().modelPath(model()).dimensions(100).build())
                .hasMessageContaining("dimensions 100");
    }
}
