package dev.jemma.core.constrain;

import dev.jemma.core.JemmaException;

/**
 * A grammar or JSON Schema that cannot be used: malformed GBNF (the message names the rule and the line and column),
 * or a schema keyword this engine cannot enforce (the message names the keyword; {@link #keyword()} returns it so an
 * HTTP server can answer 400 naming it). One line, meant to be shown as is.
 */
public final class GrammarException extends JemmaException {
    private final String keyword;

    public GrammarException(String message) {
        this(message, null);
    }

    public GrammarException(String message, String keyword) {
        super(message);
        this.keyword = keyword;
    }

    /** The JSON Schema keyword that could not be enforced, or null for a GBNF error. */
    public String keyword() {
        return keyword;
    }
}
