package dev.jemma.core.kv;

import java.util.Arrays;

/**
 * The shape of a model's KV cache, independent of the context length: per layer its sliding window (a ring of
 * {@code min(window, context)} slots; 0 = one slot per context position), its width (floats per slot: kv heads ×
 * head dim) and the layer whose storage it reads (itself unless it shares another layer's K/V, as Gemma 3n's last
 * layers do; a sharing layer costs nothing). The one KV-size formula: both {@link #newCache} and the memory plan
 * ({@link #bytes}) use it, so what is planned is what is allocated.
 */
public record KvLayout(int[] window, int[] kvDim, int[] source) {
    public KvLayout {
        if (window.length != kvDim.length || window.length != source.length) {
            throw new IllegalArgumentException("KV layout arrays differ in length");
        }
        window = window.clone();
        kvDim = kvDim.clone();
        source = source.clone();
    }

    public int layers() {
        return window.length;
    }

    public boolean ownsStorage(int layer) {
        return source[layer] == layer;
    }

    /** Slots layer {@code layer} keeps for a context of {@code contextLength} positions. */
    public int capacity(int layer, int contextLength) {
        return window[layer] > 0 ? Math.min(window[layer], contextLength) : contextLength;
    }

    /** Bytes of f32 keys + values for {@code contextLength} positions (layers that borrow storage cost nothing). */
    public long bytes(int contextLength) {
        if (contextLength <= 0) return 0;
        long b = 0;
        for (int l = 0; l < layers(); l++) if (ownsStorage(l)) b += 2L * 4 * capacity(l, contextLength) * kvDim[l];
        return b;
    }

    /** Bytes per ring slot, summed over the owning sliding layers. */
    public long slotBytes() {
        long b = 0;
        for (int l = 0; l < layers(); l++) if (ownsStorage(l) && window[l] > 0) b += 2L * 4 * kvDim[l];
        return b;
    }

    /** Bytes per context position, summed over the owning full-attention layers. */
    public long positionBytes() {
        long b = 0;
        for (int l = 0; l < layers(); l++) if (ownsStorage(l) && window[l] <= 0) b += 2L * 4 * kvDim[l];
        return b;
    }

    /** Largest sliding window (0 when no layer slides). */
    public int maxWindow() {
        return Arrays.stream(window).max().orElse(0);
    }

    /** Allocates a cache of this shape for up to {@code contextLength} positions. */
    public KvCache newCache(int contextLength) {
        int n = layers();
        int[] cap = new int[n];
        for (int l = 0; l < n; l++) cap[l] = capacity(l, contextLength);
        return new KvCache(cap, kvDim, source, contextLength);
    }
}
