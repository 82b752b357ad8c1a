package dev.jemma.core.engine;

/**
 * A snapshot of an engine's continuous batching ({@link Engine#batchStatus}): both are 0 when no session generates,
 * which is what a leak check looks for.
 *
 * @param streams sessions in their decode loop (each adds a row to every step)
 * @param queued  forwards waiting for a step (prompts, or a decode token not yet run)
 */
public record BatchStatus(int streams, int queued) {
}
