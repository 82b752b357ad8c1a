package dev.jemma.core.model;

import java.util.List;

/**
 * Hyper-parameters shared by the Gemma 3 family, read from GGUF metadata. Per-layer values are arrays (gemma.cpp's
 * "sizes are data"): whether a layer slides, its rope base and scale, and its FFN width.
 *
 * @param warnings one line per default applied because a key was missing
 */
public record ModelConfig(
        String architecture,
        String name,
        int layers,
        int dim,
        int[] ffnDim,
        int heads,
        int kvHeads,
        int headDim,
        int valueDim,
        float rmsEps,
        int contextLength,
        int slidingWindow,
        boolean[] sliding,
        float[] ropeBase,
        float[] ropeScale,
        float attentionScale,
        float finalSoftcap,
        int vocabSize,
        float embedScale,
        List<String> warnings) {

    public int qDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    public int globalLayerCount() {
        int n = 0;
        for (boolean s : sliding) if (!s) n++;
        return n;
    }

    /** Like "5 local : 1 global (global layers 5, 11, …)". */
    public String layerPattern() {
        StringBuilder g = new StringBuilder();
        for (int l = 0; l < layers; l++) {
            if (!sliding[l]) {
                if (g.length() > 0) g.append(',');
                g.append(l);
            }
        }
        int global = globalLayerCount();
        return (layers - global) + " sliding (window " + slidingWindow + ") + " + global + " global [" + g + "]";
    }
}
