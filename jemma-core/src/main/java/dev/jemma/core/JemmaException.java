package dev.jemma.core;

/**
 * A problem the user can act on (bad file, bad argument, not enough memory). Its message is one line meant to be
 * printed as is: it names the file or field and the offending value. The CLI prints it without a stack trace.
 */
public class JemmaException extends RuntimeException {
    public JemmaException(String message) {
        super(message);
    }

    public JemmaException(String message, Throwable cause) {
        super(message, cause);
    }
}
