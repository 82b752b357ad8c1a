package dev.jemma.server;

import dev.jemma.core.JemmaException;
import dev.jemma.core.store.ModelRef;
import dev.jemma.core.store.ModelStore;
import dev.jemma.core.store.StoredModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Knows which models can be served (the store's models plus files given with {@code -m}), loads them on first
 * use, and unloads each one when its keep-alive expires with no request using it (Ollama's keep_alive semantics:
 * a duration, 0 = unload right after the request, negative = keep forever).
 */
final class ModelManager implements AutoCloseable {
    /** A servable model: its name, file, and store metadata when it came from the store. */
    record Entry(String name, Path path, String digest, long size, Instant modified) {
    }

    /** A loaded model in use by one request; closing it releases the use and restarts the keep-alive clock. */
    final class Lease implements AutoCloseable {
        final Loaded loaded;
        private final Duration keepAlive;
        private boolean closed;

        private Lease(Loaded loaded, Duration keepAlive) {
            this.loaded = loaded;
            this.keepAlive = keepAlive;
        }

        ServedModel model() {
            return loaded.model;
        }

        Entry entry() {
            return loaded.entry;
        }

        @Override
        public void close() {
            synchronized (ModelManager.this) {
                if (closed) return;
                closed = true;
                loaded.users--;
                loaded.setKeepAlive(keepAlive);
            }
            sweep();
        }
    }

    /** A model held in memory. */
    static final class Loaded {
        final Entry entry;
        final ServedModel model;
        int users;
        Instant expiresAt; // null = never
        final Instant loadedAt = Instant.now();
        final long loadNanos;

        Loaded(Entry entry, ServedModel model, long loadNanos) {
            this.entry = entry;
            this.model = model;
            this.loadNanos = loadNanos;
        }

        void setKeepAlive(Duration d) {
            expiresAt = d == null || d.isNegative() ? null : Instant.now().plus(d);
        }
    }

    private final ModelStore store;
    private final Map<String, Path> explicit;
    private final Function<Entry, ServedModel> loader;
    /** Called with every model just loaded (the server attaches its metrics). */
    private volatile java.util.function.Consumer<ServedModel> onLoad;
    private final Duration defaultKeepAlive;
    private final Map<String, Loaded> loaded = new LinkedHashMap<>();
    private final Map<String, Object> loadLocks = new ConcurrentHashMap<>();
    private final ScheduledExecutorService sweeper;

    ModelManager(ModelStore store, Map<String, Path> explicit, Function<Entry, ServedModel> loader, Duration defaultKeepAlive) {
        this.store = store;
        this.explicit = new LinkedHashMap<>(explicit);
        this.loader = loader;
        this.defaultKeepAlive = defaultKeepAlive;
        this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "jemma-keepalive");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(this::sweep, 1, 1, TimeUnit.SECONDS);
    }

    Duration defaultKeepAlive() {
        return defaultKeepAlive;
    }

    /** Names of the models given with -m. */
    List<String> explicitNames() {
        return List.copyOf(explicit.keySet());
    }

    /** Every servable model: -m files first, then the store's. */
    List<Entry> available() {
        List<Entry> out = new ArrayList<>();
        for (var e : explicit.entrySet()) out.add(fileEntry(e.getKey(), e.getValue()));
        if (store != null) {
            for (StoredModel m : store.list()) {
                if (!explicit.containsKey(m.name())) {
                    out.add(new Entry(m.name(), m.path(), m.digest(), m.size(), m.pulledAt()));
                }
            }
        }
        return out;
    }

    /** Finds a model by the name a client used ("gemma3" → "gemma3:4b", "stem:latest" → "stem"). */
    Optional<Entry> lookup(String requested) {
        if (requested == null || requested.isBlank()) return Optional.empty();
        String name = requested.strip();
        for (String candidate : List.of(name, stripLatest(name))) {
            Path p = explicit.get(candidate);
            if (p != null) return Optional.of(fileEntry(candidate, p));
        }
        if (store != null && ModelRef.isValid(name)) {
            try {
                return store.find(name).map(m -> new Entry(m.name(), m.path(), m.digest(), m.size(), m.pulledAt()));
            } catch (JemmaException e) {
                return Optional.empty();
            }
        }
        return Optional.empty();
    }

    /** Loads (if needed) and leases a model; 404 when unknown. */
    void onLoad(java.util.function.Consumer<ServedModel> action) {
        onLoad = action;
    }

    Lease acquire(String requested, Duration keepAlive) {
        Entry e = lookup(requested).orElseThrow(() -> HttpError.notFound("model '" + requested + "' not found"
                + (explicit.isEmpty() ? "; pull it first (jemma pull NAME)" : "")));
        Duration ka = keepAlive == null ? defaultKeepAlive : keepAlive;
        Object lock = loadLocks.computeIfAbsent(e.name(), k -> new Object());
        synchronized (lock) {
            synchronized (this) {
                Loaded l = loaded.get(e.name());
                if (l != null) {
                    l.users++;
                    l.expiresAt = null;
                    return new Lease(l, ka);
                }
            }
            long t0 = System.nanoTime();
            ServedModel m;
            try {
                m = loader.apply(e);
            } catch (JemmaException ex) {
                throw new HttpError(500, "cannot load model '" + e.name() + "': " + ex.getMessage());
            } catch (OutOfMemoryError ex) {
                throw new HttpError(507, "not enough memory to load model '" + e.name() + "'");
            }
            if (onLoad != null) onLoad.accept(m);
            Loaded l = new Loaded(e, m, System.nanoTime() - t0);
            synchronized (this) {
                l.users = 1;
                loaded.put(e.name(), l);
                return new Lease(l, ka);
            }
        }
    }

    /** Loads a model now and keeps it for the default keep-alive (used for -m models at start-up). */
    void preload(String name, Duration keepAlive) {
        acquire(name, keepAlive).close();
    }

    /** Snapshot of loaded models for /api/ps. */
    synchronized List<Loaded> loaded() {
        return List.copyOf(loaded.values());
    }

    /** Unloads a model now if no request uses it; returns whether it was loaded. */
    boolean unload(String name) {
        Loaded victim;
        synchronized (this) {
            victim = loaded.get(name);
            if (victim == null) return false;
            if (victim.users > 0) {
                victim.expiresAt = Instant.EPOCH;
                return true;
            }
            loaded.remove(name);
        }
        victim.model.close();
        return true;
    }

    private void sweep() {
        List<Loaded> victims = new ArrayList<>();
        synchronized (this) {
            Instant now = Instant.now();
            loaded.values().removeIf(l -> {
                boolean expired = l.users == 0 && l.expiresAt != null && !l.expiresAt.isAfter(now);
                if (expired) victims.add(l);
                return expired;
            });
        }
        for (Loaded l : victims) l.model.close();
    }

    static Entry fileEntry(String name, Path p) {
        long size;
        Instant modified;
        try {
            size = Files.size(p);
            modified = Files.getLastModifiedTime(p).toInstant();
        } catch (IOException e) {
            size = 0;
            modified = Instant.EPOCH;
        }
        return new Entry(name, p, "", size, modified);
    }

    /** The name a -m file is served under: its file name without .gguf. */
    static String stemOf(Path p) {
        String f = p.getFileName().toString();
        return f.toLowerCase(Locale.ROOT).endsWith(".gguf") ? f.substring(0, f.length() - 5) : f;
    }

    private static String stripLatest(String name) {
        return name.endsWith(":latest") ? name.substring(0, name.length() - 7) : name;
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
        List<Loaded> all;
        synchronized (this) {
            all = new ArrayList<>(loaded.values());
            loaded.clear();
        }
        for (Loaded l : all) l.model.close();
    }
}
