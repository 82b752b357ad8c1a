package dev.jemma.core.chat;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Objects;

/**
 * A function the model may call: its name, what it does, and the JSON Schema of its parameters (null: any object).
 */
public record Tool(String name, String description, JsonNode parameters) {
    public Tool {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) throw new IllegalArgumentException("a tool needs a name");
        description = description == null ? "" : description;
    }
}
