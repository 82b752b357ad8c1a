package dev.jemma.core.store;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The one place that maps Ollama-style short names to Hugging Face GGUF repositories.
 *
 * <table>
 *   <caption>Short names</caption>
 *   <tr><th>short name</th><th>repository</th><th>file picked</th></tr>
 *   <tr><td>gemma3:270m</td><td>google/gemma-3-270m-it-qat-q4_0-gguf</td><td>the Q4_0 file (QAT)</td></tr>
 *   <tr><td>gemma3:1b</td><td>google/gemma-3-1b-it-qat-q4_0-gguf</td><td>the Q4_0 file (QAT)</td></tr>
 *   <tr><td>gemma3:4b (also gemma3)</td><td>google/gemma-3-4b-it-qat-q4_0-gguf</td><td>the Q4_0 file (QAT)</td></tr>
 *   <tr><td>gemma3:12b</td><td>google/gemma-3-12b-it-qat-q4_0-gguf</td><td>the Q4_0 file (QAT)</td></tr>
 *   <tr><td>gemma3:27b</td><td>google/gemma-3-27b-it-qat-q4_0-gguf</td><td>the Q4_0 file (QAT)</td></tr>
 *   <tr><td>gemma3n:e2b (also gemma3n)</td><td>unsloth/gemma-3n-E2B-it-GGUF</td><td>Q4_K_M (as Ollama's gemma3n)</td></tr>
 *   <tr><td>gemma3n:e4b</td><td>unsloth/gemma-3n-E4B-it-GGUF</td><td>Q4_K_M</td></tr>
 * </table>
 *
 * <p>Google's repositories are gated: accept the Gemma license on the repository's page and set {@code HF_TOKEN}.
 * Any other repository is reachable as {@code hf.co/ORG/REPO[:QUANT]}, e.g.
 * {@code hf.co/unsloth/gemma-3n-E2B-it-GGUF:Q8_0}.
 */
public final class ModelCatalog {
    /** A short name's target: repository and quantization tag (matched against file names). */
    public record Entry(String shortName, String repo, String quant) {
    }

    private static final Map<String, Entry> ENTRIES = new LinkedHashMap<>();
    private static final Map<String, String> DEFAULT_TAGS = Map.of("gemma3", "4b", "gemma3n", "e2b");

    static {
        for (String size : new String[]{"270m", "1b", "4b", "12b", "27b"}) {
            add("gemma3:" + size, "google/gemma-3-" + size + "-it-qat-q4_0-gguf", "Q4_0");
        }
        add("gemma3n:e2b", "unsloth/gemma-3n-E2B-it-GGUF", "Q4_K_M");
        add("gemma3n:e4b", "unsloth/gemma-3n-E4B-it-GGUF", "Q4_K_M");
    }

    private ModelCatalog() {
    }

    private static void add(String name, String repo, String quant) {
        ENTRIES.put(name, new Entry(name, repo, quant));
    }

    /** Looks up a short name ({@code gemma3:4b}, or {@code gemma3} for its default size); case-insensitive. */
    public static Optional<Entry> lookup(String name) {
        String n = name.toLowerCase(java.util.Locale.ROOT);
        if (n.endsWith(":latest")) n = n.substring(0, n.length() - ":latest".length());
        if (!n.contains(":") && DEFAULT_TAGS.containsKey(n)) n = n + ":" + DEFAULT_TAGS.get(n);
        return Optional.ofNullable(ENTRIES.get(n));
    }

    /** All short names, in table order. */
    public static Iterable<Entry> entries() {
        return ENTRIES.values();
    }
}
