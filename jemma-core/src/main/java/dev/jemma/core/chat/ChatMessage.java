package dev.jemma.core.chat;

import java.util.Objects;

/**
 * One turn of a conversation.
 *
 * @param role    {@code system}, {@code user} or {@code assistant} (Gemma's templates call the latter {@code model})
 * @param content the turn's text
 */
public record ChatMessage(String role, String content) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }
}
