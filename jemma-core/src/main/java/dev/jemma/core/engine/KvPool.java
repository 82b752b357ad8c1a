package dev.jemma.core.engine;

import dev.jemma.core.kv.KvCache;

import java.util.ArrayDeque;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;

/**
 * The engine's KV memory as a fixed pool of {@code slots} caches of {@code contextLength} positions each (what the
 * memory plan counted, as llama-server's {@code -c} split among {@code --parallel} slots). A session takes a cache
 * when it generates and keeps it while idle, so its next turn reuses the cached prefix; when every cache is held, a
 * session that needs one takes the least recently used idle session's (that session starts over next time), and
 * waits while all of them are generating. Caches are allocated on first use and then reused, never freed, so the
 * pool's memory stays within the plan however many sessions come and go.
 */
final class KvPool {
    private static final class Holding {
        final KvCache cache;
        boolean busy;
        long lastUsed;

        Holding(KvCache cache) {
            this.cache = cache;
        }
    }

    private final int slots, contextLength;
    private final IntFunction<KvCache> allocator;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition released = lock.newCondition();
    /** Who holds which cache (sessions, by identity). */
    private final Map<Object, Holding> holders = new IdentityHashMap<>();
    /** Allocated caches nobody holds. */
    private final ArrayDeque<KvCache> free = new ArrayDeque<>();
    private int allocated, waiting;
    private long clock;

    /**
     * @param slots         caches at most (at least 1)
     * @param contextLength positions per cache
     * @param allocator     makes a cache of the given context length (the model's {@code newCache})
     */
    KvPool(int slots, int contextLength, IntFunction<KvCache> allocator) {
        if (slots < 1) throw new IllegalArgumentException("a KV pool needs at least one slot, got " + slots);
        this.slots = slots;
        this.contextLength = contextLength;
        this.allocator = allocator;
    }

    /**
     * The cache {@code holder} generates with: the one it held before, as it left it, if nobody took it meanwhile,
     * else an empty one. Blocks while every cache is in a generation.
     *
     * @param cancelled polled while waiting; when it turns true the wait ends with a {@link CancellationException}
     */
    KvCache acquire(Object holder, BooleanSupplier cancelled) {
        lock.lock();
        try {
            Holding own = holders.get(holder);
            if (own != null) {
                if (own.busy) throw new IllegalStateException("this session already holds a KV cache in a generation");
                own.busy = true;
                return own.cache;
            }
            waiting++;
            try {
                while (true) {
                    KvCache c = take();
                    if (c != null) {
                        c.clear();
                        Holding h = new Holding(c);
                        h.busy = true;
                        holders.put(holder, h);
                        return c;
                    }
                    if (cancelled.getAsBoolean()) throw new CancellationException("cancelled while waiting for a KV slot");
                    // cancel() does not signal: poll it a few times a second
                    released.await(100, TimeUnit.MILLISECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CancellationException("interrupted while waiting for a KV slot");
            } finally {
                waiting--;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Allocates every cache the pool may hold now rather than on first use ({@link Engine#warmUp}): a server then holds
     * its whole KV budget from the start, as llama-server does, each cache allocated into a calm heap.
     */
    void allocateAll() {
        lock.lock();
        try {
            while (allocated < slots) {
                free.push(allocator.apply(contextLength));
                allocated++;
            }
        } finally {
            lock.unlock();
        }
    }

    /** A free cache, a new one while the pool has room, or the least recently used idle holder's; null if none. */
    private KvCache take() {
        if (!free.isEmpty()) return free.pop();
        if (allocated < slots) {
            KvCache c = allocator.apply(contextLength);
            allocated++;
            return c;
        }
        Object lru = null;
        Holding oldest = null;
        for (Map.Entry<Object, Holding> e : holders.entrySet()) {
            Holding h = e.getValue();
            if (!h.busy && (oldest == null || h.lastUsed < oldest.lastUsed)) {
                oldest = h;
                lru = e.getKey();
            }
        }
        if (oldest == null) return null;
        holders.remove(lru);
        return oldest.cache;
    }

    /** Ends {@code holder}'s generation; it keeps the cache (for its next turn) until someone else needs it. */
    void release(Object holder) {
        lock.lock();
        try {
            Holding h = holders.get(holder);
            if (h == null) return;
            h.busy = false;
            h.lastUsed = ++clock;
            released.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Gives {@code holder}'s cache back to the pool (a closed or cleared session). */
    void drop(Object holder) {
        lock.lock();
        try {
            Holding h = holders.remove(holder);
            if (h == null) return;
            free.push(h.cache);
            released.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Whether {@code holder} still holds {@code cache} (it may have been given to another session while idle). */
    boolean holds(Object holder, KvCache cache) {
        lock.lock();
        try {
            Holding h = holders.get(holder);
            return h != null && h.cache == cache;
        } finally {
            lock.unlock();
        }
    }

    KvPoolStatus status(long bytesPerSlot) {
        lock.lock();
        try {
            int busy = 0;
            for (Holding h : holders.values()) if (h.busy) busy++;
            return new KvPoolStatus(slots, contextLength, bytesPerSlot, allocated, busy, holders.size() - busy, waiting);
        } finally {
            lock.unlock();
        }
    }
}
