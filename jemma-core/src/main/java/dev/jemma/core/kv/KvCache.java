package dev.jemma.core.kv;

import java.util.Arrays;

/**
 * Per-layer key/value storage. Each layer has its own capacity: a global layer keeps one slot per context position,
 * a sliding-window layer keeps a ring of {@code window} slots (slot = position mod capacity), so its memory does not
 * grow with the context. A layer may also borrow another layer's storage (Gemma 3n KV sharing): it then stores
 * nothing and reads the source layer's slots.
 *
 * <p>{@link #length()} is the number of positions processed so far (the next token's position). Not thread-safe:
 * one generation at a time per cache.
 */
public final class KvCache {
    private final int[] capacity;
    private final int[] source;
    private final int[] kvDim;
    private final float[][] keys;
    private final float[][] values;
    private final int contextLength;
    private int length;

    /**
     * @param capacity      slots per layer (context length for global layers, the window for sliding ones)
     * @param kvDim         floats per slot per layer (kv heads × head dim)
     * @param source        for each layer the layer whose storage it reads (itself unless shared)
     * @param contextLength maximum positions
     */
    public KvCache(int[] capacity, int[] kvDim, int[] source, int contextLength) {
        int n = capacity.length;
        this.capacity = capacity.clone();
        this.kvDim = kvDim.clone();
        this.source = source.clone();
        this.contextLength = contextLength;
        keys = new float[n][];
        values = new float[n][];
        for (int l = 0; l < n; l++) {
            if (source[l] != l) continue;
            long size = (long) capacity[l] * kvDim[l];
            if (size > Integer.MAX_VALUE - 16) {
                throw new IllegalArgumentException("KV cache layer " + l + " too large: " + size + " floats; reduce the context length");
            }
            keys[l] = new float[(int) size];
            values[l] = new float[(int) size];
        }
    }

    /** Bytes a cache with these shapes would take (for the memory plan, before allocating). */
    public static long bytesFor(int[] capacity, int[] kvDim, int[] source) {
        long b = 0;
        for (int l = 0; l < capacity.length; l++) if (source[l] == l) b += 2L * 4 * capacity[l] * kvDim[l];
        return b;
    }

    public int length() {
        return length;
    }

    public int contextLength() {
        return contextLength;
    }

    public int layers() {
        return capacity.length;
    }

    public int capacity(int layer) {
        return capacity[source[layer]];
    }

    public int source(int layer) {
        return source[layer];
    }

    public boolean ownsStorage(int layer) {
        return source[layer] == layer;
    }

    public float[] keys(int layer) {
        return keys[source[layer]];
    }

    public float[] values(int layer) {
        return values[source[layer]];
    }

    /** Offset of position {@code pos} in {@link #keys(int)} / {@link #values(int)} of that layer. */
    public int offset(int layer, int pos) {
        int src = source[layer];
        return (pos % capacity[src]) * kvDim[src];
    }

    /** Stores K and V of one position for a layer that owns storage. */
    public void put(int layer, int pos, float[] k, int kOff, float[] v, int vOff) {
        int o = offset(layer, pos);
        System.arraycopy(k, kOff, keys[layer], o, kvDim[layer]);
        System.arraycopy(v, vOff, values[layer], o, kvDim[layer]);
    }

    /** Marks {@code n} more positions as processed. */
    public void advance(int n) {
        if (length + n > contextLength) throw new IllegalStateException("context full: " + (length + n) + " > " + contextLength);
        length += n;
    }

    public int remaining() {
        return contextLength - length;
    }

    /**
     * Whether the cache can be rewound to {@code pos} without losing entries a later token needs: every ring layer
     * must still hold the {@code capacity} positions before {@code pos}, i.e. none of them has been overwritten.
     */
    public boolean canTruncateTo(int pos) {
        if (pos > length || pos < 0) return false;
        if (pos == length) return true;
        for (int l = 0; l < capacity.length; l++) {
            // a ring of C slots holds positions [length-C, length); rewinding needs [pos-C, pos) intact,
            // which holds only while nothing has wrapped yet
            if (source[l] == l && capacity[l] < contextLength && length > capacity[l]) return false;
        }
        return true;
    }

    /** Rewinds to {@code pos}; see {@link #canTruncateTo(int)}. */
    public void truncate(int pos) {
        if (!canTruncateTo(pos)) throw new IllegalStateException("cannot rewind the sliding-window cache from " + length + " to " + pos);
        length = pos;
    }

    public void clear() {
        length = 0;
    }

    /** Deep copy of the current state; restore with {@link #restore(Snapshot)}. */
    public Snapshot snapshot() {
        float[][] k = new float[keys.length][], v = new float[values.length][];
        for (int l = 0; l < keys.length; l++) {
            if (keys[l] == null) continue;
            k[l] = Arrays.copyOf(keys[l], keys[l].length);
            v[l] = Arrays.copyOf(values[l], values[l].length);
        }
        return new Snapshot(length, k, v);
    }

    public void restore(Snapshot s) {
        for (int l = 0; l < keys.length; l++) {
            if (keys[l] == null) continue;
            System.arraycopy(s.keys[l], 0, keys[l], 0, keys[l].length);
            System.arraycopy(s.values[l], 0, values[l], 0, values[l].length);
        }
        length = s.length;
    }

    public long memoryBytes() {
        long b = 0;
        for (int l = 0; l < keys.length; l++) if (keys[l] != null) b += 8L * keys[l].length;
        return b;
    }

    /** An immutable copy of a cache's contents at some length. */
    public record Snapshot(int length, float[][] keys, float[][] values) {
    }
}
