package dev.jemma.cli;

import dev.jemma.core.JemmaException;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Checks an output path before a command does its work: a quantization or a perplexity run that ends in "cannot
 * write" has wasted the user's minutes, and the writer's own failure names its temporary {@code .part} file.
 */
final class OutputFile {
    private OutputFile() {
    }

    /** Refuses a directory, or a file in a directory that does not exist, naming {@code flag} (how the user gave it). */
    static void check(Path out, String flag) {
        if (Files.isDirectory(out)) throw new JemmaException(out + ": is a directory; " + flag + " names the output file");
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null && !Files.isDirectory(parent)) {
            throw new JemmaException(out + ": cannot write: directory " + parent + " does not exist");
        }
    }
}
