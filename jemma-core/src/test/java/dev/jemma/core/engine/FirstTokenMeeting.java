package dev.jemma.core.engine;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Makes concurrent sessions overlap for tests that count shared steps: each session's listener holds it at its first
 * token until every session has reached its own (or ended), so all are open streams before any decodes its second
 * token, and the scheduler's lockstep then puts them in the same steps. Without it the overlap is left to the OS: on a
 * quiet 2-core machine, with the pool's worker spinning on the other core, a tiny model's whole answer (a dozen
 * sub-millisecond steps) can finish on the first thread before the others are scheduled, and no step serves two
 * sessions (seen in CI: {@code batchStatistics()[2]} = 0).
 */
final class FirstTokenMeeting {
    private static final long PATIENCE_SECONDS = 120;
    private final CountDownLatch arrived;

    FirstTokenMeeting(int sessions) {
        arrived = new CountDownLatch(sessions);
    }

    /** One session's place: its listener, and {@link Seat#close} when its generation returns (in case it ended at once). */
    Seat seat() {
        return new Seat();
    }

    final class Seat implements TokenListener, AutoCloseable {
        private boolean here;

        @Override
        public void onToken(Token token) {
            if (here) return;
            here = true;
            arrived.countDown();
            try {
                if (!arrived.await(PATIENCE_SECONDS, TimeUnit.SECONDS))
                    throw new AssertionError("the other sessions did not reach their first token in " + PATIENCE_SECONDS + " s");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted waiting for the other sessions", e);
            }
        }

        @Override
        public void close() {
            if (!here) {
                here = true;
                arrived.countDown();
            }
        }
    }
}
