package dev.jemma.core.embed;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The task prompts EmbeddingGemma was trained with (its {@code config_sentence_transformers.json}): a prefix put before
 * the text, which is then tokenised as a whole. {@code query} and {@code document} are the two a retrieval app uses.
 */
public final class TaskPrompts {
    private static final Map<String, String> PROMPTS = new LinkedHashMap<>();

    static {
        PROMPTS.put("query", "task: search result | query: ");
        PROMPTS.put("document", "title: none | text: ");
        PROMPTS.put("BitextMining", "task: search result | query: ");
        PROMPTS.put("Clustering", "task: clustering | query: ");
        PROMPTS.put("Classification", "task: classification | query: ");
        PROMPTS.put("InstructionRetrieval", "task: code retrieval | query: ");
        PROMPTS.put("MultilabelClassification", "task: classification | query: ");
        PROMPTS.put("PairClassification", "task: sentence similarity | query: ");
        PROMPTS.put("Reranking", "task: search result | query: ");
        PROMPTS.put("Retrieval", "task: search result | query: ");
        PROMPTS.put("Retrieval-query", "task: search result | query: ");
        PROMPTS.put("Retrieval-document", "title: none | text: ");
        PROMPTS.put("STS", "task: sentence similarity | query: ");
        PROMPTS.put("Summarization", "task: summarization | query: ");
    }

    private TaskPrompts() {
    }

    /** Every named prompt, name → prefix, in EmbeddingGemma's order. */
    public static Map<String, String> all() {
        return Collections.unmodifiableMap(PROMPTS);
    }

    /** The prefix of the prompt called {@code name} (case-insensitive); a clear error naming the known ones otherwise. */
    public static String prefix(String name) {
        if (name == null || name.isEmpty() || name.equalsIgnoreCase("none")) return "";
        for (var e : PROMPTS.entrySet()) if (e.getKey().toLowerCase(Locale.ROOT).equals(name.toLowerCase(Locale.ROOT))) return e.getValue();
        throw new IllegalArgumentException("unknown prompt '" + name + "' (known: none, " + String.join(", ", PROMPTS.keySet()) + ")");
    }

    /**
     * A document prompt with its title, as EmbeddingGemma's model card recommends when a document has one:
     * {@code title: {title} | text: }.
     */
    public static String document(String title) {
        return "title: " + (title == null || title.isBlank() ? "none" : title) + " | text: ";
    }
}
