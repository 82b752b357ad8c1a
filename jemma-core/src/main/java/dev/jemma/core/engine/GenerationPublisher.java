package dev.jemma.core.engine;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;

/**
 * A generation as a {@link Flow.Publisher} of {@link Token}s. Generation starts when the (single) subscriber first
 * requests items and runs on its own virtual thread; it honours back-pressure (waits while no item is requested)
 * and stops the generation when the subscription is cancelled. {@link #result()} completes with the
 * {@link Generation} summary (or the error) when it ends. A second subscriber receives {@code onError}.
 */
public final class GenerationPublisher implements Flow.Publisher<Token> {
    private final Session session;
    private final Function<TokenListener, Generation> job;
    private final AtomicBoolean subscribed = new AtomicBoolean();
    private final CompletableFuture<Generation> result = new CompletableFuture<>();

    GenerationPublisher(Session session, Function<TokenListener, Generation> job) {
        this.session = session;
        this.job = job;
    }

    /** Completes with the summary when the generation ends (exceptionally if it failed). */
    public CompletableFuture<Generation> result() {
        return result;
    }

    @Override
    public void subscribe(Flow.Subscriber<? super Token> subscriber) {
        if (!subscribed.compareAndSet(false, true)) {
            subscriber.onSubscribe(new Flow.Subscription() {
                @Override
                public void request(long n) {
                }

                @Override
                public void cancel() {
                }
            });
            subscriber.onError(new IllegalStateException("this generation already has a subscriber"));
            return;
        }
        new Sub(subscriber).start();
    }

    private final class Sub implements Flow.Subscription {
        private final Flow.Subscriber<? super Token> subscriber;
        private long demand;
        private boolean cancelled;
        private boolean started;

        Sub(Flow.Subscriber<? super Token> subscriber) {
            this.subscriber = subscriber;
        }

        void start() {
            subscriber.onSubscribe(this);
        }

        @Override
        public void request(long n) {
            boolean launch = false;
            synchronized (this) {
                if (n <= 0) {
                    cancelled = true;
                    notifyAll();
                } else {
                    demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
                    notifyAll();
                    if (!started) launch = started = true;
                }
            }
            if (n <= 0) {
                session.cancel();
                subscriber.onError(new IllegalArgumentException("request(" + n + "): must be positive (§3.9)"));
                return;
            }
            if (launch) Thread.ofVirtual().name("jemma-generation").start(this::generate);
        }

        @Override
        public void cancel() {
            synchronized (this) {
                cancelled = true;
                notifyAll();
            }
            session.cancel();
        }

        private void generate() {
            try {
                Generation g = job.apply(this::emit);
                result.complete(g);
                if (!isCancelled()) subscriber.onComplete();
            } catch (Throwable e) {
                result.completeExceptionally(e);
                if (!isCancelled()) subscriber.onError(e);
            }
        }

        private synchronized boolean isCancelled() {
            return cancelled;
        }

        private void emit(Token t) {
            synchronized (this) {
                while (demand == 0 && !cancelled) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        cancelled = true;
                    }
                }
                if (cancelled) {
                    session.cancel();
                    return;
                }
                demand--;
            }
            subscriber.onNext(t);
        }
    }
}
