package dev.jemma.core.model;

import dev.jemma.core.kv.KvLayout;

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

    /** The KV cache every layer owns: a ring of {@link #slidingWindow} slots on sliding layers, the context on the others. */
    public KvLayout kvLayout() {
        int[] source = new int[layers];
        for (int l = 0; l < layers; l++) source[l] = l;
        return kvLayout(source);
    }

    /** As {@link #kvLayout()}, with layer {@code l} reading layer {@code source[l]}'s storage (KV sharing). */
    public KvLayout kvLayout(int[] source) {
        int[] window = new int[layers], dims = new int[layers];
        for (int l = 0; l < layers; l++) {
            window[l] = sliding[l] ? slidingWindow : 0;
            dims[l] = kvDim();
        }
        return new KvLayout(window, dims, source);
    }

    /** This config with another attention scale and embedding scale (an architecture's defaults, see {@link ConfigReader}). */
    public ModelConfig withScales(float attentionScale, float embedScale) {
        return new ModelConfig(architecture, name, layers, dim, ffnDim, heads, kvHeads, headDim, valueDim, rmsEps, contextLength,
                slidingWindow, sliding, ropeBase, ropeScale, attentionScale, finalSoftcap, vocabSize, embedScale, warnings);
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
