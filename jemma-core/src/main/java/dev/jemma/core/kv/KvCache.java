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
    /**
     * Most floats one backing array holds. A cache's layers are packed one after the other into as few arrays as fit
     * (one for keys and one for values in all but the largest models) rather than one array per layer: G1 gives every
     * array of half a heap region or more whole regions of its own (1 MB regions at a serving heap's size), so a 1B
     * model's 512 KB sliding-layer arrays took 1 MB each and its 8 MB global ones 9 MB — 116 MB a cache where 86 are
     * used, 30 % more KV memory than the plan counts. Packed, a cache wastes less than one region per array.
     */
    static final int MAX_ARRAY_FLOATS = Integer.MAX_VALUE - 16;

    private final int[] capacity;
    private final int[] source;
    private final int[] kvDim;
    /** Per layer that owns storage: its backing arrays (shared with the layers packed beside it) and its first float there. */
    private final float[][] keys;
    private final float[][] values;
    private final int[] base;
    /** The distinct backing arrays, in order. */
    private final float[][] keyArrays, valueArrays;
    private final int contextLength;
    private int length;

    /**
     * @param capacity      slots per layer (context length for global layers, the window for sliding ones)
     * @param kvDim         floats per slot per layer (kv heads × head dim)
     * @param source        for each layer the layer whose storage it reads (itself unless shared)
     * @param contextLength maximum positions
     */
    public KvCache(int[] capacity, int[] kvDim, int[] source, int contextLength) {
        this(capacity, kvDim, source, contextLength, MAX_ARRAY_FLOATS);
    }

    /** As the public constructor, with at most {@code maxArrayFloats} floats per backing array (tests: several arrays). */
    KvCache(int[] capacity, int[] kvDim, int[] source, int contextLength, int maxArrayFloats) {
        int n = capacity.length;
        this.capacity = capacity.clone();
        this.kvDim = kvDim.clone();
        this.source = source.clone();
        this.contextLength = contextLength;
        keys = new float[n][];
        values = new float[n][];
        base = new int[n];
        // first fit in layer order: each array takes layers until the next would pass the limit
        int[] arrayOf = new int[n];
        java.util.List<Long> sizes = new java.util.ArrayList<>();
        long filled = 0;
        for (int l = 0; l < n; l++) {
            if (source[l] != l) continue;
            long size = (long) capacity[l] * kvDim[l];
            if (size > maxArrayFloats) {
                throw new IllegalArgumentException("KV cache layer " + l + " too large: " + size + " floats; reduce the context length");
            }
            if (sizes.isEmpty() || filled + size > maxArrayFloats) {
                sizes.add(0L);
                filled = 0;
            }
            arrayOf[l] = sizes.size() - 1;
            base[l] = (int) filled;
            filled += size;
            sizes.set(sizes.size() - 1, filled);
        }
        keyArrays = new float[sizes.size()][];
        valueArrays = new float[sizes.size()][];
        for (int a = 0; a < sizes.size(); a++) {
            keyArrays[a] = new float[(int) (long) sizes.get(a)];
            valueArrays[a] = new float[(int) (long) sizes.get(a)];
        }
        for (int l = 0; l < n; l++) {
            if (source[l] != l) continue;
            keys[l] = keyArrays[arrayOf[l]];
            values[l] = valueArrays[arrayOf[l]];
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

    /**
     * Offset of position {@code pos} in {@link #keys(int)} / {@link #values(int)} of that layer (arrays other layers
     * share: a layer's slots start at its own base).
     */
    public int offset(int layer, int pos) {
        int src = source[layer];
        return base[src] + (pos % capacity[src]) * kvDim[src];
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
        float[][] k = new float[keyArrays.length][], v = new float[valueArrays.length][];
        for (int a = 0; a < keyArrays.length; a++) {
            k[a] = keyArrays[a].clone();
            v[a] = valueArrays[a].clone();
        }
        return new Snapshot(length, k, v);
    }

    public void restore(Snapshot s) {
        for (int a = 0; a < keyArrays.length; a++) {
            System.arraycopy(s.keys[a], 0, keyArrays[a], 0, keyArrays[a].length);
            System.arraycopy(s.values[a], 0, valueArrays[a], 0, valueArrays[a].length);
        }
        length = s.length;
    }

    public long memoryBytes() {
        long b = 0;
        for (float[] a : keyArrays) b += 8L * a.length;
        return b;
    }

    /** A copy of a cache's contents at some length: its backing arrays, keys and values. */
    public record Snapshot(int length, float[][] keys, float[][] values) {
    }
}
