package dev.jemma.server;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * Runs one generation for either API and forwards its text to the protocol's writer; the run stops early (the
 * engine session is cancelled) when the writer reports the client gone.
 */
final class Generation {
    /** The outcome: the engine's counts, the full text, and whether the client went away. */
    record Outcome(ServedModel.Result result, String text, boolean clientGone, List<ServedModel.Logprob> logprobs,
                   List<ServedModel.Logprob> unsent) {
        String doneReason() {
            return result.doneReason();
        }
    }

    private Generation() {
    }

    /** Receives each piece of text with the log-probabilities of the tokens that released it (empty unless asked). */
    interface Sink {
        /** Returns false when the client has gone. */
        boolean emit(String text, List<ServedModel.Logprob> logprobs);
    }

    /**
     * @param emit receives each piece of text; returns false when the client has gone
     */
    static Outcome run(ModelManager.Lease lease, ServedModel.Request request, Sink emit, BooleanSupplier clientGone) {
        return run(lease, request, emit, clientGone, null, 0);
    }

    /**
     * As {@link #run(ModelManager.Lease, ServedModel.Request, Sink, BooleanSupplier)}, reporting the time from the
     * request's arrival ({@code receivedNanos}) to its first text to {@code metrics} (null: none).
     */
    static Outcome run(ModelManager.Lease lease, ServedModel.Request request, Sink emit, BooleanSupplier clientGone,
                       ServerMetrics metrics, long receivedNanos) {
        StringBuilder all = new StringBuilder();
        boolean[] first = {metrics != null};
        List<ServedModel.Logprob> logprobs = new ArrayList<>();
        List<ServedModel.Logprob> pending = new ArrayList<>();
        boolean[] gone = {false};
        ServedModel.Result r;
        try {
            r = lease.model().run(request, new ServedModel.Listener() {
                @Override
                public boolean onText(String text) {
                    if (first[0] && !text.isEmpty()) {
                        first[0] = false;
                        metrics.firstToken(receivedNanos);
                    }
                    all.append(text);
                    List<ServedModel.Logprob> mine = List.copyOf(pending);
                    pending.clear();
                    if (!gone[0] && !emit.emit(text, mine)) gone[0] = true;
                    return !gone[0];
                }

                @Override
                public void onLogprob(ServedModel.Logprob logprob) {
                    logprobs.add(logprob);
                    pending.add(logprob);
                }

                @Override
                public boolean gone() {
                    return clientGone.getAsBoolean();
                }
            });
        } catch (CancellationException e) {
            // the client went away while its prompt was being prepared: nothing to answer
            return new Outcome(new ServedModel.Result(0, 0, 0, 0, 0, "cancel", new int[0]), "", true, List.of(), List.of());
        }
        return new Outcome(r, all.toString(), gone[0], logprobs, List.copyOf(pending));
    }
}
