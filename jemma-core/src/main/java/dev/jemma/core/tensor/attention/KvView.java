package dev.jemma.core.tensor.attention;

import dev.jemma.core.kv.KvCache;

/**
 * Where the keys and values before a call's own rows come from: a layer's slots in a {@link KvCache} (a ring of
 * W slots for a sliding layer, every position for a global one), another layer's slots (Gemma 3n KV sharing: the
 * cache's source map), or nothing (an encoder, which sees only the keys of the call).
 */
public record KvView(KvCache cache, int layer) {
    private static final KvView NONE = new KvView(null, -1);

    /** The layer's own slots in the cache (a ring for a sliding layer). */
    public static KvView ring(KvCache cache, int layer) {
        return new KvView(cache, layer);
    }

    /** A layer that reads another layer's slots (the cache maps {@code layer} to its source). */
    public static KvView shared(KvCache cache, int layer) {
        if (cache.ownsStorage(layer)) throw new IllegalArgumentException("layer " + layer + " owns its cache slots");
        return new KvView(cache, layer);
    }

    /** No cache: only the call's own keys. */
    public static KvView none() {
        return NONE;
    }

    public boolean isNone() {
        return cache == null;
    }

    float[] keys() {
        return cache == null ? null : cache.keys(layer);
    }

    float[] values() {
        return cache == null ? null : cache.values(layer);
    }

    /** Offset of position {@code pos}'s row in {@link #keys()} / {@link #values()}. */
    int offset(int pos) {
        return cache.offset(layer, pos);
    }
}
