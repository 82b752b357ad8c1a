package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The default-mode matmul. A matrix that carries an {@link Interleaved} copy (Q4_0 / Q5_0 / Q8_0 / Q4_K / Q5_K / Q6_K / F16
 * in a Gemma 3 model) runs batches of {@value #GEMM_MIN_TOKENS}+ tokens on {@link Int8Gemm} for Q4_0 / Q5_0 / Q4_K
 * (int8 activations, register-tiled 16-bit integer sums) and on {@link InterleavedGemm} for the others (f32
 * activations, weights decoded exactly); single-token steps run on {@link Int8Kernels} / {@link KQuantKernels} for the quantized
 * types (activations quantized to int8 per 32-block as llama.cpp does, integer block sums, and with
 * {@code -Djemma.int8.residual=true} a second int8 row per token for its rounding error — {@link QuantizedActivations}' residual rows, which the kernels run as
 * extra tokens and {@code Call.addResidual} sums back, so the result is ~15-bit rather than 8-bit accurate) and on
 * {@link InterleavedGemm#gemvF16} for F16 (f32). Calls of a few tokens ({@link Int8FewTokens#minTokens} to {@link Int8FewTokens#maxTokens}: the decode
 * rows of a batched step) over Q4_0 / Q5_0 / Q8_0 / Q4_K / Q6_K copies run on {@link Int8FewTokens}, one pass over the weights for all of
 * them, bit-identical to the single-token kernels per token. Any other matrix keeps f32 activations, in two shapes:
 * <ul>
 *   <li><b>few tokens (decode)</b>: memory-bound matrix × vector; each stored row is streamed once through a fused
 *       decode-and-dot kernel ({@link Kernels#dot}), rows split across threads;</li>
 *   <li><b>{@value #GEMM_MIN_TOKENS}+ tokens (prefill)</b>: compute-bound; each thread decodes 4 weight rows to f32
 *       once and multiplies them with every token of the batch through a 4×4 register-tiled FMA kernel
 *       ({@link Gemm}), so a weight is decoded once per batch instead of once per token.</li>
 * </ul>
 * There activations stay f32 and weights are decoded exactly, so the result equals {@link MatMul#EXACT}'s up to
 * summation order (well inside the fixtures' tolerances). The object itself holds no call's state: each call
 * takes a {@link Call} (the call's matrix, input and output, its quantized activations and per-worker scratch) from a
 * queue of idle ones and hands it back, so concurrent callers (several forwards at once) each get their own, and the
 * hot path allocates nothing once there is one per concurrent caller.
 */
public final class FastMatMul implements MatMul {
    /** From this many tokens on, the GEMM's 4-token tile is full, so decoding a row once and reusing it wins. */
    public static final int GEMM_MIN_TOKENS = 4;

    /**
     * From this many tokens on, every matrix at every width runs its batch kernel, so a token's result no longer depends
     * on how many tokens came with it (what batch-independent embeddings rely on). Below it the path depends on the type
     * and width: the single-token kernels, {@link Int8FewTokens} where {@link Int8FewTokens#maxTokens} takes the count
     * (bit-identical to them), or the batch kernel already (e.g. Q5_0 from 5 tokens at 128 bits).
     */
    public static final int BATCH_MIN_TOKENS = Int8FewTokens.MAX_TOKENS + 1;

    /**
     * A cap on the tokens a call may take on {@link Int8FewTokens} (which takes calls of 2 to {@link Int8FewTokens#maxTokens}
     * tokens, per type and width, measured): {@link Int8FewTokens#MAX_TOKENS} unless {@code -Djemma.fewTokens=N} or
     * {@link #fewTokensMax(int)} (benchmarks comparing both paths in one process) lower it; below 2 the kernels are off.
     */
    private static volatile int fewTokensMax = Math.clamp(Integer.getInteger("jemma.fewTokens", Int8FewTokens.MAX_TOKENS),
            0, Int8FewTokens.MAX_TOKENS);

    /** The current few-token limit. */
    public static int fewTokensMax() {
        return fewTokensMax;
    }

    /** Sets {@link #fewTokensMax} (clamped to 0 .. {@link Int8FewTokens#MAX_TOKENS}); returns the previous value. */
    public static int fewTokensMax(int max) {
        int old = fewTokensMax;
        fewTokensMax = Math.clamp(max, 0, Int8FewTokens.MAX_TOKENS);
        return old;
    }

    /**
     * Unused floats (128 bytes) at the end of every per-worker array, so that what one worker writes never shares a
     * cache line with another worker's array placed right after it (see {@link Int8Gemm#SUMS_PAD}).
     */
    static final int PAD = 32;

    /**
     * Contexts of finished calls, handed to the next ones (as many as calls have ever run at once): one in a slot that
     * takes no allocation to fill — all a single caller ever needs — the others in a queue.
     */
    private final AtomicReference<Call> spare = new AtomicReference<>();
    private final ConcurrentLinkedQueue<Call> idle = new ConcurrentLinkedQueue<>();

    @Override
    public void matmul(WeightMatrix[] ws, float[] x, int nTokens, float[][] outs, ThreadPool pool) {
        Call c = take();
        try {
            c.matmul(ws, x, nTokens, outs, pool);
        } finally {
            giveBack(c);
        }
    }

    @Override
    public void matmul(WeightMatrix w, float[] x, int nTokens, float[] out, ThreadPool pool) {
        Call c = take();
        try {
            c.matmul(w, x, nTokens, out, pool);
        } finally {
            giveBack(c);
        }
    }

    private Call take() {
        Call c = spare.getAndSet(null);
        if (c == null) c = idle.poll();
        return c != null ? c : new Call();
    }

    private void giveBack(Call c) {
        if (!spare.compareAndSet(null, c)) idle.offer(c);
    }

    /** One call's state: what it multiplies, its quantized activations and per-worker scratch (reused by later calls). */
    private static final class Call {
    private WeightMatrix w;
    private float[] x;
    private float[] out;
    private int nTokens;
    private float[] sums = new float[0];
    private float[][] scratch = new float[0][];
    private float[][] partials = new float[0][];
    private final ThreadPool.RangeTask rowTask = this::rowRange;
    private final ThreadPool.RangeTask gemmTask = this::gemmRange;
    private final QuantizedActivations xq = new QuantizedActivations();
    /** The int8 kernels' output when {@link #xq} has residual rows: token rows, then residual rows; summed into out. */
    private float[] wide = new float[0];
    /** Where the int8 kernels write in the current call: {@link #out}, or {@link #wide}. */
    private float[] int8Out;
    private final ThreadPool.RangeTask quantizeTask = (t0, t1, worker) -> xq.quantize(x, t0, t1);
    private final ThreadPool.RangeTask int8Task = this::int8Range;
    private final ThreadPool.RangeTask interleavedGemmTask = this::interleavedGemmRange;
    private final ThreadPool.RangeTask f16Task = this::f16Range;
    private final ThreadPool.RangeTask int8GemmTask = this::int8GemmRange;
    private final ThreadPool.RangeTask fewTask = this::fewRange;
    private float[][] fewScratch = new float[0][];
    private Int8Gemm.Scratch[] gemmScratch = new Int8Gemm.Scratch[0];
    /** True while a shared-input call runs its second and later matrices: {@link #xq} may already hold x. */
    private boolean sameInput;
    /** The input {@link #xq} was quantized from within the current shared-input call (null: none yet). */
    private float[] quantizedFrom;

        void matmul(WeightMatrix[] ws, float[] x, int nTokens, float[][] outs, ThreadPool pool) {
        if (fusable(ws, nTokens)) {
            fusedGemm(ws, x, nTokens, outs, pool);
            return;
        }
        quantizedFrom = null;
        try {
            for (int i = 0; i < ws.length; i++) {
                sameInput = i > 0;
                matmul(ws[i], x, nTokens, outs[i], pool);
            }
        } finally {
            sameInput = false;
            quantizedFrom = null;
        }
    }

        void matmul(WeightMatrix w, float[] x, int nTokens, float[] out, ThreadPool pool) {
        if (scratch.length < pool.threads()) scratch = new float[pool.threads()][];
        if (partials.length < pool.threads()) {
            partials = new float[pool.threads()][];
            for (int i = 0; i < partials.length; i++) partials[i] = new float[128 + PAD];
        }
        if (gemmScratch.length < pool.threads()) {
            gemmScratch = new Int8Gemm.Scratch[pool.threads()];
            for (int i = 0; i < gemmScratch.length; i++) gemmScratch[i] = new Int8Gemm.Scratch();
        }
        this.w = w;
        this.x = x;
        this.out = out;
        this.nTokens = nTokens;
        try {
            if (w.interleaved() != null && nTokens >= Int8FewTokens.minTokens(w.type())
                    && nTokens <= Math.min(fewTokensMax, Int8FewTokens.maxTokens(w.type()))) {
                quantizeActivations(pool);
                int8Out = int8Output();
                if (fewScratch.length < pool.threads()) {
                    fewScratch = new float[pool.threads()][];
                    for (int i = 0; i < fewScratch.length; i++) fewScratch[i] = new float[Int8FewTokens.scratchFloats() + PAD];
                }
                if (w.type() == GgmlType.Q8_0) xq.floats();
                pool.parallelFor(Int8FewTokens.items(w.rows()), fewTask, Int8FewTokens.items(w.rows()));
            } else if (w.interleaved() != null && nTokens >= GEMM_MIN_TOKENS && Int8Gemm.supports(w.type())) {
                quantizeActivations(pool);
                int8Out = int8Output();
                // one chunk per 64-row tile (each ~0.5 ms at 512 tokens): threads finish within one tile of each other;
                // a tile's output is written once, at its end
                pool.parallelFor(Int8Gemm.pairs(w.rows()), int8GemmTask, Int8Gemm.pairs(w.rows()));
            } else if (w.interleaved() != null && nTokens >= GEMM_MIN_TOKENS) {
                // contiguous chunks: this kernel adds into the shared output per column chunk, and one-group chunks would
                // interleave the threads' rows, sharing every group boundary's cache line
                pool.parallelFor(Interleaved.groups(w.rows()), interleavedGemmTask);
            } else if (w.interleaved() != null && !Interleaved.int8Activations(w.type())) {
                pool.parallelFor(Interleaved.groups(w.rows()), f16Task);
            } else if (w.interleaved() != null) {
                quantizeActivations(pool);
                int8Out = int8Output();
                pool.parallelFor(Interleaved.groups(w.rows()), int8Task);
            } else if (nTokens >= GEMM_MIN_TOKENS) {
                pool.parallelFor((w.rows() + 3) / 4, gemmTask);
            } else {
                if (Kernels.hasKernel(w.type()) && Kernels.needsBlockSums(w.type())) {
                    int nb = w.cols() / 32;
                    if (sums.length < nTokens * nb) sums = new float[nTokens * nb];
                    for (int t = 0; t < nTokens; t++) Kernels.blockSums(x, t * w.cols(), w.cols(), sums, t * nb);
                }
                pool.parallelFor(w.rows(), rowTask);
            }
        } finally {
            this.w = null;
            this.x = null;
            this.out = null;
            this.int8Out = null;
        }
    }

    /**
     * Whether the matrices of a shared-input call all take the int8 GEMM on the same input ({@link Int8Gemm}, no residual
     * rows): then {@link #fusedGemm} runs them as one loop.
     */
    private boolean fusable(WeightMatrix[] ws, int nTokens) {
        if (ws.length < 2 || xq.residual || nTokens < GEMM_MIN_TOKENS) return false;
        for (WeightMatrix w : ws) {
            if (w.interleaved() == null || !Int8Gemm.supports(w.type()) || w.cols() != ws[0].cols()) return false;
            if (nTokens >= Int8FewTokens.minTokens(w.type()) && nTokens <= Math.min(fewTokensMax, Int8FewTokens.maxTokens(w.type()))) {
                return false;
            }
        }
        return true;
    }

    /** The matrices of the current fused call, their outputs, and the first work item (64-row pair) of each. */
    private WeightMatrix[] fused;
    private float[][] fusedOuts;
    private int[] fusedFirst = new int[4];
    private final ThreadPool.RangeTask fusedTask = this::fusedRange;

    /**
     * A shared-input call (q/k/v, gate/up) over the int8 GEMM as one loop over every matrix's 64-row pairs: the input is
     * quantized once, as before, and each pair is computed exactly as alone (same kernel, same pair), but the threads
     * share out all the matrices' pairs together — one hand-off instead of one per matrix, and k and v (4 pairs each in
     * EmbeddingGemma) no longer leave one thread waiting for the other's last pair of a small loop.
     */
    private void fusedGemm(WeightMatrix[] ws, float[] x, int nTokens, float[][] outs, ThreadPool pool) {
        this.w = ws[0];
        this.x = x;
        this.nTokens = nTokens;
        if (fusedFirst.length < ws.length + 1) fusedFirst = new int[ws.length + 1];
        int items = 0;
        for (int i = 0; i < ws.length; i++) {
            fusedFirst[i] = items;
            items += Int8Gemm.pairs(ws[i].rows());
        }
        fusedFirst[ws.length] = items;
        try {
            if (scratch.length < pool.threads()) scratch = new float[pool.threads()][];
            if (gemmScratch.length < pool.threads()) {
                gemmScratch = new Int8Gemm.Scratch[pool.threads()];
                for (int i = 0; i < gemmScratch.length; i++) gemmScratch[i] = new Int8Gemm.Scratch();
            }
            sameInput = false;
            quantizeActivations(pool);
            fused = ws;
            fusedOuts = outs;
            pool.parallelFor(items, fusedTask, items);
        } finally {
            this.w = null;
            this.x = null;
            fused = null;
            fusedOuts = null;
            quantizedFrom = null;
        }
    }

    private void fusedRange(int p0, int p1, int worker) {
        int m = 0;
        while (fusedFirst[m + 1] <= p0) m++;
        for (int p = p0; p < p1; ) {
            while (fusedFirst[m + 1] <= p) m++;
            int end = Math.min(p1, fusedFirst[m + 1]);
            WeightMatrix w = fused[m];
            Int8Gemm.gemm(w.type(), w.interleaved(), w.rows(), w.cols(), xq, fusedOuts[m], p - fusedFirst[m], end - fusedFirst[m],
                    gemmScratch[worker]);
            p = end;
        }
    }

    /** Quantizes the call's activations to int8 per 32-block (the int8 kernels' input), tokens split across threads. */
    private void quantizeActivations(ThreadPool pool) {
        if (sameInput && quantizedFrom == x && xq.inputs == nTokens && xq.cols == w.cols()) return;
        xq.reserve(nTokens, w.cols());
        pool.parallelFor(nTokens, quantizeTask);
        quantizedFrom = x;
    }

    /** {@link #out}, or with residual rows a buffer for both kinds of rows, which {@link #addResidual} sums into out. */
    private float[] int8Output() {
        if (!xq.residual) return out;
        int n = xq.tokens * w.rows();
        if (wide.length < n) wide = new float[n];
        return wide;
    }

    /** out = token row + residual row, for rows [r0, r1) of every token (the int8 kernels having written both). */
    private void addResidual(int r0, int r1) {
        if (!xq.residual) return;
        final float[] out = this.out, wide = this.wide;
        final int rows = w.rows(), n = nTokens, end = Math.min(r1, rows);
        for (int t = 0; t < n; t++) {
            int a = t * rows, b = (n + t) * rows;
            for (int r = r0; r < end; r++) out[a + r] = wide[a + r] + wide[b + r];
        }
    }

    private float[] scratch(int worker, int n) {
        float[] s = scratch[worker];
        if (s == null || s.length < n + PAD) s = scratch[worker] = new float[n + PAD];
        return s;
    }

    private void rowRange(int r0, int r1, int worker) {
        final WeightMatrix w = this.w;
        final int rows = w.rows(), cols = w.cols(), n = nTokens, nb = cols / 32;
        if (Kernels.hasKernel(w.type())) {
            for (int r = r0; r < r1; r++) {
                for (int t = 0; t < n; t++) out[t * rows + r] = Kernels.dot(w, r, x, t * cols, sums, t * nb);
            }
        } else {
            // other formats (K-quants, Q4_1, Q5_x): their own fused Vector API dot, exact decode, f32 activations
            float[] tmp = scratch(worker, cols);
            var f = w.format();
            var data = w.data();
            for (int r = r0; r < r1; r++) {
                long off = w.rowOffset(r);
                for (int t = 0; t < n; t++) out[t * rows + r] = f.dot(data, off, x, t * cols, cols, tmp);
            }
        }
    }

    /**
     * Row groups [g0, g1) of an {@link Interleaved} matrix with int8 activations. Groups are taken a few at a time
     * (about 256 KB of weights, which stay in L2) and every token of the batch passes over them, so a batch reads each
     * weight once from memory and each activation row once per chunk of groups.
     */
    private void int8Range(int g0, int g1, int worker) {
        final WeightMatrix w = this.w;
        final var p = w.interleaved();
        final int rows = w.rows(), nb = w.cols() / 32, n = xq.tokens;
        final float[] out = int8Out;
        final GgmlType type = w.type();
        final boolean q4 = type == GgmlType.Q4_0, q5 = type == GgmlType.Q5_0, q4k = type == GgmlType.Q4_K, q6k = type == GgmlType.Q6_K;
        final boolean q5k = type == GgmlType.Q5_K;
        final int chunk = Interleaved.groupsPerChunk(w.type(), w.cols());
        for (int c0 = g0; c0 < g1; c0 += chunk) {
            int c1 = Math.min(g1, c0 + chunk);
            for (int t = 0; t < n; t++) {
                if (q4) Int8Kernels.q4(p, c0, c1, rows, nb, xq, t, out);
                else if (q5) Int8Kernels.q5(p, c0, c1, rows, nb, xq, t, out);
                else if (q4k) KQuantKernels.q4k(p, c0, c1, rows, nb, xq, t, out);
                else if (q6k) KQuantKernels.q6k(p, c0, c1, rows, nb, xq, t, out);
                else if (q5k) KQuantKernels.q5k(p, c0, c1, rows, nb, xq, t, out);
                else Int8Kernels.q8(p, c0, c1, rows, nb, xq, t, out);
            }
            addResidual(c0 * Interleaved.ROWS, c1 * Interleaved.ROWS);
        }
    }

    /** Single-token steps over an interleaved F16 matrix: f32 activations, exact weights. */
    private void f16Range(int g0, int g1, int worker) {
        final WeightMatrix w = this.w;
        final int rows = w.rows(), cols = w.cols();
        final int chunk = Interleaved.groupsPerChunk(w.type(), cols);
        for (int c0 = g0; c0 < g1; c0 += chunk) {
            int c1 = Math.min(g1, c0 + chunk);
            for (int t = 0; t < nTokens; t++) InterleavedGemm.gemvF16(w.interleaved(), c0, c1, rows, cols, x, t * cols, out, t * rows);
        }
    }

    private void fewRange(int i0, int i1, int worker) {
        final WeightMatrix w = this.w;
        final int nb = w.cols() / 32;
        switch (w.type()) {
            case Q8_0 -> Int8FewTokens.q8(w.interleaved(), i0, i1, w.rows(), nb, xq, xq.floats(), int8Out, fewScratch[worker]);
            case Q4_K -> Int8FewTokens.q4k(w.interleaved(), i0, i1, w.rows(), nb, xq, int8Out, fewScratch[worker]);
            case Q5_0 -> Int8FewTokens.q5(w.interleaved(), i0, i1, w.rows(), nb, xq, int8Out, fewScratch[worker]);
            case Q6_K -> Int8FewTokens.q6k(w.interleaved(), i0, i1, w.rows(), nb, xq, int8Out, fewScratch[worker]);
            default -> Int8FewTokens.q4(w.interleaved(), i0, i1, w.rows(), nb, xq, int8Out, fewScratch[worker]);
        }
        addResidual(i0 * 2 * Interleaved.ROWS, i1 * 2 * Interleaved.ROWS);
    }

    private void int8GemmRange(int p0, int p1, int worker) {
        final WeightMatrix w = this.w;
        Int8Gemm.gemm(w.type(), w.interleaved(), w.rows(), w.cols(), xq, int8Out, p0, p1, gemmScratch[worker]);
        addResidual(p0 * 2 * Interleaved.ROWS, p1 * 2 * Interleaved.ROWS);
    }

    private void interleavedGemmRange(int g0, int g1, int worker) {
        final WeightMatrix w = this.w;
        float[] tile = scratch(worker, InterleavedGemm.COLS * 32 + 128);
        float[] part = partials[worker];
        for (int t0 = 0; t0 < nTokens; t0 += InterleavedGemm.TOKEN_BLOCK) {
            int t1 = Math.min(nTokens, t0 + InterleavedGemm.TOKEN_BLOCK);
            InterleavedGemm.gemm(w.type(), w.interleaved(), w.rows(), w.cols(), x, t0, t1, out, g0, g1, tile, part);
        }
    }

    private void gemmRange(int q0, int q1, int worker) {
        final WeightMatrix w = this.w;
        final float[] x = this.x, out = this.out;
        final int rows = w.rows(), cols = w.cols(), n = nTokens;
        float[] a = scratch(worker, 4 * cols);
        for (int q = q0; q < q1; q++) {
            int r = 4 * q, m = Math.min(4, rows - r);
            for (int i = 0; i < m; i++) Kernels.dequantizeRow(w, r + i, a, i * cols);
            for (int t = 0; t < n; t++) {
                for (int i = 0; i < m; i++) out[t * rows + r + i] = 0f;
            }
            int t = 0;
            if (m == 4) {
                for (; t + 4 <= n; t += 4) {
                    Gemm.k4x4(a, 0, cols, 2 * cols, 3 * cols, x, t * cols, (t + 1) * cols, (t + 2) * cols, (t + 3) * cols, cols,
                            out, t * rows + r, (t + 1) * rows + r, (t + 2) * rows + r, (t + 3) * rows + r);
                }
                for (; t < n; t++) Gemm.k4x1(a, 0, cols, 2 * cols, 3 * cols, x, t * cols, cols, out, t * rows + r);
            } else {
                for (int i = 0; i < m; i++) {
                    int tt = 0;
                    for (; tt + 4 <= n; tt += 4) {
                        Gemm.k1x4(a, i * cols, x, tt * cols, (tt + 1) * cols, (tt + 2) * cols, (tt + 3) * cols, cols,
                                out, tt * rows + r + i, (tt + 1) * rows + r + i, (tt + 2) * rows + r + i, (tt + 3) * rows + r + i);
                    }
                    for (; tt < n; tt++) out[tt * rows + r + i] = VectorOps.dot(a, i * cols, x, tt * cols, cols);
                }
            }
        }
    }
    }
}
