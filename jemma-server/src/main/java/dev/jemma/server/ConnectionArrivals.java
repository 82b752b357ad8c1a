package dev.jemma.server;

import dev.jemma.core.engine.Arrivals;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.util.thread.Scheduler;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Announces every newly accepted connection to the engines as a request on its way ({@link Arrivals}), from the moment
 * Jetty opens it, before a byte of its first request has been parsed. Why: clients of a wave that each open a
 * connection (serve-bench's C = 8 first wave: seven new connections beside one pooled) can still be connecting when the
 * first request, on its pooled connection, is queued; announced only when the router runs, they are not pending, so the
 * first prompt runs alone and the others wait for its whole step (docs/PERFORMANCE.md, "Serving", serve20).
 *
 * <p>The connection's ticket ends, whichever comes first: when its first request reaches the router ({@link #claim},
 * which hands a generation request the same ticket and ends it for any other request), when the connection closes, or
 * {@code graceMillis} after it opened (a connection opened and left idle, a browser's preconnect, holds the window for at
 * most that long). A kept-alive connection is announced again as a generation answer on it ends ({@link #expectNext}),
 * with the same ends; any other later request on it is announced by the router as it arrives.
 */
final class ConnectionArrivals implements Connection.Listener {
    private final Arrivals arrivals;
    private final long graceMillis;
    private final Supplier<Scheduler> scheduler;
    /** Connections whose first request has not reached the router yet, and their tickets. */
    private final ConcurrentHashMap<Connection, Arrivals.Ticket> waiting = new ConcurrentHashMap<>();

    /**
     * @param graceMillis how long an opened connection counts without a request (the admission window: longer would
     *                    hold no prompt longer, as the window is capped from the first queued prompt); 0 announces none
     * @param scheduler   the connector's scheduler, which ends tickets past their grace
     */
    ConnectionArrivals(Arrivals arrivals, long graceMillis, Supplier<Scheduler> scheduler) {
        this.arrivals = arrivals;
        this.graceMillis = graceMillis;
        this.scheduler = scheduler;
    }

    @Override
    public void onOpened(Connection connection) {
        announce(connection);
    }

    /**
     * {@code connection} is kept alive after a generation answer that is about to end: its client's next request is
     * counted as on its way, as a new connection's first one is, until it reaches the router, the connection closes or
     * the grace passes. Why: a wave's clients send their next requests as they read the ends of their answers, and
     * those ends come out of one step; announced only when the router ran, the requests still being sent or parsed when
     * the first was queued were not pending, and the next wave split (serve20: 1 + 7 and 2 + 6 at C = 8). Jetty has no
     * public hook for "a kept-alive connection became readable" (its HttpConnection.onFillable is in
     * org.eclipse.jetty.server.internal; an endpoint's onSelected fires for every read and write readiness, request
     * bodies included), and readable would be too late anyway for a request not yet sent.
     */
    void expectNext(Connection connection) {
        if (connection != null && KEPT_ALIVE) announce(connection);
    }

    /** Whether {@link #expectNext} announces ({@code -Djemma.noKeptAliveArrivals=true}: not, for A/B runs of one jar). */
    private static final boolean KEPT_ALIVE = !Boolean.getBoolean("jemma.noKeptAliveArrivals");

    private void announce(Connection connection) {
        if (graceMillis <= 0) return;
        Arrivals.Ticket t = arrivals.announce();
        Arrivals.Ticket before = waiting.put(connection, t);
        if (before != null) before.close();
        try {
            scheduler.get().schedule(() -> end(connection, t), graceMillis, TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            end(connection, t); // no scheduler (stopping): never leave a ticket without its end
        }
    }

    @Override
    public void onClosed(Connection connection) {
        Arrivals.Ticket t = waiting.remove(connection);
        if (t != null) t.close();
    }

    /**
     * The ticket of a connection's first request as it reaches the router (null: none left — a later request on the
     * connection, or its grace has passed). The caller owns it: it ends it, or makes it the request's own.
     */
    Arrivals.Ticket claim(Connection connection) {
        return connection == null ? null : waiting.remove(connection);
    }

    /** Connections still counted (tests). */
    int waiting() {
        return waiting.size();
    }

    private void end(Connection connection, Arrivals.Ticket t) {
        if (waiting.remove(connection, t)) t.close();
    }
}
