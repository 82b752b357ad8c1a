package dev.jemma.server;

import java.util.Map;

/**
 * A model that answers every request at once with one piece of text ("ok") and checks what the parsers handed it: the
 * server's protocol code runs as with a real model, without the cost of generating. {@link #failingAfterText} fails
 * once the answer has started, as a model that breaks mid-stream.
 */
class StandInModel implements ServedModel {
    private final boolean failAfterText;

    StandInModel() {
        this(false);
    }

    private StandInModel(boolean failAfterText) {
        this.failAfterText = failAfterText;
    }

    /** One that throws an IllegalStateException right after its first text. */
    static StandInModel failingAfterText() {
        return new StandInModel(true);
    }

    @Override
    public Result run(Request request, Listener listener) {
        if (request.options() == null) throw new AssertionError("a request without options");
        if (request.messages() == null && request.prompt() == null) throw new AssertionError("a request with neither messages nor prompt");
        if (request.messages() != null) {
            for (Message m : request.messages()) {
                if (m.role() == null || m.content() == null) throw new AssertionError("a message with a null field: " + m);
            }
        }
        listener.onText("ok");
        if (failAfterText) throw new IllegalStateException("the stand-in model fails mid-answer");
        return new Result(1, 1, 1, 1, 1, "stop", new int[]{2, 5});
    }

    @Override
    public Info info() {
        return new Info("gemma3", "1M", "Q8_0", 128, 1000, "{{ messages }}", Map.of(),
                new dev.jemma.core.engine.ModelCapabilities(true, false, false));
    }

    @Override
    public void close() {
    }
}
