package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.kv.KvLayout;
import dev.jemma.core.memory.WeightCopy;
import dev.jemma.core.repack.RepackCache;
import dev.jemma.core.tensor.ThreadPool;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Gemma 3n text ({@code gemma3n}): {@link Gemma3nModel}, with its extra parameters in {@link Gemma3nConfig} and an
 * optional MatFormer slice cut at load time. Sizes here are of the model as loaded (sliced when asked).
 */
final class Gemma3nArchitecture implements Architecture {
    @Override
    public String name() {
        return "gemma3n";
    }

    /** Gemma 3n's defaults: 4 sliding layers to 1 global; attention scale 1 (q/k norms do the scaling); embeddings × sqrt(dim). */
    @Override
    public ModelConfig readConfig(GgufFile file) {
        ModelConfig c = ConfigReader.read(file, 5);
        ModelConfig scaled = c.withScales(ConfigReader.hasAttentionScale(file) ? c.attentionScale() : 1.0f, (float) Math.sqrt(c.dim()));
        Gemma3nModel.checkWeights(file, scaled);
        return scaled;
    }

    @Override
    public boolean supportsMatformer() {
        return true;
    }

    @Override
    public LanguageModel load(GgufFile file, ModelConfig config, ModelLoader.Options options, ThreadPool pool, boolean ownsFile) {
        return new Gemma3nModel(file, config, slice(options.matformer()), ModelLoader.matmulFor(options), pool, options.maxBatch(), ownsFile,
                Gemma3nScheme.of(options));
    }

    private static MatFormer slice(String matformer) {
        return matformer == null ? null : MatFormer.parse(matformer);
    }

    @Override
    public KvLayout kvLayout(GgufFile file, ModelConfig config, String matformer) {
        Gemma3nConfig.Loaded loaded = Gemma3nConfig.read(file, config, slice(matformer));
        return loaded.config().kvLayout(loaded.gemma3n().kvSource());
    }

    @Override
    public long scratchBytes(GgufFile f, ModelConfig base, int maxBatch, String matformer) {
        Gemma3nConfig.Loaded loaded = Gemma3nConfig.read(f, base, slice(matformer));
        return Gemma3nModel.scratchBytes(loaded.config(), loaded.gemma3n(), maxBatch);
    }

    /**
     * The output projection and, where this JVM's {@link Gemma3nScheme} gives the layers int8 activations, every kept
     * layer's matrices, in the model's order ({@code Gemma3nModel.Layer#matrices}), narrowed and named as a MatFormer
     * slice narrows them; a slice's copy is a cache part of its own ({@code Gemma3nModel#cachePart}).
     */
    @Override
    public WeightCopy weightCopy(GgufFile file, ModelConfig config, String matformer, java.nio.file.Path dir) {
        MatFormer slice = slice(matformer);
        Gemma3nConfig.Loaded loaded = Gemma3nConfig.read(file, config, slice);
        ModelConfig c = loaded.config();
        Gemma3nConfig g = loaded.gemma3n();
        List<RepackCache.Matrix> m = new ArrayList<>();
        m.add(RepackCache.Matrix.of(file.tensor(file.tensor("output.weight") != null ? "output.weight" : "token_embd.weight")));
        Gemma3nScheme scheme = Gemma3nScheme.chosen();
        for (int l = 0; scheme.layersInt8() && l < c.layers(); l++) {
            String pre = "blk." + g.fileLayer()[l] + ".";
            int ffn = c.ffnDim()[l];
            m.add(RepackCache.Matrix.of(file.tensor(pre + "attn_q.weight")));
            if (!g.sharesKv(l)) {
                m.add(RepackCache.Matrix.of(file.tensor(pre + "attn_k.weight")));
                m.add(RepackCache.Matrix.of(file.tensor(pre + "attn_v.weight")));
            }
            m.add(RepackCache.Matrix.of(file.tensor(pre + "attn_output.weight")));
            for (String rows : new String[]{"ffn_gate.weight", "ffn_up.weight"}) {
                RepackCache.Matrix full = RepackCache.Matrix.of(file.tensor(pre + rows));
                m.add(full.rows() > ffn ? new RepackCache.Matrix(full.name() + "[:" + ffn + "]", full.type(), ffn, full.cols()) : full);
            }
            RepackCache.Matrix down = RepackCache.Matrix.of(file.tensor(pre + "ffn_down.weight"));
            m.add(down.cols() > ffn ? new RepackCache.Matrix(down.name() + "[:, :" + ffn + "]", down.type(), down.rows(), ffn) : down);
            for (String s : new String[]{"laurel_l.weight", "laurel_r.weight", "altup_router.weight", "inp_gate.weight", "proj.weight"}) {
                m.add(RepackCache.Matrix.of(file.tensor(pre + s)));
            }
        }
        return RepackCache.plan(file, Gemma3nModel.cachePart(scheme, slice), m, dir);
    }

    /**
     * The bytes the (possibly sliced) model reads: none of a skipped block or of the K/V projections of a layer that
     * shares K/V, a prefix of the rows of gate/up and of the columns of down for a narrowed FFN (the model maps the
     * gate/up prefix and copies the down columns once), all of every other tensor. The per-layer-embedding table is
     * read a row per token: mapped. The towers of a single-file model ({@code v.*}, {@code a.*}, {@code mm.*}) are the
     * encoders', not the text model's: not counted, as an mmproj file beside the model is not.
     */
    @Override
    public WeightUse weightUse(GgufFile file, ModelConfig config, String matformer) {
        Gemma3nConfig.Loaded loaded = Gemma3nConfig.read(file, config, slice(matformer));
        ModelConfig mc = loaded.config();
        Gemma3nConfig g = loaded.gemma3n();
        int[] modelLayer = new int[g.fileLayers()];
        Arrays.fill(modelLayer, -1);
        for (int l = 0; l < mc.layers(); l++) modelLayer[g.fileLayer()[l]] = l;
        long weights = 0, mapped = 0;
        for (GgufTensorInfo t : file.tensors().values()) {
            long bytes = usedBytes(t, modelLayer, mc, g);
            weights += bytes;
            if (t.name().equals("per_layer_token_embd.weight")) mapped += bytes;
        }
        return new WeightUse(weights, mapped);
    }

    private static long usedBytes(GgufTensorInfo t, int[] modelLayer, ModelConfig mc, Gemma3nConfig g) {
        String name = t.name();
        if (name.startsWith("v.") || name.startsWith("a.") || name.startsWith("mm.")) return 0;
        if (!name.startsWith("blk.")) return t.byteSize();
        int dot = name.indexOf('.', 4);
        int fl;
        try {
            fl = Integer.parseInt(name.substring(4, dot));
        } catch (RuntimeException e) {
            return t.byteSize();
        }
        if (fl < 0 || fl >= modelLayer.length || modelLayer[fl] < 0) return 0;
        int l = modelLayer[fl];
        String rest = name.substring(dot + 1);
        if (g.sharesKv(l) && (rest.startsWith("attn_k.") || rest.startsWith("attn_v.") || rest.startsWith("attn_k_norm."))) return 0;
        int ffn = mc.ffnDim()[l];
        long[] d = t.dims();
        if (d.length == 2 && (rest.startsWith("ffn_gate.") || rest.startsWith("ffn_up.")) && d[1] > ffn) {
            return t.byteSize() / d[1] * ffn;
        }
        if (d.length == 2 && rest.startsWith("ffn_down.") && d[0] > ffn) {
            return t.type().bytesFor(ffn) * d[1];
        }
        return t.byteSize();
    }
}
