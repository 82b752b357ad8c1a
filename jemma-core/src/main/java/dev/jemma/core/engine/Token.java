package dev.jemma.core.engine;

import dev.jemma.core.sampling.TokenLogprobs;

/**
 * One generated token as it streams out.
 *
 * @param id    the token id, or -1 for text released at the very end (characters held back until then, e.g. a
 *              possible stop-string prefix that never completed)
 * @param text  the text that became printable with this token: may be empty (part of a multi-byte character, or
 *              held back because it may start a stop string) or hold more than the token's own piece
 * @param index 0 for the first generated token
 * @param logprobs its log-probabilities when {@link GenerationOptions.Builder#logprobs} asked for them, else null (and
 *                 null for the end text of id -1)
 */
public record Token(int id, String text, int index, TokenLogprobs logprobs) {
    public Token(int id, String text, int index) {
        this(id, text, index, null);
    }
}
