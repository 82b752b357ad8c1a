package dev.jemma.core.engine;

/**
 * A snapshot of an engine's KV pool ({@link EngineOptions#parallel()}).
 *
 * @param slots         KV caches the pool holds at most (0: no pool, a cache per session)
 * @param contextLength positions per cache
 * @param bytesPerSlot  bytes of one cache (the memory plan's per-sequence KV size)
 * @param allocated     caches allocated so far (at most {@code slots}; never freed, reused)
 * @param busy          caches in a generation now
 * @param idle          caches an idle session keeps for its next turn (taken by another session when needed)
 * @param waiting       generations waiting for a cache
 */
public record KvPoolStatus(int slots, int contextLength, long bytesPerSlot, int allocated, int busy, int idle, int waiting) {
    /** Bytes the whole pool takes once every slot is allocated. */
    public long totalBytes() {
        return bytesPerSlot * slots;
    }
}
