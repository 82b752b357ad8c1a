package dev.jemma.core.gguf;

import dev.jemma.core.JemmaException;

/** A GGUF file that cannot be read: truncated, malformed, or inconsistent. */
public final class GgufFormatException extends JemmaException {
    public GgufFormatException(String message) {
        super(message);
    }
}
