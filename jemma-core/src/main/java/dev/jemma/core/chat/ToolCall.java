package dev.jemma.core.chat;

import java.util.Objects;

/**
 * A call the model made: an id (for the result to refer to), the function's name and its arguments as a JSON object
 * text (valid against the function's parameters schema when it came from {@link ToolCalling#parse}).
 */
public record ToolCall(String id, String name, String arguments) {
    public ToolCall {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(arguments, "arguments");
    }
}
