package dev.jemma.core.engine;

/** Receives tokens as they are generated, on the generating thread. Keep it quick; throwing aborts the generation. */
@FunctionalInterface
public interface TokenListener {
    void onToken(Token token);

    /** A listener that ignores everything. */
    TokenListener NONE = t -> {
    };
}
