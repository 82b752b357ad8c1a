package dev.jemma.core.constrain;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * JSON mode ({@code "format": "json"}, {@code response_format: json_object}): the answer is one JSON object, as with
 * llama.cpp's json grammar and Ollama. It is one {@link Grammar} ({@code json.gbnf} beside this class) run by a
 * {@link GrammarConstraint} like any other; the turn can only end once the object is complete.
 */
public final class JsonConstraint {
    private static final Grammar OBJECT = Grammar.parse(resource("json.gbnf"));

    private JsonConstraint() {
    }

    /** The grammar of one JSON object (optional whitespace around it). */
    public static Grammar grammar() {
        return OBJECT;
    }

    /** A fresh JSON-mode constraint for one generation. */
    public static GrammarConstraint newConstraint(GrammarVocabulary vocab) {
        return new GrammarConstraint(OBJECT, vocab);
    }

    /** Checks a whole text (tests use it): -1 if it is a valid prefix of a JSON object, else the bad byte offset. */
    public static int firstError(String text) {
        return GrammarMatcher.firstError(OBJECT, text);
    }

    /** Whether a whole text is one complete JSON object. */
    public static boolean isCompleteObject(String text) {
        return GrammarMatcher.matches(OBJECT, text);
    }

    static String resource(String name) {
        try (InputStream in = JsonConstraint.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing resource " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
