package dev.jemma.cli;

import dev.jemma.core.JemmaException;

import java.nio.file.Files;
import java.nio.file.Path;

/** Resolves the MODEL argument: a .gguf path or (later) a name in the local store. */
final class ModelPaths {
    private ModelPaths() {
    }

    static Path resolve(String model) {
        Path p = Path.of(model);
        if (Files.isRegularFile(p)) return p;
        if (Files.isDirectory(p)) throw new JemmaException(model + ": is a directory, not a GGUF file");
        throw new JemmaException(model + ": no such model file or model name");
    }
}
