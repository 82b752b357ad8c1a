package dev.jemma.langchain4j;

import dev.langchain4j.model.chat.response.ChatResponseMetadata;

/**
 * {@link ChatResponseMetadata} with what the in-process engine knows beyond token usage: how many prompt tokens were
 * served from the KV cache of the previous turn, and the time spent on the prompt and on generation.
 */
public final class JemmaChatResponseMetadata extends ChatResponseMetadata {
    private final int reusedTokens;
    private final long promptNanos;
    private final long generationNanos;

    private JemmaChatResponseMetadata(Builder b) {
        super(b);
        reusedTokens = b.reusedTokens;
        promptNanos = b.promptNanos;
        generationNanos = b.generationNanos;
    }

    /** Prompt tokens whose keys/values were reused from the previous request on the same cached conversation. */
    public int reusedTokens() {
        return reusedTokens;
    }

    /** Time spent reading the prompt (the part not reused). */
    public long promptNanos() {
        return promptNanos;
    }

    /** Time spent generating the answer. */
    public long generationNanos() {
        return generationNanos;
    }

    @Override
    public String toString() {
        return super.toString().replaceFirst("}$", "") + ", reusedTokens = " + reusedTokens + ", promptNanos = " + promptNanos
                + ", generationNanos = " + generationNanos + " }";
    }

    static Builder jemmaBuilder() {
        return new Builder();
    }

    /** Builder (internal to the module; LangChain4j's fields plus Jemma's). */
    static final class Builder extends ChatResponseMetadata.Builder<Builder> {
        private int reusedTokens;
        private long promptNanos;
        private long generationNanos;

        Builder reusedTokens(int v) {
            reusedTokens = v;
            return this;
        }

        Builder promptNanos(long v) {
            promptNanos = v;
            return this;
        }

        Builder generationNanos(long v) {
            generationNanos = v;
            return this;
        }

        @Override
        public JemmaChatResponseMetadata build() {
            return new JemmaChatResponseMetadata(this);
        }
    }
}
