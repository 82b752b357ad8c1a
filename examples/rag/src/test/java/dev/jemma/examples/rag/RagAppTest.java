package dev.jemma.examples.rag;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.langchain4j.JemmaEmbeddingModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The document Q&amp;A example on a fresh clone, offline: the shipped demo models index examples/rag/docs, retrieve the
 * right file for the example questions (recall@3 as docs/EMBEDDINGS.md states it), and answer citing the sources.
 */
class RagAppTest {
    /** docs/EMBEDDINGS.md states the demo model's recall@3 on questions.json (36/40); the test allows one question less. */
    static final double MIN_RECALL_AT_3 = 0.875;
    static final Path ROOT = Path.of("../..").toAbsolutePath().normalize();
    static final Path EMBED = ROOT.resolve("models/jemma-embed-demo.gguf"), CHAT = ROOT.resolve("models/jemma-demo.gguf");
    static final Path DOCS = ROOT.resolve("examples/rag/docs");

    @TempDir
    static Path dir;
    static Path store;
    static JemmaEmbeddingModel embeddings;

    @BeforeAll
    static void index() {
        store = dir.resolve("index.json");
        embeddings = JemmaEmbeddingModel.builder().modelPath(EMBED).threads(2).build();
        DocumentIndex.build(DOCS, embeddings, EMBED.getFileName().toString()).save(store);
    }

    @AfterAll
    static void close() {
        if (embeddings != null) embeddings.close();
    }

    @Test
    void retrievesTheRightFileForTheExampleQuestions() throws IOException {
        DocumentIndex index = DocumentIndex.open(store);
        assertThat(index.manifest().files()).hasSize((int) Files.list(DOCS).count());
        JsonNode qs = new ObjectMapper().readTree(ROOT.resolve("examples/rag/questions.json").toFile());
        int hits = 0;
        for (JsonNode q : qs) {
            List<Rag.Source> top = Rag.retrieve(index, embeddings, q.get("question").asText(), 3);
            assertThat(top).hasSize(3);
            if (top.stream().anyMatch(s -> s.file().equals(q.get("source").asText()))) hits++;
        }
        double recall = (double) hits / qs.size();
        System.out.printf("recall@3 = %d/%d = %.3f%n", hits, qs.size(), recall);
        assertThat(recall).isGreaterThanOrEqualTo(MIN_RECALL_AT_3);
    }

    @Test
    void answersCitingTheSourceFile() throws IOException {
        JsonNode q = new ObjectMapper().readTree(ROOT.resolve("examples/rag/questions.json").toFile()).get(0);
        String[] out = run("ask", q.get("question").asText(), "--store", store.toString(), "--embed-model", EMBED.toString(),
                "--model", CHAT.toString(), "-n", "24", "-t", "2");
        assertThat(out[2]).as(out[1]).isEqualTo("0");
        String text = out[0];
        String answer = text.substring(0, text.indexOf("Sources:")).strip();
        assertThat(answer).isNotEmpty();
        assertThat(text.substring(text.indexOf("Sources:"))).contains("[1] ").contains(q.get("source").asText());
    }

    @Test
    void badInputGetsOneLine() {
        for (String[] args : new String[][]{
                {"index", dir.resolve("missing").toString(), "--embed-model", EMBED.toString()},
                {"ask", "q", "--store", dir.resolve("none.json").toString()},
                {"index", DOCS.toString(), "--embed-model", dir.resolve("nope.gguf").toString()}}) {
            String[] out = run(args);
            assertThat(out[2]).isEqualTo("1");
            assertThat(out[1].lines().filter(l -> !l.isBlank()).toList()).as(out[1]).hasSize(1);
            assertThat(out[1]).startsWith("rag: ").doesNotContain("Exception");
        }
    }

    /** stdout, stderr, exit code. */
    private static synchronized String[] run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int rc = RagApp.run(args);
            return new String[]{out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8), String.valueOf(rc)};
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
