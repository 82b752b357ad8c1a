package dev.jemma.core.store;

import java.nio.file.Path;
import java.time.Instant;

/**
 * A model in the local store.
 *
 * @param name      canonical name ({@code gemma3:4b}, {@code hf.co/ORG/REPO:TAG})
 * @param repo      the hub repository it came from
 * @param file      the file's path inside that repository
 * @param sha256    hex sha256 of the content (verified when pulled)
 * @param size      bytes
 * @param path      the GGUF blob on disk
 * @param pulledAt  when the pull finished
 * @param projector the multimodal projector (llama.cpp's mmproj GGUF) pulled with it, or null when the repository has none
 */
public record StoredModel(String name, String repo, String file, String sha256, long size, Path path, Instant pulledAt,
                          Projector projector) {
    /** Ollama-style digest string. */
    public String digest() {
        return "sha256:" + sha256;
    }

    /** An mmproj file stored beside a model: its path in the repository, hex sha256, bytes, and blob on disk. */
    public record Projector(String file, String sha256, long size, Path path) {
    }
}
