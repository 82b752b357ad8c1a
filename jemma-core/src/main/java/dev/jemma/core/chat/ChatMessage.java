package dev.jemma.core.chat;

import java.util.List;
import java.util.Objects;

/**
 * One turn of a conversation.
 *
 * @param role    {@code system}, {@code user} or {@code assistant} (Gemma's templates call the latter {@code model})
 * @param content the turn's text; for a message with images, each {@code <start_of_image>} in it marks where an image
 *                goes (in order), and images without a marker go before the text
 * @param images  images sent with the turn (read by models with a vision tower), possibly none
 */
public record ChatMessage(String role, String content, List<ChatImage> images) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        images = images == null ? List.of() : List.copyOf(images);
    }

    public ChatMessage(String role, String content) {
        this(role, content, List.of());
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content);
    }

    /** A user turn with images. */
    public static ChatMessage user(String content, List<ChatImage> images) {
        return new ChatMessage("user", content, images);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content);
    }

    public boolean hasImages() {
        return !images.isEmpty();
    }
}
