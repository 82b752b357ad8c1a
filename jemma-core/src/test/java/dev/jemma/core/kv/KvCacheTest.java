package dev.jemma.core.kv;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.IdentityHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A cache's layers packed into shared backing arrays: every layer's slots apart from every other's, each position
 * reading back what was stored for it (ring slots of sliding layers, a shared layer reading its source's), and the
 * arrays holding exactly what the memory plan counts ({@link KvCache#bytesFor}).
 */
class KvCacheTest {
    /** A Gemma-3-like pattern: 5 sliding layers (a ring of 16) : 1 global (the context), kv dims 8, 2 layers shared. */
    private static final int LAYERS = 14, CONTEXT = 96, WINDOW = 16;

    private static KvCache cache(int maxArrayFloats) {
        int[] cap = new int[LAYERS], dim = new int[LAYERS], src = new int[LAYERS];
        for (int l = 0; l < LAYERS; l++) {
            cap[l] = l % 6 == 5 ? CONTEXT : WINDOW;
            dim[l] = l % 2 == 0 ? 8 : 16;
            src[l] = l;
        }
        src[12] = 6;    // sliding, reads layer 6's slots (Gemma 3n KV sharing)
        src[13] = 11;   // global, reads layer 11's
        cap[12] = cap[6];
        dim[12] = dim[6];
        cap[13] = cap[11];
        dim[13] = dim[11];
        return new KvCache(cap, dim, src, CONTEXT, maxArrayFloats);
    }

    @ParameterizedTest(name = "at most {0} floats per array")
    @ValueSource(ints = {Integer.MAX_VALUE - 16, 2000, 1536})
    void everyLayerKeepsItsOwnSlots(int maxArrayFloats) {
        KvCache c = cache(maxArrayFloats);
        int[] cap = new int[LAYERS], src = new int[LAYERS];
        for (int l = 0; l < LAYERS; l++) {
            cap[l] = c.capacity(l);
            src[l] = c.source(l);
        }
        // the arrays hold exactly the planned bytes, K and V
        Map<float[], Boolean> arrays = new IdentityHashMap<>();
        for (int l = 0; l < LAYERS; l++) if (c.ownsStorage(l)) arrays.put(c.keys(l), true);
        long floats = arrays.keySet().stream().mapToLong(a -> a.length).sum();
        int[] kvDim = new int[LAYERS];
        for (int l = 0; l < LAYERS; l++) kvDim[l] = l % 2 == 0 ? 8 : 16;
        kvDim[12] = kvDim[6];
        kvDim[13] = kvDim[11];
        assertThat(8 * floats).isEqualTo(c.memoryBytes()).isEqualTo(KvCache.bytesFor(cap, kvDim, src));
        if (maxArrayFloats > 1_000_000) assertThat(arrays).hasSize(1);
        else assertThat(arrays.size()).isGreaterThan(1);
        for (float[] a : arrays.keySet()) assertThat(a.length).isLessThanOrEqualTo(maxArrayFloats);

        // store a value per (layer, position, float) over the whole context (rings wrap 6 times), then read back what
        // every layer must still hold: the last WINDOW positions on sliding layers, all of them on global ones
        for (int p = 0; p < CONTEXT; p++) {
            for (int l = 0; l < LAYERS; l++) {
                if (!c.ownsStorage(l)) continue;
                float[] k = new float[kvDim[l]], v = new float[kvDim[l]];
                for (int i = 0; i < kvDim[l]; i++) {
                    k[i] = value(l, p, i);
                    v[i] = -value(l, p, i);
                }
                c.put(l, p, k, 0, v, 0);
            }
            c.advance(1);
        }
        for (int l = 0; l < LAYERS; l++) {
            int owner = c.source(l);
            for (int p = CONTEXT - c.capacity(l); p < CONTEXT; p++) {
                int o = c.offset(l, p);
                for (int i = 0; i < kvDim[l]; i++) {
                    assertThat(c.keys(l)[o + i]).as("layer %d position %d float %d", l, p, i).isEqualTo(value(owner, p, i));
                    assertThat(c.values(l)[o + i]).isEqualTo(-value(owner, p, i));
                }
            }
        }
    }

    private static float value(int layer, int pos, int i) {
        return 1 + layer * 100_000 + pos * 100 + i;
    }
}
