package dev.jemma.core.engine;

/**
 * Sees every model step an engine runs (continuous batching, {@link Engine#observeSteps}): a server's metrics count
 * prompt and generated rows and the batch sizes from it. Called on the thread that ran the step, right after it and
 * outside the scheduler's lock; it must be quick and must not throw.
 */
@FunctionalInterface
public interface StepObserver {
    /**
     * @param promptRows rows of prompt chunks in the step
     * @param decodeRows rows that were a decoding sequence's next token
     * @param sequences  sequences (KV caches) the step served
     * @param nanos      how long the model took
     */
    void onStep(int promptRows, int decodeRows, int sequences, long nanos);
}
