package dev.jemma.core.model;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;

/**
 * Gemma 3n per-layer embeddings (PLE): every layer gets a P-wide input of its own per token, the mix of a
 * token-indexed table row and a projection of the token's main embedding (HF {@code get_per_layer_inputs} +
 * {@code project_per_layer_inputs}):
 * <pre>
 *   tok[l]  = per_layer_token_embd[token][l·P .. l·P+P) · √P
 *   proj[l] = RMSNorm( (per_layer_model_proj · h0)[l·P .. l·P+P) · (1/√E), per_layer_proj_norm )
 *   ple[l]  = (proj[l] + tok[l]) · (1/√2)
 * </pre>
 * The table is the bulk of a Gemma 3n file (E4B: 35·256 × 262 400 weights) and stays memory-mapped: each token
 * reads only its own row, and only the P-slices of the layers the model runs (a MatFormer slice skips the rest).
 * Tokens outside the table (ids ≥ its rows) use row 0, as HF does.
 */
public final class PerLayerEmbedding {
    private final WeightMatrix table;
    /** One view of per_layer_model_proj per run of consecutive kept file layers. */
    private final WeightMatrix[] projRuns;
    private final int[] runFirstLayer;
    private final float[] projNorm;
    private final int[] fileLayer;
    private final int p, dim;
    private final float eps, tokScale, projScale, mixScale;

    /**
     * @param table     per_layer_token_embd: rows = tokens, cols = fileLayers · P (mapped, never copied)
     * @param proj      per_layer_model_proj: fileLayers · P rows of {@code dim}
     * @param fileLayer for each model layer its file block; the layer's slices are columns / rows fileLayer·P…
     */
    public PerLayerEmbedding(WeightMatrix table, WeightMatrix proj, float[] projNorm, int[] fileLayer, int p, int dim, float eps) {
        if (p % table.type().blockSize != 0) {
            throw new IllegalArgumentException(table.name() + ": per-layer width " + p + " is not a multiple of its "
                    + table.type() + " block size " + table.type().blockSize);
        }
        this.table = table;
        this.projNorm = projNorm;
        this.fileLayer = fileLayer.clone();
        this.p = p;
        this.dim = dim;
        this.eps = eps;
        this.tokScale = (float) Math.sqrt(p);
        this.projScale = (float) (1.0 / Math.sqrt(dim));
        this.mixScale = (float) (1.0 / Math.sqrt(2.0));
        // consecutive file layers share one contiguous block of projection rows: one matmul per run
        int runs = 0;
        for (int l = 0; l < fileLayer.length; l++) if (l == 0 || fileLayer[l] != fileLayer[l - 1] + 1) runs++;
        projRuns = new WeightMatrix[runs];
        runFirstLayer = new int[runs];
        long rowBytes = proj.rowBytes();
        for (int l = 0, r = -1; l < fileLayer.length; l++) {
            if (l == 0 || fileLayer[l] != fileLayer[l - 1] + 1) runFirstLayer[++r] = l;
            int end = l + 1;
            if (end == fileLayer.length || fileLayer[end] != fileLayer[l] + 1) {
                int first = runFirstLayer[r], rows = (end - first) * p;
                projRuns[r] = new WeightMatrix(proj.name() + "[layers " + fileLayer[first] + ".." + fileLayer[l] + "]",
                        proj.data().asSlice((long) fileLayer[first] * p * rowBytes, rows * rowBytes), proj.type(), rows, proj.cols());
            }
        }
    }

    public int layers() {
        return fileLayer.length;
    }

    /** Rows of the token table (the PLE vocabulary). */
    public int tableRows() {
        return table.rows();
    }

    /** The mapped token table's bytes. */
    public java.lang.foreign.MemorySegment table() {
        return table.data();
    }

    /** Bytes of the mapped token table (for the memory report: mapped, not in fast memory). */
    public long tableBytes() {
        return table.rowBytes() * table.rows();
    }

    /**
     * Computes ple for {@code count} tokens whose scaled main embeddings are {@code h0[t·dim…]}; writes
     * {@code out[(t·layers + l)·P …]}.
     */
    public void compute(int[] tokens, int offset, int count, float[] h0, float[] out, MatMul matmul, ThreadPool pool) {
        compute(tokens, offset, count, h0, out, new float[count * fileLayer.length * p], matmul, pool);
    }

    /**
     * As above with the caller's scratch for the projection: {@code projOut} holds count · layers · P floats. Every
     * token's row is computed alone — the table part inside the first projection's quantization loop, the mix across the
     * pool — so the result does not depend on how the rows are split.
     */
    public void compute(int[] tokens, int offset, int count, float[] h0, float[] out, float[] projOut, MatMul matmul, ThreadPool pool) {
        if (ThreadPool.inline(pool, count)) {
            // a decode step's few rows: the same loops on this thread, with no task objects
            tableRows(tokens, offset, 0, count, out);
            for (int r = 0; r < projRuns.length; r++) {
                matmul.matmul(projRuns[r], h0, count, projOut, pool);
                mixRows(r, 0, count, projOut, out);
            }
            return;
        }
        final ThreadPool.RangeTask tableRows = (t0, t1, worker) -> tableRows(tokens, offset, t0, t1, out);
        for (int r = 0; r < projRuns.length; r++) {
            final int run = r;
            matmul.matmul(projRuns[r], h0, count, projOut, pool, r == 0 ? tableRows : NOTHING);
            ThreadPool.rows(pool, count, (t0, t1, worker) -> mixRows(run, t0, t1, projOut, out));
        }
    }

    private static final ThreadPool.RangeTask NOTHING = (t0, t1, worker) -> { };

    /** The token-table part of rows [t0, t1): one mapped row per token, only the kept layers' slices. */
    private void tableRows(int[] tokens, int offset, int t0, int t1, float[] out) {
        final int n = fileLayer.length, stride = n * p;
        for (int t = t0; t < t1; t++) {
            int tok = tokens[offset + t];
            int row = tok >= 0 && tok < table.rows() ? tok : 0;
            for (int l = 0; l < n; l++) {
                int o = t * stride + l * p;
                table.dequantizeRowPart(row, fileLayer[l] * p, p, out, o);
                VectorOps.scale(out, o, p, tokScale);
            }
        }
    }

    /** Rows [t0, t1) of projection run {@code r} (in projOut), scaled, normed and mixed into the table part in out. */
    private void mixRows(int r, int t0, int t1, float[] projOut, float[] out) {
        final int rows = projRuns[r].rows(), first = runFirstLayer[r], stride = fileLayer.length * p;
        for (int t = t0; t < t1; t++) {
            for (int i = 0; i < rows / p; i++) {
                int src = t * rows + i * p, dst = t * stride + (first + i) * p;
                VectorOps.scale(projOut, src, p, projScale);
                VectorOps.rmsNorm(projOut, src, p, projNorm, eps);
                for (int e = 0; e < p; e++) out[dst + e] = (projOut[src + e] + out[dst + e]) * mixScale;
            }
        }
    }
}
