package dev.jemma.server;

import java.util.ArrayList;
import java.util.List;

/**
 * Streams an answer that may turn out to be tool calls: the grammar lets a text answer start with neither white space
 * nor {@code [} (FunctionGemma: its call marker, a token text cannot spell), so the first visible text decides. Text is passed on as it comes; a call list is held back and
 * sent whole, parsed, when the answer ends (its log-probabilities with it).
 */
final class ToolStream implements Generation.Sink {
    private final Generation.Sink text;
    private final dev.jemma.core.chat.ToolCalling.Format format;
    private final StringBuilder held = new StringBuilder();
    private final List<ServedModel.Logprob> heldLogprobs = new ArrayList<>();
    private Boolean calls;

    ToolStream(Generation.Sink text, dev.jemma.core.chat.ToolCalling.Format format) {
        this.text = text;
        this.format = format;
    }

    @Override
    public boolean emit(String piece, List<ServedModel.Logprob> logprobs) {
        if (calls == null) {
            held.append(piece);
            heldLogprobs.addAll(logprobs);
            String t = held.toString().stripLeading();
            if (t.isEmpty()) return true;
            calls = format.startsCalls(t);
            if (calls) return true;
            return release();
        }
        if (calls) {
            held.append(piece);
            heldLogprobs.addAll(logprobs);
            return true;
        }
        return text.emit(piece, logprobs);
    }

    /**
     * Sends what was held back as text (an answer that began like a call list but did not parse as one, e.g. cut by
     * the token limit); false when the client has gone.
     */
    boolean release() {
        if (held.isEmpty() && heldLogprobs.isEmpty()) return true;
        String all = held.toString();
        List<ServedModel.Logprob> lps = List.copyOf(heldLogprobs);
        held.setLength(0);
        heldLogprobs.clear();
        return text.emit(all, lps);
    }

    /** The log-probabilities of the held-back call list. */
    List<ServedModel.Logprob> heldLogprobs() {
        return List.copyOf(heldLogprobs);
    }
}
