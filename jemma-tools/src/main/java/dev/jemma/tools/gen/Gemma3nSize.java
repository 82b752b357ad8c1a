package dev.jemma.tools.gen;

import java.util.Arrays;
import java.util.Locale;

/**
 * The published Gemma 3n text shapes (HF configs of gemma-3n-E2B / E4B): 4 sliding : 1 global layers, KV sharing
 * in the last {@code sharedKvLayers} layers, AltUp with 4 streams, per-layer embeddings of 256 per layer, Laurel
 * rank 64, activation sparsity 0.95 on the first 10 layers, vocabulary padded to 262 400.
 */
public enum Gemma3nSize {
    E2B("e2b", 30, 8192, 10),
    E4B("e4b", 35, 16384, 15);

    public final String label;
    public final int layers, ffn, sharedKvLayers;
    public final int dim = 2048, heads = 8, kvHeads = 2, headDim = 256, window = 512, contextLength = 32768;
    public final int perLayerDim = 256, altupInputs = 4, laurelRank = 64, vocab = 262400, sparseLayers = 10;

    Gemma3nSize(String label, int layers, int ffn, int sharedKvLayers) {
        this.label = label;
        this.layers = layers;
        this.ffn = ffn;
        this.sharedKvLayers = sharedKvLayers;
    }

    public static Gemma3nSize parse(String s) {
        String l = s.toLowerCase(Locale.ROOT);
        for (Gemma3nSize z : values()) if (z.label.equals(l)) return z;
        throw new IllegalArgumentException("unknown Gemma 3n size '" + s + "' (known: "
                + String.join(", ", Arrays.stream(values()).map(z -> z.label).toList()) + ")");
    }
}
