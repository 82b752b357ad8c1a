package dev.jemma.server;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Admission control for generation requests: at most {@code parallel} run at once, at most {@code queue} more
 * wait (in arrival order); anything beyond is refused at once with 503 so a flooded server sheds load instead of
 * piling up threads and memory.
 */
final class Scheduler {
    private final Semaphore running;
    private final int parallel;
    private final int queue;
    private final AtomicInteger admitted = new AtomicInteger();

    Scheduler(int parallel, int queue) {
        if (parallel < 1) throw new IllegalArgumentException("parallel must be >= 1");
        this.parallel = parallel;
        this.queue = Math.max(0, queue);
        this.running = new Semaphore(parallel, true);
    }

    /** A held slot; closing it lets the next request run. */
    interface Slot extends AutoCloseable {
        @Override
        void close();
    }

    /** Waits for a slot; throws 503 when the queue is full or the wait exceeds {@code maxWaitMillis}. */
    Slot acquire(long maxWaitMillis) {
        if (admitted.incrementAndGet() > parallel + queue) {
            admitted.decrementAndGet();
            throw new HttpError(503, "server busy: " + parallel + " requests running and " + queue
                    + " queued; retry later");
        }
        boolean ok = false;
        try {
            ok = running.tryAcquire(maxWaitMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (!ok) admitted.decrementAndGet();
        }
        if (!ok) throw new HttpError(503, "server busy: timed out waiting for a free slot; retry later");
        return new Slot() {
            private boolean closed;

            @Override
            public synchronized void close() {
                if (closed) return;
                closed = true;
                running.release();
                admitted.decrementAndGet();
            }
        };
    }

    int running() {
        return parallel - running.availablePermits();
    }

    int waiting() {
        return Math.max(0, admitted.get() - running());
    }
}
