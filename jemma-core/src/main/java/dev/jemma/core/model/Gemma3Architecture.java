package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.kv.KvLayout;
import dev.jemma.core.memory.WeightCopy;
import dev.jemma.core.repack.RepackCache;
import dev.jemma.core.tensor.ThreadPool;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Gemma 3 text ({@code gemma3}): {@link Gemma3Model}. */
final class Gemma3Architecture implements Architecture {
    @Override
    public String name() {
        return "gemma3";
    }

    /**
     * Gemma 3's defaults: 5 sliding layers to 1 global when the file has no pattern key; attention scale
     * query_pre_attn_scalar^-0.5, which is 1/sqrt(head_dim) except for 27B (62 layers: 1/sqrt(dim/heads) = 1/sqrt(168));
     * embeddings scaled by sqrt(dim).
     */
    @Override
    public ModelConfig readConfig(GgufFile file) {
        ModelConfig c = ConfigReader.read(file, 6);
        float attn = c.attentionScale();
        if (!ConfigReader.hasAttentionScale(file) && c.layers() == 62) attn = (float) (1.0 / Math.sqrt((double) c.dim() / c.heads()));
        ModelConfig scaled = c.withScales(attn, (float) Math.sqrt(c.dim()));
        Gemma3Model.checkWeights(file, scaled);
        return scaled;
    }

    @Override
    public LanguageModel load(GgufFile file, ModelConfig config, ModelLoader.Options options, ThreadPool pool, boolean ownsFile) {
        return new Gemma3Model(file, config, ModelLoader.matmulFor(options), pool, options.maxBatch(), ownsFile, ModelLoader.int8(options));
    }

    /**
     * Embeddings from the chat model, as llama.cpp's {@code --embeddings}: the causal stack's last hidden states, pooled
     * (mean unless asked otherwise) and L2-normalised; no dense projections.
     */
    @Override
    public EmbeddingModel loadEmbedding(GgufFile file, ModelConfig config, ModelLoader.Options options, ThreadPool pool,
                                        boolean ownsFile, EmbeddingModel.Pooling pooling) {
        int maxTokens = ModelLoader.embeddingTokens(config, options);
        Gemma3Model encoder = new Gemma3Model(file, config, ModelLoader.matmulFor(options), pool, Math.max(options.maxBatch(), maxTokens),
                ownsFile, ModelLoader.int8(options), null, false);
        return new SentenceEmbeddingModel(encoder, pooling == null ? EmbeddingModel.Pooling.MEAN : pooling,
                new dev.jemma.core.tensor.WeightMatrix[0], ModelLoader.matmulFor(options), pool, maxTokens);
    }

    @Override
    public long embeddingScratchBytes(ModelConfig config, int maxTokens) {
        return Gemma3Model.encoderScratchBytes(config, maxTokens);
    }

    /** The output projection (the embedding when tied) and every layer's seven matrices, in the model's order. */
    @Override
    public WeightCopy weightCopy(GgufFile file, ModelConfig c, String matformer, Path dir) {
        List<RepackCache.Matrix> m = new ArrayList<>();
        m.add(RepackCache.Matrix.of(file.tensor(file.tensor("output.weight") != null ? "output.weight" : "token_embd.weight")));
        for (int l = 0; l < c.layers(); l++) {
            for (String s : Gemma3Model.LAYER_MATRICES) m.add(RepackCache.Matrix.of(file.tensor("blk." + l + "." + s)));
        }
        return RepackCache.plan(file, null, m, dir);
    }

    @Override
    public KvLayout kvLayout(GgufFile file, ModelConfig config, String matformer) {
        return config.kvLayout();
    }

    @Override
    public long scratchBytes(GgufFile file, ModelConfig config, int maxBatch, String matformer) {
        return Gemma3Model.scratchBytes(config, maxBatch);
    }
}
