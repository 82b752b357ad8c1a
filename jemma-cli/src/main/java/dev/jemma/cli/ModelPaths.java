package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.store.ModelRef;
import dev.jemma.core.store.ModelStore;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Resolves the MODEL argument, the single entry point every command uses: an existing .gguf path first, then a
 * name in the local store ({@code gemma3:4b}, {@code hf.co/ORG/REPO:QUANT}; see {@link ModelStore}).
 */
final class ModelPaths {
    private ModelPaths() {
    }

    static Path resolve(String model) {
        Path p;
        try {
            p = Path.of(model);
        } catch (java.nio.file.InvalidPathException e) {
            p = null;
        }
        if (p != null && Files.isRegularFile(p)) return p;
        if (p != null && Files.isDirectory(p)) throw new JemmaException(model + ": is a directory, not a GGUF file");
        if (ModelRef.isValid(model)) return ModelStore.open().resolve(model);
        throw new JemmaException(model + ": no such model file or model name (a .gguf path, a short name such as "
                + "gemma3:1b, or hf.co/ORG/REPO[:QUANT]; see jemma list)");
    }

    /**
     * Where the bundled demo model lives, relative to the installation ({@code jemma.home.dir}, set by the launcher)
     * or else the working directory. The one place to change when the demo model moves.
     */
    static final String DEMO_MODEL = "models/jemma-demo.gguf";

    /**
     * Default -n for the demo model's --raw continuations when none is given: a chat answer ends with its end of turn,
     * but plain KJV text goes on to the end of its chapter (BOS), often hundreds of tokens later.
     */
    static final int DEMO_MAX_TOKENS = 120;

    /** The demo model used when {@code jemma run} gets no MODEL; a clear error when it is not installed. */
    static Path demoModel() {
        String home = System.getProperty("jemma.home.dir");
        Path p = (home != null ? Path.of(home) : Path.of("")).resolve(DEMO_MODEL).toAbsolutePath().normalize();
        if (!Files.isRegularFile(p)) {
            throw new JemmaException("no MODEL given and the bundled demo model is missing (" + p + "); pass a .gguf file or a model name");
        }
        return p;
    }

    /** True when {@code s} names an existing file or a model in the store (used to tell a model from a prompt). */
    static boolean isModel(String s) {
        try {
            resolve(s);
            return true;
        } catch (JemmaException e) {
            return false;
        }
    }
}
