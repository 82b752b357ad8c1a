package dev.jemma.core.model;

import dev.jemma.core.JemmaException;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;

/**
 * The pieces Gemma 3 and Gemma 3n decoders share (HF {@code Gemma3TextScaledWordEmbedding}, the q/k norm + rope of
 * {@code Gemma3Attention}, {@code Gemma3MLP}, the final norm / soft-cap / lm_head), each over a batch of rows so a
 * model file keeps only what is its own. Every block works on caller-owned buffers (a forward's scratch): nothing
 * here holds state, so several forwards may run at once.
 */
final class DecoderBlocks {
    private DecoderBlocks() {
    }

    /** Scaled token embedding (HF Gemma3TextScaledWordEmbedding): {@code out[t] = table[token(t)] · scale}. */
    static void embed(WeightMatrix table, int vocab, float scale, Batch batch, int from, int count, float[] out, int dim) {
        embed(null, table, vocab, scale, batch, from, count, out, dim);
    }

    /** As {@link #embed(WeightMatrix, int, float, Batch, int, int, float[], int)}, rows split across the pool when many. */
    static void embed(ThreadPool pool, WeightMatrix table, int vocab, float scale, Batch batch, int from, int count, float[] out, int dim) {
        if (ThreadPool.inline(pool, count)) embedRows(table, vocab, scale, batch, from, 0, count, out, dim);
        else rows(pool, count, (t0, t1, worker) -> embedRows(table, vocab, scale, batch, from, t0, t1, out, dim));
    }

    private static void embedRows(WeightMatrix table, int vocab, float scale, Batch batch, int from, int t0, int t1, float[] out, int dim) {
        for (int t = t0; t < t1; t++) {
            int r = from + t;
            float[] e = batch.embedding(r);
            if (e != null) {
                // an input embedding (vision / audio soft token): used as given, already at the model's scale
                if (e.length != dim) throw new JemmaException("input embedding of " + e.length + " floats, expected " + dim);
                System.arraycopy(e, 0, out, t * dim, dim);
                continue;
            }
            int tok = batch.token(r);
            if (tok < 0 || tok >= vocab) throw new JemmaException("token id " + tok + " is outside the vocabulary (0.." + (vocab - 1) + ")");
            table.dequantizeRow(tok, out, t * dim);
            VectorOps.scale(out, t * dim, dim, scale);
        }
    }

    /**
     * Per-head RMSNorm of q and k (and the unweighted v norm of Gemma 3n), NeoX rope and the query scale, with the
     * rope angles computed once per token and shared by all of its heads.
     *
     * @param kNorm null when the layer computes no keys (Gemma 3n KV-shared layers)
     * @param vNorm whether v gets an unweighted RMSNorm (Gemma 3n)
     * @param scale query scale (query_pre_attn_scalar^-0.5); 1 skips it
     */
    record QkNormRope(float[] qNorm, float[] kNorm, boolean vNorm, float[] invFreq, float scale, int heads, int kvHeads,
                      int headDim, float eps) {
        /**
         * q is [count × heads·headDim], k and v [count × kvHeads·headDim] (k, v may be null when {@code kNorm} is);
         * row t is at position {@code positions[from + t]}. {@code cos}/{@code sin} hold headDim/2 floats.
         */
        void apply(float[] q, float[] k, float[] v, int[] positions, int from, int count, float[] cos, float[] sin) {
            for (int t = 0; t < count; t++) {
                Ops.ropeAngles(positions[from + t], invFreq, cos, sin);
                applyRow(q, k, v, t, cos, 0, sin, 0);
            }
        }

        /**
         * As {@link #apply(float[], float[], float[], int[], int, int, float[], float[])} with the rope angles of every
         * row already in {@code cos}/{@code sin} (row t's at t·headDim/2, from {@link #angles}), rows split across the
         * pool's threads when there are many: each row is normed and rotated on its own, so the result does not depend
         * on the split.
         */
        void apply(ThreadPool pool, float[] q, float[] k, float[] v, int count, float[] cos, float[] sin) {
            final int half = headDim / 2;
            if (ThreadPool.inline(pool, count)) {
                for (int t = 0; t < count; t++) applyRow(q, k, v, t, cos, t * half, sin, t * half);
                return;
            }
            rows(pool, count, (t0, t1, worker) -> {
                for (int t = t0; t < t1; t++) applyRow(q, k, v, t, cos, t * half, sin, t * half);
            });
        }

        /**
         * The rope angles of rows [from, from + count) of a batch into cos/sin (row t's at t·headDim/2): a forward
         * computes them once per distinct rope ({@link #invFreq}) and shares them across the layers that use it,
         * instead of one cos and one sin per frequency, row and layer. Same values as {@link Ops#ropeAngles}.
         */
        void angles(ThreadPool pool, int[] positions, int from, int count, float[] cos, float[] sin) {
            final int half = headDim / 2;
            if (ThreadPool.inline(pool, count)) {
                for (int t = 0; t < count; t++) Ops.ropeAngles(positions[from + t], invFreq, cos, sin, t * half);
                return;
            }
            rows(pool, count, (t0, t1, worker) -> {
                for (int t = t0; t < t1; t++) Ops.ropeAngles(positions[from + t], invFreq, cos, sin, t * half);
            });
        }

        private void applyRow(float[] q, float[] k, float[] v, int t, float[] cos, int co, float[] sin, int so) {
            final int hd = headDim, qDim = heads * hd, kvDim = kvHeads * hd;
            for (int h = 0; h < heads; h++) {
                int o = t * qDim + h * hd;
                VectorOps.rmsNorm(q, o, hd, qNorm, eps);
                Ops.rope(q, o, hd, cos, co, sin, so);
                if (scale != 1f) VectorOps.scale(q, o, hd, scale);
            }
            if (kNorm == null) return;
            for (int h = 0; h < kvHeads; h++) {
                int o = t * kvDim + h * hd;
                VectorOps.rmsNorm(k, o, hd, kNorm, eps);
                Ops.rope(k, o, hd, cos, co, sin, so);
                if (vNorm) VectorOps.rmsNorm(v, o, hd, null, eps);
            }
        }
    }

    /** {@link ThreadPool#PARALLEL_ROWS}. */
    static final int PARALLEL_ROWS = ThreadPool.PARALLEL_ROWS;

    /** Runs {@code task} over rows [0, count): across the pool from {@link #PARALLEL_ROWS} rows on, else inline. */
    static void rows(ThreadPool pool, int count, ThreadPool.RangeTask task) {
        ThreadPool.rows(pool, count, task);
    }

    /**
     * Gated FFN (HF Gemma3MLP / Gemma3nTextMLP): {@code out = down(gelu_tanh(gate(x)) ⊙ up(x))} for {@code count}
     * rows. gate and up read the same input in one shared-input matmul, so the int8 paths quantize it once.
     *
     * @param gateUp    {gate, up}
     * @param gateUpOut their outputs {gate, up}, [count × ffn] each; gate ends up holding the down projection's input
     * @param sparsity  Gaussian top-k cutoff for the gate (Gemma 3n's first layers), or NaN for none
     */
    static void gatedFfn(MatMul mm, ThreadPool pool, WeightMatrix[] gateUp, WeightMatrix down, float[] x, int count,
                         float[][] gateUpOut, float[] out, float sparsity) {
        gatedFfn(mm, pool, null, gateUp, down, x, count, gateUpOut, out, sparsity);
    }

    /**
     * As {@link #gatedFfn(MatMul, ThreadPool, WeightMatrix[], WeightMatrix, float[], int, float[][], float[], float)},
     * with {@code prep} (null: none) finishing x's rows first — inside the gate/up matmul's quantization loop where it
     * has one (see {@link MatMul#matmul(WeightMatrix[], float[], int, float[][], ThreadPool, ThreadPool.RangeTask)});
     * the GELU gate runs inside the down projection's the same way.
     */
    static void gatedFfn(MatMul mm, ThreadPool pool, ThreadPool.RangeTask prep, WeightMatrix[] gateUp, WeightMatrix down,
                         float[] x, int count, float[][] gateUpOut, float[] out, float sparsity) {
        final int ffn = gateUp[0].rows();
        final float[] gate = gateUpOut[0], up = gateUpOut[1];
        // the default mode's GELU takes a rational tanh (Ops.geluGateFast); --exact keeps the JDK's
        final MatMul.Gate act = mm == MatMul.EXACT ? Ops::geluGateVector : Ops::geluGateFast;
        // the fast path runs the preparation, gate/up, the activation and the down projection's quantization as one
        // loop (same bits); the Gaussian top-k needs whole rows first
        if (Float.isNaN(sparsity) && mm.gatedFfn(gateUp, down, x, count, gateUpOut, out, act, prep, pool)) return;
        if (prep != null) mm.matmul(gateUp, x, count, gateUpOut, pool, prep);
        else mm.matmul(gateUp, x, count, gateUpOut, pool);
        final boolean sparse = !Float.isNaN(sparsity);
        if (ffn % jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length() == 0) {
            // whole vectors per row: a row's values do not depend on where a thread's share begins, so the top-k and the
            // gate can be applied to each row just before it is quantized for the down projection (two lambdas: one
            // capturing no more than it uses is a smaller object on every decode step)
            if (sparse) {
                mm.matmul(down, gate, count, out, pool, (t0, t1, worker) -> {
                    for (int t = t0; t < t1; t++) gaussianTopK(gate, t * ffn, ffn, sparsity);
                    act.apply(gate, up, t0 * ffn, (t1 - t0) * ffn);
                });
            } else {
                mm.matmul(down, gate, count, out, pool, (t0, t1, worker) -> act.apply(gate, up, t0 * ffn, (t1 - t0) * ffn));
            }
        } else {
            if (sparse) for (int t = 0; t < count; t++) gaussianTopK(gate, t * ffn, ffn, sparsity);
            act.apply(gate, up, 0, count * ffn);
            mm.matmul(down, gate, count, out, pool);
        }
    }

    /**
     * Gaussian top-k activation sparsity (HF {@code _gaussian_topk}): treating the n gate values as normally
     * distributed, keep only the part above {@code mean + std·k} — {@code x = relu(x − (mean + std·k))} — where
     * k = Φ⁻¹(target sparsity) and std is the population std (divide by n, HF {@code unbiased=False}; llama.cpp
     * divides by n−1, which is why it misses the reference). Statistics accumulate in double.
     */
    static void gaussianTopK(float[] x, int off, int n, float k) {
        double sum = 0;
        for (int i = off; i < off + n; i++) sum += x[i];
        float mean = (float) (sum / n);
        double sq = 0;
        for (int i = off; i < off + n; i++) {
            double d = x[i] - (double) mean;
            sq += d * d;
        }
        float std = (float) Math.sqrt(sq / n);
        float cutoff = mean + std * k;
        for (int i = off; i < off + n; i++) x[i] = Math.max(0f, x[i] - cutoff);
    }

    /**
     * Final norm, lm_head and soft-cap: normalizes {@code rows} rows of {@code x} in place with {@code outputNorm}
     * and returns their logits, row-major [rows × vocab], soft-capped when
     * {@code softcap > 0}: in {@code into} when it is long enough (its first rows × vocab floats), else in a new array.
     */
    static float[] logits(MatMul mm, ThreadPool pool, float[] x, int rows, int dim, float[] outputNorm, float eps,
                          WeightMatrix output, float softcap, float[] into) {
        if (rows == 0) return into != null ? into : new float[0];
        Ops.rmsNormRows(x, rows, dim, outputNorm, eps);
        int n = Math.multiplyExact(rows, output.rows());
        float[] result = into != null && into.length >= n ? into : new float[n];
        mm.matmul(output, x, rows, result, pool);
        if (softcap > 0) softcapAcross(pool, result, n, softcap);
        return result;
    }

    /**
     * Floats per row of {@link #softcapAcross}'s split (a few microseconds of Math.tanh each): a 262k vocabulary's row
     * is 33 of them, past {@link ThreadPool#PARALLEL_ROWS}; a small vocabulary's runs on the caller.
     */
    private static final int SOFTCAP_BLOCK = 8192;

    /**
     * {@link Ops#softcap} over x[0, n) split across the pool: Gemma 3n's final soft-cap is Math.tanh on every logit
     * (262,400 per row, ~2.8 ms of one core per generated token at E2B's size, branch outq29), which on the caller
     * alone left the other threads idle. Each value is computed as before, so the same bits.
     */
    static void softcapAcross(ThreadPool pool, float[] x, int n, float cap) {
        int blocks = (n + SOFTCAP_BLOCK - 1) / SOFTCAP_BLOCK;
        ThreadPool.rows(pool, blocks, (b0, b1, worker) -> {
            int from = b0 * SOFTCAP_BLOCK, to = Math.min(n, b1 * SOFTCAP_BLOCK);
            Ops.softcap(x, from, to - from, cap);
        });
    }

    /** One chunk of a forward: rows [from, from + count) of a batch; returns the logits of those that want them. */
    @FunctionalInterface
    interface Rows {
        /** @param into where the logits go when it is long enough (null: a new array) */
        float[] run(int from, int count, float[] into);
    }

    /**
     * One part of a forward longer than the model's scratch: runs rows [from, from + count) through the layers and puts
     * the final hidden states (before the output norm) of those that want logits into {@code dst} from float {@code at}
     * on; returns how many rows it put.
     */
    @FunctionalInterface
    interface Part {
        int run(int from, int count, float[] dst, int at);
    }

    /** The head of a model: the logits of {@code rows} final hidden states of {@code h} (normed in place), in {@code into}. */
    @FunctionalInterface
    interface Head {
        float[] logits(float[] h, int rows, float[] into);
    }

    /**
     * Runs a batch: in one call when it fits the model's scratch ({@code maxBatch} rows), else in parts of at most that
     * many rows, collecting the final hidden states of the rows that want logits in {@code hidden} (grown when short;
     * a holder of one array, kept by the caller's scratch) and running the head once over all of them at the end. A
     * sequence's rows may span parts (each part extends its caches before the next), but a bidirectional span stays in
     * one. The logits go into {@code into} when it holds them (see {@link LanguageModel#forward(Batch, float[])}), else
     * into a new array.
     *
     * <p>Why the head at the end: each part's logits used to come back in a new array (~1 MB per row wanting logits —
     * a serving wave of 8 whole prompts in 16 parts left 8 MB of garbage per wave) to be copied into the result, and the
     * output matrix (the tied embedding, the largest matrix of the model: 262,144 rows) was read once per part that had
     * such a row instead of once.
     */
    static float[] inChunks(Batch b, int maxBatch, int vocab, int dim, float[] into, Rows whole, Part part, float[][] hidden,
                            Head head) {
        b.validate();
        if (b.size() <= maxBatch) return whole.run(0, b.size(), into);
        int need = Math.multiplyExact(b.logitRows(), dim);
        if (hidden[0] == null || hidden[0].length < need) hidden[0] = new float[need];
        float[] h = hidden[0];
        int rows = 0;
        for (int i = 0; i < b.size(); ) {
            int end = b.chunkEnd(i, maxBatch);
            rows += part.run(i, end - i, h, rows * dim);
            i = end;
        }
        int n = Math.multiplyExact(rows, vocab);
        return head.logits(h, rows, into != null && into.length >= n ? into : new float[n]);
    }

    /** Rows from {@code r} on (before {@code end}) that belong to row r's sequence. */
    static int runLength(Batch b, int r, int end) {
        int slot = b.slot(r), n = 1;
        while (r + n < end && b.slot(r + n) == slot) n++;
        return n;
    }

    /** Marks the rows [from, from + count) as processed in their sequences' caches. */
    static void advance(Batch b, int from, int count) {
        for (int r = from; r < from + count; ) {
            int run = runLength(b, r, from + count);
            var cache = b.cache(b.slot(r));
            if (cache != null) cache.advance(run);
            r += run;
        }
    }

    /** Copies the rows of [from, from + count) that want logits, in order, from x to dst; returns how many. */
    static int gatherLogitRows(Batch b, int from, int count, float[] x, float[] dst, int dim) {
        return gatherLogitRows(b, from, count, x, dst, 0, dim);
    }

    /** As {@link #gatherLogitRows(Batch, int, int, float[], float[], int)}, into dst from float {@code at} on. */
    static int gatherLogitRows(Batch b, int from, int count, float[] x, float[] dst, int at, int dim) {
        int n = 0;
        for (int t = 0; t < count; t++) {
            if (b.wantsLogits(from + t)) System.arraycopy(x, t * dim, dst, at + n++ * dim, dim);
        }
        return n;
    }

    /** {@code x += rmsNorm(y)} over rows [r0, r1) (rows of {@code dim} floats): a post-norm residual add, one thread. */
    static void addNormedRows(float[] x, float[] y, int r0, int r1, int dim, float[] norm, float eps) {
        for (int r = r0; r < r1; r++) VectorOps.rmsNorm(y, r * dim, dim, norm, eps);
        VectorOps.add(x, r0 * dim, y, r0 * dim, (r1 - r0) * dim);
    }

    /** {@code dst = rmsNorm(src)} over rows [r0, r1): a pre-norm that keeps its input, one thread. */
    static void normIntoRows(float[] src, float[] dst, int r0, int r1, int dim, float[] norm, float eps) {
        System.arraycopy(src, r0 * dim, dst, r0 * dim, (r1 - r0) * dim);
        for (int r = r0; r < r1; r++) VectorOps.rmsNorm(dst, r * dim, dim, norm, eps);
    }

    /** {@code x += rmsNorm(y)} over {@code rows} rows: a post-norm residual add. */
    static void addNormed(float[] x, float[] y, int rows, int dim, float[] norm, float eps) {
        addNormed(null, x, y, rows, dim, norm, eps);
    }

    /** As {@link #addNormed(float[], float[], int, int, float[], float)}, rows split across the pool when many. */
    static void addNormed(ThreadPool pool, float[] x, float[] y, int rows, int dim, float[] norm, float eps) {
        rows(pool, rows, (r0, r1, worker) -> addNormedRows(x, y, r0, r1, dim, norm, eps));
    }

    /** {@code dst = rmsNorm(src)} over {@code rows} rows (a pre-norm that keeps its input). */
    static void normInto(float[] src, float[] dst, int rows, int dim, float[] norm, float eps) {
        normInto(null, src, dst, rows, dim, norm, eps);
    }

    /** As {@link #normInto(float[], float[], int, int, float[], float)}, rows split across the pool when many. */
    static void normInto(ThreadPool pool, float[] src, float[] dst, int rows, int dim, float[] norm, float eps) {
        rows(pool, rows, (r0, r1, worker) -> normIntoRows(src, dst, r0, r1, dim, norm, eps));
    }
}
