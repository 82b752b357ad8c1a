package dev.jemma.core.model;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.kernels.FastMatMul;

import java.util.ArrayList;
import java.util.List;

/**
 * sentence-transformers' pipeline over a Gemma 3 stack, as EmbeddingGemma's {@code modules.json} lists it:
 * <pre>
 *   h      = Transformer(ids)                 last hidden states, after the final norm   [tokens × hidden]
 *   p      = Pooling(h)                       mean over every token (bos, eos, prompt included), or first / last
 *   d      = dense_3 · (dense_2 · p)          no bias, identity activation (EmbeddingGemma; absent for chat models)
 *   e      = d / ‖d‖₂                         Normalize
 * </pre>
 * Many texts run as one {@link Batch#encoder encoder batch}: every matmul over all of their tokens, attention within
 * each text only, so a text's vector does not depend on what it was batched with.
 */
final class SentenceEmbeddingModel implements EmbeddingModel {
    private final Gemma3Model encoder;
    private final Pooling pooling;
    private final WeightMatrix[] dense;
    private final MatMul matmul;
    private final ThreadPool pool;
    private final int maxTokens;

    /** @param dense the projections applied after pooling, in order (empty for none) */
    SentenceEmbeddingModel(Gemma3Model encoder, Pooling pooling, WeightMatrix[] dense, MatMul matmul, ThreadPool pool, int maxTokens) {
        if (pooling != Pooling.MEAN && pooling != Pooling.CLS && pooling != Pooling.LAST) {
            throw new IllegalArgumentException("pooling " + pooling + " does not give one vector per text");
        }
        this.encoder = encoder;
        this.pooling = pooling;
        this.dense = dense.clone();
        this.matmul = matmul;
        this.pool = pool;
        this.maxTokens = maxTokens;
    }

    @Override
    public ModelConfig config() {
        return encoder.config();
    }

    @Override
    public int dimension() {
        return dense.length == 0 ? encoder.config().dim() : dense[dense.length - 1].rows();
    }

    @Override
    public int maxTokens() {
        return maxTokens;
    }

    @Override
    public Pooling pooling() {
        return pooling;
    }

    @Override
    public Stages run(List<int[]> texts) {
        for (int[] t : texts) {
            if (t.length > maxTokens) {
                throw new dev.jemma.core.JemmaException("a text of " + t.length + " tokens exceeds this model's " + maxTokens);
            }
        }
        final int n = texts.size(), dim = encoder.config().dim();
        final float[] hidden = encoder.hidden(Batch.encoder(padded(texts)));
        final float[] pooled = new float[n * dim];
        final int[] first = new int[n + 1];
        for (int i = 0; i < n; i++) first[i + 1] = first[i] + texts.get(i).length;
        // texts × column blocks across the pool: at 8 × 512 tokens a serial pass over the states was ~0.1 % of the call
        // with the other threads idle
        final int blocks = (dim + POOL_COLUMNS - 1) / POOL_COLUMNS;
        pool.parallelFor(n * blocks, (i0, i1, worker) -> {
            for (int i = i0; i < i1; i++) {
                int text = i / blocks, j0 = (i % blocks) * POOL_COLUMNS;
                pool(hidden, first[text], first[text + 1] - first[text], dim, j0, Math.min(dim, j0 + POOL_COLUMNS), pooled, text * dim);
            }
        });
        // each text's token states are copied out only when asked for (the conformance path): embed() needs none
        List<float[]> tokens = new java.util.AbstractList<>() {
            @Override
            public float[] get(int i) {
                return java.util.Arrays.copyOfRange(hidden, first[i] * dim, first[i + 1] * dim);
            }

            @Override
            public int size() {
                return n;
            }
        };
        List<float[][]> stages = new ArrayList<>();
        float[] x = pooled;
        for (WeightMatrix d : dense) {
            float[] y = new float[n * d.rows()];
            matmul.matmul(d, x, n, y, pool);
            stages.add(rows(y, n, d.rows()));
            x = y;
        }
        float[][] embeddings = rows(x, n, x.length / n);
        for (float[] e : embeddings) EmbeddingModel.normalize(e, e.length);
        return new Stages(tokens, rows(pooled, n, dim), List.copyOf(stages), embeddings);
    }

    /**
     * The texts, repeated until they have at least {@link FastMatMul#BATCH_MIN_TOKENS} tokens: below that the default-mode
     * matmuls take their single-token kernels (int8 activations), whose rounding would make a lone short text's vector
     * differ from the same text's in a larger batch. The copies are separate sequences, so they change nothing else.
     */
    private static List<int[]> padded(List<int[]> texts) {
        int tokens = 0;
        for (int[] t : texts) tokens += t.length;
        if (tokens >= FastMatMul.BATCH_MIN_TOKENS) return texts;
        List<int[]> out = new ArrayList<>(texts);
        while (tokens < FastMatMul.BATCH_MIN_TOKENS) {
            for (int[] t : texts) {
                out.add(t);
                tokens += t.length;
            }
        }
        return out;
    }

    /** Columns per pooling work item: a text's states are read row by row, 256 bytes of each. */
    private static final int POOL_COLUMNS = 64;

    /** Columns [j0, j1) of the pooled vector of the text whose {@code len} states start at row {@code row}. */
    private void pool(float[] h, int row, int len, int dim, int j0, int j1, float[] out, int off) {
        switch (pooling) {
            case CLS -> System.arraycopy(h, row * dim + j0, out, off + j0, j1 - j0);
            case LAST -> System.arraycopy(h, (row + len - 1) * dim + j0, out, off + j0, j1 - j0);
            default -> {
                // summed in double, token by token in order (as before, a column at a time): a long text's mean stays as
                // exact as the reference's; row-major, so each state row is read once, contiguously
                double[] s = new double[j1 - j0];
                for (int t = 0; t < len; t++) {
                    int o = (row + t) * dim;
                    for (int j = j0; j < j1; j++) s[j - j0] += h[o + j];
                }
                for (int j = j0; j < j1; j++) out[off + j] = (float) (s[j - j0] / len);
            }
        }
    }

    private static float[][] rows(float[] flat, int n, int width) {
        float[][] r = new float[n][width];
        for (int i = 0; i < n; i++) System.arraycopy(flat, i * width, r[i], 0, width);
        return r;
    }

    @Override
    public void close() {
        encoder.close();
    }
}
