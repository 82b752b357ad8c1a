package dev.jemma.core.model;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.kv.KvLayout;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.attention.Visibility;

/**
 * EmbeddingGemma ({@code gemma-embedding}): the Gemma 3 stack with bidirectional attention (HF
 * {@code use_bidirectional_attention}), then sentence-transformers' pooling, dense_2, dense_3 and normalisation
 * ({@link SentenceEmbeddingModel}).
 * <ul>
 *   <li>Layer l is global iff l % 6 == 5 (llama.cpp's fixed pattern; the file has no pattern key) and sees every
 *       token; a sliding layer sees |i − j| ≤ W/2 for the file's window W (HF turns W into W/2 + 1 and masks
 *       |i − j| &lt; W/2 + 1).</li>
 *   <li>RoPE bases {@code rope.freq_base} (global) and {@code rope.freq_base_swa} (sliding), embeddings · √dim,
 *       scale 1/√key_length.</li>
 * </ul>
 */
final class GemmaEmbeddingArchitecture implements Architecture {
    static final String NAME = "gemma-embedding";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ModelConfig readConfig(GgufFile file) {
        ModelConfig c = ConfigReader.read(file, 6);
        ModelConfig scaled = c.withScales(c.attentionScale(), (float) Math.sqrt(c.dim()));
        // the encoder is Gemma 3's block stack: every weight it reads checked against the config before loading
        Gemma3Model.checkWeights(file, scaled);
        return scaled;
    }

    @Override
    public boolean generatesText() {
        return false;
    }

    @Override
    public LanguageModel load(GgufFile file, ModelConfig config, ModelLoader.Options options, ThreadPool pool, boolean ownsFile) {
        throw new JemmaException(file.path() + ": an embedding model (" + NAME + "): it makes embeddings, not text"
                + " (use `jemma embed`, /api/embed or /v1/embeddings)");
    }

    @Override
    public EmbeddingModel loadEmbedding(GgufFile file, ModelConfig config, ModelLoader.Options options, ThreadPool pool,
                                        boolean ownsFile, EmbeddingModel.Pooling pooling) {
        EmbeddingModel.Pooling p = pooling != null ? pooling : filePooling(file);
        Visibility[] vis = new Visibility[config.layers()];
        for (int l = 0; l < vis.length; l++) {
            vis[l] = config.sliding()[l] ? Visibility.symmetric(config.slidingWindow() / 2 + 1) : Visibility.BIDIRECTIONAL;
        }
        Gemma3Model.WeightLoader w = new Gemma3Model.WeightLoader(file);
        WeightMatrix[] dense = denseLayers(file, config, w);
        int maxTokens = ModelLoader.embeddingTokens(config, options);
        Gemma3Model encoder = new Gemma3Model(file, config, ModelLoader.matmulFor(options), pool, Math.max(options.maxBatch(), maxTokens),
                ownsFile, ModelLoader.int8(options), vis, false);
        return new SentenceEmbeddingModel(encoder, p, dense, ModelLoader.matmulFor(options), pool, maxTokens);
    }

    /** dense_2 then dense_3 when the file has them, their widths checked against the {@code dense_*_feat_*} keys. */
    private static WeightMatrix[] denseLayers(GgufFile file, ModelConfig c, Gemma3Model.WeightLoader w) {
        if (!w.has("dense_2.weight")) {
            if (w.has("dense_3.weight")) throw file.error("tensor dense_3.weight without dense_2.weight");
            return new WeightMatrix[0];
        }
        int in2 = file.getInt(NAME + ".dense_2_feat_in", c.dim());
        int out2 = file.getInt(NAME + ".dense_2_feat_out", (int) file.tensor("dense_2.weight").rows());
        if (in2 != c.dim()) throw file.error(NAME + ".dense_2_feat_in: value " + in2 + ", expected embedding_length " + c.dim());
        WeightMatrix d2 = w.matrix("dense_2.weight", in2, out2);
        if (!w.has("dense_3.weight")) return new WeightMatrix[]{d2};
        int in3 = file.getInt(NAME + ".dense_3_feat_in", out2);
        int out3 = file.getInt(NAME + ".dense_3_feat_out", (int) file.tensor("dense_3.weight").rows());
        if (in3 != out2) throw file.error(NAME + ".dense_3_feat_in: value " + in3 + ", expected dense_2_feat_out " + out2);
        return new WeightMatrix[]{d2, w.matrix("dense_3.weight", in3, out3)};
    }

    private static EmbeddingModel.Pooling filePooling(GgufFile file) {
        String key = NAME + ".pooling_type";
        if (!file.has(key)) return EmbeddingModel.Pooling.MEAN;
        int v = file.getInt(key, 1);
        EmbeddingModel.Pooling p = EmbeddingModel.Pooling.ofGguf(v);
        if (p != EmbeddingModel.Pooling.MEAN && p != EmbeddingModel.Pooling.CLS && p != EmbeddingModel.Pooling.LAST) {
            throw file.error(key + ": value " + v + " is not supported (1 mean, 2 cls, 3 last)");
        }
        return p;
    }

    /** No KV cache: every text runs whole in one call. */
    /** Every layer's seven matrices (an encoder has no output projection to copy), in the model's order. */
    @Override
    public dev.jemma.core.memory.WeightCopy weightCopy(GgufFile file, ModelConfig c, String matformer, java.nio.file.Path dir) {
        java.util.List<dev.jemma.core.repack.RepackCache.Matrix> m = new java.util.ArrayList<>();
        for (int l = 0; l < c.layers(); l++) {
            for (String s : Gemma3Model.LAYER_MATRICES) m.add(dev.jemma.core.repack.RepackCache.Matrix.of(file.tensor("blk." + l + "." + s)));
        }
        return dev.jemma.core.repack.RepackCache.plan(file, null, m, dir);
    }

    @Override
    public KvLayout kvLayout(GgufFile file, ModelConfig config, String matformer) {
        return new KvLayout(new int[0], new int[0], new int[0]);
    }

    @Override
    public long scratchBytes(GgufFile file, ModelConfig config, int maxBatch, String matformer) {
        return Gemma3Model.encoderScratchBytes(config, maxBatch);
    }

    @Override
    public long embeddingScratchBytes(ModelConfig config, int maxTokens) {
        return Gemma3Model.encoderScratchBytes(config, maxTokens);
    }
}
