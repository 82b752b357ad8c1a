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
 * most that long; later requests on a kept-alive connection are announced by the router as they arrive).
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
        if (graceMillis <= 0) return;
        Arrivals.Ticket t = arrivals.announce();
        waiting.put(connection, t);
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
