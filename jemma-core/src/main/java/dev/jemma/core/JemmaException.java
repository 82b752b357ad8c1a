package dev.jemma.core;

/**
 * A problem the user can act on (bad file, bad argument, not enough memory). Its message is one line meant to be
 * printed as is: it names the file or field and the offending value. The CLI prints it without a stack trace.
 */
public class JemmaException extends RuntimeException {
    /** {@code message} is made printable ({@link Printable#line}): whatever of a file's bytes it quotes cannot drive a terminal. */
    public JemmaException(String message) {
        super(Printable.line(message));
    }

    public JemmaException(String message, Throwable cause) {
        super(Printable.line(message), cause);
    }
}
