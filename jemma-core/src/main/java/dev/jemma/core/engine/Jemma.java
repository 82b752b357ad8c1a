package dev.jemma.core.engine;

import java.nio.file.Path;

/**
 * Shortest way in: {@code Jemma.load(path)} is {@link Engine#load(Path)}.
 * <pre>{@code
 * try (Engine gemma = Jemma.load(Path.of("model.gguf"))) {
 *     System.out.println(gemma.generate("Write a haiku about Java."));
 * }
 * }</pre>
 */
public final class Jemma {
    private Jemma() {
    }

    public static Engine load(Path model) {
        return Engine.load(model);
    }

    public static Engine load(Path model, EngineOptions options) {
        return Engine.load(model, options);
    }
}
