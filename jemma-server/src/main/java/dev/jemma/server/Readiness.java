package dev.jemma.server;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Whether the models named on the command line ({@code -m}) are loaded yet: {@code /health} answers 503 while any is
 * still loading, as llama-server does, so a load balancer or a load tool can wait for the server to be ready instead
 * of sending requests that would wait out a load (or take the listening port for readiness).
 */
final class Readiness {
    private final Set<String> loading;

    Readiness(Collection<String> models) {
        loading = new LinkedHashSet<>(models);
    }

    /** {@code name} is loaded (or its load ended). */
    synchronized void loaded(String name) {
        loading.remove(name);
    }

    /** The {@code -m} models still loading, in command-line order; empty once the server is ready. */
    synchronized List<String> loading() {
        return new ArrayList<>(loading);
    }
}
