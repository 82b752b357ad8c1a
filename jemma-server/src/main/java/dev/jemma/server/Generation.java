package dev.jemma.server;

import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/**
 * Runs one generation for either API and forwards its text to the protocol's writer; the run stops early (the
 * engine session is cancelled) when the writer reports the client gone.
 */
final class Generation {
    /** The outcome: the engine's counts, the full text, and whether the client went away. */
    record Outcome(ServedModel.Result result, String text, boolean clientGone) {
        String doneReason() {
            return result.doneReason();
        }
    }

    private Generation() {
    }

    /**
     * @param emit receives each piece of text; returns false when the client has gone
     */
    static Outcome run(ModelManager.Lease lease, ServedModel.Request request, Predicate<String> emit, BooleanSupplier clientGone) {
        StringBuilder all = new StringBuilder();
        boolean[] gone = {false};
        ServedModel.Result r;
        try {
            r = lease.model().run(request, new ServedModel.Listener() {
                @Override
                public boolean onText(String text) {
                    all.append(text);
                    if (!gone[0] && !emit.test(text)) gone[0] = true;
                    return !gone[0];
                }

                @Override
                public boolean gone() {
                    return clientGone.getAsBoolean();
                }
            });
        } catch (CancellationException e) {
            // the client went away while its prompt was being prepared: nothing to answer
            return new Outcome(new ServedModel.Result(0, 0, 0, 0, 0, "cancel", new int[0]), "", true);
        }
        return new Outcome(r, all.toString(), gone[0]);
    }
}
