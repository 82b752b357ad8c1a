package dev.jemma.core.engine;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Requests on their way to an engine: received by a server (or announced by any caller) but not yet queued in the
 * engine's scheduler — their bodies being parsed, their chat templates rendered, their prompts tokenized. The admission
 * window ({@link EngineOptions#admissionMillis}) waits for these and for nothing else: a lone request, with nothing on its
 * way behind it, starts at once, and a wave of requests sent together starts in one step however long each takes to
 * prepare (up to the window).
 *
 * <p>A request {@link #arrive announces} itself on the thread that will prepare it (or {@link Ticket#bind binds} its
 * ticket to that thread later); the ticket counts until that thread queues work on an engine sharing this registry, or
 * until it is closed (a request that fails before it reaches the engine), whichever comes first. One registry may be
 * shared by several engines (a server's models): a request for one then briefly holds the others' windows open too, which
 * costs them at most its preparation.
 */
public final class Arrivals {
    /** The ticket of the request the current thread prepares (null: none); one per thread, whatever registry owns it. */
    private static final ThreadLocal<Ticket> CURRENT = new ThreadLocal<>();

    private final AtomicInteger pending = new AtomicInteger();

    /** Requests announced and neither queued nor closed. */
    public int pending() {
        return pending.get();
    }

    /** Announces a request that the current thread prepares; close the ticket when the request ends (idempotent). */
    public Ticket arrive() {
        Ticket t = new Ticket();
        t.bind();
        return t;
    }

    /**
     * Announces a request before a thread is chosen to prepare it (a server's body still being read); that thread
     * {@link Ticket#bind binds} it.
     */
    public Ticket announce() {
        return new Ticket();
    }

    /** The current thread has queued work on an engine: its request (if any was announced) is no longer on its way. */
    static void reached() {
        Ticket t = CURRENT.get();
        if (t != null) t.close();
    }

    /** One request on its way. */
    public final class Ticket implements AutoCloseable {
        private final AtomicInteger open = new AtomicInteger(1);
        private volatile Thread owner;

        private Ticket() {
            pending.incrementAndGet();
        }

        /** The current thread prepares this request: its first work queued on an engine ends the ticket. */
        public Ticket bind() {
            owner = Thread.currentThread();
            CURRENT.set(this);
            return this;
        }

        /** The request reached an engine or ended; counted once, whoever calls it first. */
        @Override
        public void close() {
            if (open.compareAndSet(1, 0)) pending.decrementAndGet();
            if (owner == Thread.currentThread() && CURRENT.get() == this) CURRENT.remove();
        }
    }
}
