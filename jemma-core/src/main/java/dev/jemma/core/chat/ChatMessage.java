package dev.jemma.core.chat;

import java.util.List;
import java.util.Objects;

/**
 * One turn of a conversation.
 *
 * <p>For a template that renders tools itself (FunctionGemma's), a turn may also carry structured tool data, which
 * the template gets as Hugging Face's {@code apply_chat_template} passes it: {@code tool_calls} of an assistant turn,
 * the {@code name} of the function a {@code tool} turn answers, and the {@code tools} declared with a system turn.
 *
 * @param role    {@code system}, {@code user} or {@code assistant} (Gemma's templates call the latter {@code model})
 * @param content the turn's text; for a message with images, each {@code <start_of_image>} in it marks where an image
 *                goes (in order), and images without a marker go before the text
 * @param images  images sent with the turn (read by models with a vision tower), possibly none
 * @param audio   audio clips sent with the turn (heard by Gemma 3n with its audio tower), possibly none; each
 *                {@code <audio_soft_token>} in the content marks where a clip goes (in order, as in HF's Gemma 3n
 *                chat template), and clips without a marker go before the text
 * @param toolCalls the calls an assistant turn made, possibly none
 * @param toolName  the function whose result a {@code tool} turn holds, or null
 * @param tools     the functions declared with a system turn (its template renders them), possibly none
 */
public record ChatMessage(String role, String content, List<ChatImage> images, List<ChatAudio> audio,
                          List<ToolCall> toolCalls, String toolName, List<Tool> tools) {
    /** The marker of a clip's place in a message's text (HF Gemma 3n's audio placeholder). */
    public static final String AUDIO_MARKER = "<audio_soft_token>";

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
        images = images == null ? List.of() : List.copyOf(images);
        audio = audio == null ? List.of() : List.copyOf(audio);
        toolCalls = toolCalls == null ? List.of() : List.copyOf(toolCalls);
        tools = tools == null ? List.of() : List.copyOf(tools);
    }

    public ChatMessage(String role, String content, List<ChatImage> images, List<ChatAudio> audio) {
        this(role, content, images, audio, List.of(), null, List.of());
    }

    /** An assistant turn that called functions (its text, possibly empty, comes before the calls). */
    public static ChatMessage assistantCalls(String content, List<ToolCall> calls) {
        return new ChatMessage("assistant", content, List.of(), List.of(), calls, null, List.of());
    }

    /** A function's result, for the turn after the call. */
    public static ChatMessage toolResult(String name, String content) {
        return new ChatMessage("tool", content, List.of(), List.of(), List.of(), name, List.of());
    }

    /** A system turn declaring tools (its text may be empty). */
    public static ChatMessage systemWithTools(String content, List<Tool> tools) {
        return new ChatMessage("system", content, List.of(), List.of(), List.of(), null, tools);
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

    /** This message with other content, the same images, audio and tool data. */
    public ChatMessage withContent(String newContent) {
        return new ChatMessage(role, newContent, images, audio, toolCalls, toolName, tools);
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
