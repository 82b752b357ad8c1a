package dev.jemma.examples.rag;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.langchain4j.JemmaEmbeddingModel;
import dev.langchain4j.data.document.Document;
import dev.langchain4j.data.document.DocumentSplitter;
import dev.langchain4j.data.document.Metadata;
import dev.langchain4j.data.document.splitter.DocumentSplitters;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.store.embedding.EmbeddingMatch;
import dev.langchain4j.store.embedding.EmbeddingSearchRequest;
import dev.langchain4j.store.embedding.inmemory.InMemoryEmbeddingStore;
import org.apache.pdfbox.Loader;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.text.PDFTextStripper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * The retrieval half of document Q&amp;A, on public APIs only: documents (Markdown, text, PDF) are split into
 * overlapping chunks, embedded with an embedding model's {@code document} prompt and kept in LangChain4j's
 * {@link InMemoryEmbeddingStore}, persisted to a JSON file (plus a small manifest naming the embedding model, so a
 * question is never embedded with another model than its index). Questions are embedded with the {@code query} prompt.
 */
public final class DocumentIndex {
    /** Chunk size and overlap in characters (~100–150 tokens of English per chunk). */
    static final int CHUNK_CHARS = 600, OVERLAP_CHARS = 100;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final InMemoryEmbeddingStore<TextSegment> store;
    private final Manifest manifest;

    /** What an index was built from and with. */
    public record Manifest(String embeddingModel, int dimension, List<String> files, int chunks) {
    }

    private DocumentIndex(InMemoryEmbeddingStore<TextSegment> store, Manifest manifest) {
        this.store = store;
        this.manifest = manifest;
    }

    public Manifest manifest() {
        return manifest;
    }

    /** The .md, .markdown, .txt and .pdf files under {@code dir}, each a document whose {@code source} is its relative path. */
    public static List<Document> load(Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(dir + ": not a directory");
        List<Document> docs = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).sorted().toList()) {
                String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
                String text;
                if (name.endsWith(".md") || name.endsWith(".markdown") || name.endsWith(".txt")) {
                    text = Files.readString(p, StandardCharsets.UTF_8);
                } else if (name.endsWith(".pdf")) {
                    text = pdfText(p);
                } else {
                    continue;
                }
                if (text.isBlank()) continue;
                docs.add(Document.from(text, Metadata.from("source", dir.relativize(p).toString().replace('\\', '/'))));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (docs.isEmpty()) throw new IllegalArgumentException(dir + ": no .md, .txt or .pdf documents");
        return docs;
    }

    private static String pdfText(Path p) throws IOException {
        try (PDDocument pdf = Loader.loadPDF(p.toFile())) {
            return new PDFTextStripper().getText(pdf);
        } catch (IOException e) {
            throw new IOException(p + ": not a readable PDF (" + e.getMessage() + ")", e);
        }
    }

    /** Splits, embeds (document prompt) and stores every document of {@code dir}. */
    public static DocumentIndex build(Path dir, JemmaEmbeddingModel documentModel, String modelName) {
        List<Document> docs = load(dir);
        DocumentSplitter splitter = DocumentSplitters.recursive(CHUNK_CHARS, OVERLAP_CHARS);
        List<TextSegment> segments = new ArrayList<>();
        List<String> files = new ArrayList<>();
        for (Document d : docs) {
            files.add(d.metadata().getString("source"));
            segments.addAll(splitter.split(d));
        }
        List<Embedding> embeddings = documentModel.withPrompt("document").embedAll(segments).content();
        InMemoryEmbeddingStore<TextSegment> store = new InMemoryEmbeddingStore<>();
        store.addAll(embeddings, segments);
        return new DocumentIndex(store, new Manifest(modelName, documentModel.dimension(), files, segments.size()));
    }

    /** Writes the store and its manifest next to each other, each atomically. */
    public void save(Path storeFile) {
        try {
            Path tmp = storeFile.toAbsolutePath().resolveSibling(storeFile.getFileName() + ".tmp");
            store.serializeToFile(tmp);
            Files.move(tmp, storeFile, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Path m = manifestFile(storeFile), mtmp = m.resolveSibling(m.getFileName() + ".tmp");
            JSON.writerWithDefaultPrettyPrinter().writeValue(mtmp.toFile(), manifest);
            Files.move(mtmp, m, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static DocumentIndex open(Path storeFile) {
        if (!Files.isRegularFile(storeFile)) throw new IllegalArgumentException(storeFile + ": no index here (run `index DIR` first)");
        try {
            Manifest m = JSON.readValue(manifestFile(storeFile).toFile(), Manifest.class);
            return new DocumentIndex(InMemoryEmbeddingStore.fromFile(storeFile), m);
        } catch (IOException e) {
            throw new IllegalArgumentException(storeFile + ": not a readable index (" + e.getMessage() + ")");
        }
    }

    static Path manifestFile(Path storeFile) {
        return storeFile.toAbsolutePath().resolveSibling(storeFile.getFileName() + ".manifest.json");
    }

    /** The {@code k} chunks most similar to the question (embedded with the query prompt), best first. */
    public List<EmbeddingMatch<TextSegment>> search(String question, JemmaEmbeddingModel model, int k) {
        if (model.dimension() != manifest.dimension()) {
            throw new IllegalArgumentException("the index was built with " + manifest.embeddingModel() + " (" + manifest.dimension()
                    + " dimensions); this embedding model has " + model.dimension());
        }
        Embedding q = model.withPrompt("query").embed(question).content();
        return store.search(EmbeddingSearchRequest.builder().queryEmbedding(q).maxResults(k).build()).matches();
    }
}
