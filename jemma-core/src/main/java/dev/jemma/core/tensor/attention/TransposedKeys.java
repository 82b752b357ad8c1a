package dev.jemma.core.tensor.attention;

import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;

/**
 * A call's keys transposed per KV head, in panels of {@link #PANEL} keys: dimension d of KV head g of the call's row
 * j at {@link #at}{@code (g, j, d)} = ((g·panels + j / PANEL)·headDim + d)·PANEL + j % PANEL. With keys along the
 * vector, a score tile is a broadcast query element times a vector of keys, summed down the head by fused multiply-adds:
 * no horizontal sum per score (the row-major tile ends every 4 × 4 block with 16 lane reductions, about as many
 * instructions as its multiply-adds at a head of 256). In panels, a tile walking down the head reads consecutive
 * memory at a constant stride (one panel row), which the prefetchers follow and C2 range-checks once per loop; rows of
 * a plain [dimension][key] matrix 2 KB apart (512 keys) fell into the same few L1 sets. Built once per layer by the
 * pool, read by every work item.
 */
final class TransposedKeys {
    /** Keys per panel: the widest score tile (4 vectors at 512 bits, 2 below). */
    static final int PANEL = VectorOps.F.length() >= 16 ? 4 * VectorOps.F.length() : 2 * VectorOps.F.length();
    /** Rows per transposition work item: within one panel, one 64-byte line of each panel row at 16 floats. */
    private static final int ROW_BLOCK = Math.min(16, PANEL);

    private float[] kt = new float[0];
    private int panels, headDim;

    /** Transposes rows [0, rows) of {@code k} (rows of {@code kvHeads × headDim} floats) across the pool. */
    void build(ThreadPool pool, float[] k, int rows, int kvHeads, int headDim) {
        final int p = (rows + PANEL - 1) / PANEL, kvDim = kvHeads * headDim;
        if (kt.length < kvDim * p * PANEL) kt = new float[kvDim * p * PANEL];
        panels = p;
        this.headDim = headDim;
        final float[] t = kt;
        pool.parallelFor((rows + ROW_BLOCK - 1) / ROW_BLOCK, (i0, i1, worker) -> {
            for (int i = i0; i < i1; i++) {
                int j0 = i * ROW_BLOCK, j1 = Math.min(rows, j0 + ROW_BLOCK);
                for (int g = 0; g < kvHeads; g++) {
                    for (int d = 0; d < headDim; d++) {
                        // ROW_BLOCK divides PANEL (powers of two): the block's keys are one contiguous run of a panel row
                        int o = at(g, j0, d) - j0, c = g * headDim + d;
                        for (int j = j0; j < j1; j++) t[o + j] = k[j * kvDim + c];
                    }
                }
            }
        });
    }

    /** Where dimension d of KV head g of row j is. */
    int at(int g, int j, int d) {
        return ((g * panels + j / PANEL) * headDim + d) * PANEL + j % PANEL;
    }

    float[] keys() {
        return kt;
    }

    /** Bytes held now. */
    long bytes() {
        return 4L * kt.length;
    }

    /** The most {@link #bytes} grows to for calls of at most {@code rows} rows of {@code kvDim} floats. */
    static long bytes(int rows, int kvDim) {
        return 4L * kvDim * ((rows + PANEL - 1) / PANEL * PANEL);
    }
}
