package dev.jemma.core.engine;

/** Why a generation ended. */
public enum StopReason {
    /** The model ended its turn (end-of-sequence or end-of-turn token). */
    END_OF_TURN("stop"),
    /** A user stop string appeared. */
    STOP_STRING("stop"),
    /** The maximum number of tokens was generated. */
    MAX_TOKENS("length"),
    /** The context window is full. */
    CONTEXT_FULL("length"),
    /** {@link Session#cancel()} was called. */
    CANCELLED("cancel");

    private final String apiName;

    StopReason(String apiName) {
        this.apiName = apiName;
    }

    /** The name Ollama/OpenAI APIs use ({@code stop}, {@code length}, {@code cancel}). */
    public String apiName() {
        return apiName;
    }
}
