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
 * @param audio   audio clips sent with the turn (heard by Gemma 3n with its audio tower), possibly none; each
 *                {@code <audio_soft_token>} in the content marks where a clip goes (in order, as in HF's Gemma 3n
 *                chat template), and clips without a marker go before the text
 */
public record ChatMessage(String role, String content, List<ChatImage> images, List<ChatAudio> audio) {
    /** The marker of a clip's place in a message's text (HF Gemma 3n's audio placeholder). */
    public static final String AUDIO_MARKER = "<audio_soft_token>";

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        images = images == null ? List.of() : List.copyOf(images);
        audio = audio == null ? List.of() : List.copyOf(audio);
    }

    public ChatMessage(String role, String content, List<ChatImage> images) {
        this(role, content, images, List.of());
    }

    public ChatMessage(String role, String content) {
        this(role, content, List.of(), List.of());
    }

    /** A user turn with audio clips (and images, possibly none). */
    public static ChatMessage user(String content, List<ChatImage> images, List<ChatAudio> audio) {
        return new ChatMessage("user", content, images, audio);
    }

    public boolean hasAudio() {
        return !audio.isEmpty();
    }

    /** This message with other content, the same images and audio. */
    public ChatMessage withContent(String newContent) {
        return new ChatMessage(role, newContent, images, audio);
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
