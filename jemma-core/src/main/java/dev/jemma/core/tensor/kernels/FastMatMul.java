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
 * in a Gemma 3 or 3n model) runs batches of {@value #GEMM_MIN_TOKENS}+ tokens on {@link Int8Gemm} for Q4_0 / Q5_0 / Q4_K
 * (int8 activations, register-tiled 16-bit integer sums) and on {@link InterleavedGemm} for the others and for any
 * matrix with residual rows ({@link #f32TileForResidualRows}; f32 activations, weights decoded exactly); single-token steps run on {@link Int8Kernels} / {@link KQuantKernels} for the quantized
 * types (activations quantized to int8 per 32-block as llama.cpp does, integer block sums, and with
 * residual rows — a Gemma 3n matrix's {@link WeightMatrix#withResidualRows}, or every matrix with
 * {@code -Djemma.int8.residual=true} — a second int8 row per token for its rounding error — {@link QuantizedActivations}' residual rows, which the kernels run as
 * extra tokens and {@code Call.addResidual} sums back, so the result is ~15-bit rather than 8-bit accurate) and on
 * {@link InterleavedGemm#gemvF16} for F16 (f32). Calls of a few tokens ({@link Int8FewTokens#minTokens} to {@link Int8FewTokens#maxTokens}: the decode
 * rows of a batched step) over Q4_0 / Q5_0 / Q8_0 / Q4_K / Q6_K copies run on {@link Int8FewTokens}, one pass over the weights for all of
 * them, bit-identical to the single-token kernels per token; so does a single token with its residual row where that pass
 * takes two rows ({@link #tokenAndResidualInOnePass}). Any other matrix keeps f32 activations, in two shapes:
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

    @Override
    public void matmul(WeightMatrix[] ws, float[] x, int nTokens, float[][] outs, ThreadPool pool, ThreadPool.RangeTask prep) {
        Call c = take();
        try {
            c.matmul(ws, x, nTokens, outs, pool, prep);
        } finally {
            giveBack(c);
        }
    }

    @Override
    public void matmul(WeightMatrix w, float[] x, int nTokens, float[] out, ThreadPool pool, ThreadPool.RangeTask prep) {
        Call c = take();
        try {
            c.matmul(w, x, nTokens, out, pool, prep);
        } finally {
            giveBack(c);
        }
    }

    @Override
    public boolean gatedFfn(WeightMatrix[] gateUp, WeightMatrix down, float[] x, int nTokens, float[][] gateUpOut, float[] out,
                            Gate act, ThreadPool.RangeTask prep, ThreadPool pool) {
        if (!gatedLoops || !sharedLoops) return false;
        Call c = take();
        try {
            return c.gatedFfn(gateUp, down, x, nTokens, gateUpOut, out, act, prep, pool);
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

    /** Activations up to this many floats (a few decode rows) are quantized on the calling thread: ~10 µs of work. */
    static final int INLINE_QUANTIZE_FLOATS = 16_384;

    /**
     * False: shared-input calls share a loop only when every matrix takes the int8 GEMM, and every quantization is a
     * pool loop — the rules before {@link Kernel#fusable}, for benchmarks that compare both in one process
     * (jemma-jmh's {@code ServingProfile}). True by default.
     */
    private static volatile boolean sharedLoops = true;

    /** Sets {@link #sharedLoops}; returns the previous value. */
    public static boolean sharedLoops(boolean on) {
        boolean old = sharedLoops;
        sharedLoops = on;
        return old;
    }

    /**
     * False: a gated FFN runs as gate/up, the activation, a quantization loop and down (the rules before
     * {@link #gatedFfn}), for benchmarks that compare both in one process. True by default.
     */
    private static volatile boolean gatedLoops = true;

    /** Sets {@link #gatedLoops}; returns the previous value. */
    public static boolean gatedLoops(boolean on) {
        boolean old = gatedLoops;
        gatedLoops = on;
        return old;
    }

    /** Rows of a gated FFN's loop unit: one few-token item or GEMM tile pair, two GEMV groups, two quantization blocks. */
    static final int GATED_UNIT = 2 * Interleaved.ROWS;

    /**
     * 32-row groups of gate and of up per unit of a gated FFN's loop when both run on the per-token GEMV (a single decode
     * row): 0 (the default) for the GEMV's own chunk ({@link Interleaved#groupsPerChunk}, ~256 KB of each matrix), else
     * this many (a multiple of 2: whole {@link #GATED_UNIT}s). Two groups, the unit of the few-token items, made a decode
     * step 4-10 % dearer in CPU than gate/up and the activation as separate steps (1B Q4_0, 256 bits; docs/PERFORMANCE.md,
     * "Single-token decode after the merges"): the loop switched between the gate and up weight streams every 41 KB,
     * which the memory-bound GEMV pays for at each switch; with chunk-sized units it streams like the separate steps and
     * keeps the activation and the down input's quantization inside the loop.
     */
    private static volatile int gatedGemvGroups = 0;

    /**
     * Sets {@link #gatedGemvGroups} (0: the GEMV's chunk; else rounded down to a multiple of 2, at least 2), for benchmarks
     * that compare unit sizes in one process; returns the previous value.
     */
    public static int gatedGemvGroups(int groups) {
        int old = gatedGemvGroups;
        gatedGemvGroups = groups <= 0 ? 0 : Math.max(2, groups & ~1);
        return old;
    }

    /** Rows per unit of a gated FFN's loop over {@code w} (gate) when gate and up both take the per-token GEMV. */
    private static int gatedGemvUnit(WeightMatrix w) {
        int g = gatedGemvGroups;
        if (g == 0) g = Math.max(2, Interleaved.groupsPerChunk(w.type(), w.cols()) & ~1);
        return g * Interleaved.ROWS;
    }

    /** The kernels a call can take; {@link #kernel} is the one place that chooses, for lone and shared-input calls alike. */
    enum Kernel {
        /**
         * {@link Int8FewTokens}: 2 to 16 tokens over an interleaved copy, or one token and its residual row
         * ({@link #tokenAndResidualInOnePass}); items of two 32-row groups.
         */
        FEW_TOKENS(true),
        /** {@link Int8Kernels} / {@link KQuantKernels} token by token (int8 activations); items of one 32-row group. */
        INT8_GEMV(true),
        /** {@link Int8Gemm}: a batch of int8 activations; items of one 64-row tile pair. */
        INT8_GEMM(true),
        /**
         * {@link InterleavedGemm}: a batch in f32 over decoded weights (Q8_0, Q6_K, Q5_K, F16 copies; Q4_0, Q4_K, Q5_0 with
         * residual rows).
         */
        INTERLEAVED_GEMM(false),
        /** {@link InterleavedGemm#gemvF16}: an F16 copy, token by token in f32. */
        F16_GEMV(false),
        /** {@link Gemm}: no interleaved copy, a batch: rows decoded to f32, 4×4 register tiles. */
        ROWS_GEMM(false),
        /** {@link Kernels#dot}: no interleaved copy, a few tokens: row by row. */
        ROWS(false);

        /**
         * Whether a matrix's work on this kernel can share one loop with other matrices' ({@link Call#fused}): int8
         * activations quantized from the shared input, each item writes only its own rows, and a row's bits do not
         * depend on which items run with it or on which thread.
         */
        final boolean fusable;

        Kernel(boolean fusable) {
            this.fusable = fusable;
        }

        /** Work items of a matrix of {@code rows} rows on a fusable kernel. */
        int items(int rows) {
            return switch (this) {
                case FEW_TOKENS -> Int8FewTokens.items(rows);
                case INT8_GEMM -> Int8Gemm.pairs(rows);
                case INT8_GEMV -> Interleaved.groups(rows);
                default -> throw new IllegalStateException(this + " does not share loops");
            };
        }
    }

    /** The kernel a call of {@code nTokens} tokens over {@code w} runs on. */
    static Kernel kernel(WeightMatrix w, int nTokens) {
        if (w.interleaved() != null) {
            GgmlType type = w.type();
            if (f32TileForResidualRows(w, nTokens)) return Kernel.INTERLEAVED_GEMM;
            if (fewTokensTake(type, nTokens)) return Kernel.FEW_TOKENS;
            if (nTokens == 1 && tokenAndResidualInOnePass(w)) return Kernel.FEW_TOKENS;
            if (nTokens >= GEMM_MIN_TOKENS) return Int8Gemm.supports(type) ? Kernel.INT8_GEMM : Kernel.INTERLEAVED_GEMM;
            return Interleaved.int8Activations(type) ? Kernel.INT8_GEMV : Kernel.F16_GEMV;
        }
        return nTokens >= GEMM_MIN_TOKENS ? Kernel.ROWS_GEMM : Kernel.ROWS;
    }

    /**
     * Whether batches over residual-row matrices take the f32 tile ({@code -Djemma.residualBatches=f32|int8}; default:
     * {@link #RESIDUAL_BATCHES_F32_DEFAULT}); {@link #residualBatchesOnF32(boolean)} sets it for benchmarks comparing
     * both in one process.
     */
    private static volatile boolean residualBatchesOnF32 = residualBatchesDefault(System.getProperty("jemma.residualBatches"));

    /** The measured default of {@link #residualBatchesOnF32} at this width (see {@link #f32TileForResidualRows}). */
    static final boolean RESIDUAL_BATCHES_F32_DEFAULT = true;

    static boolean residualBatchesDefault(String asked) {
        if (asked == null || asked.isBlank()) return RESIDUAL_BATCHES_F32_DEFAULT;
        return switch (asked.trim()) {
            case "f32" -> true;
            case "int8" -> false;
            default -> throw new IllegalArgumentException("-Djemma.residualBatches: f32 or int8, not " + asked);
        };
    }

    /** Sets {@link #residualBatchesOnF32} (this package's tests and timing mains only); returns the previous value. */
    static boolean residualBatchesOnF32(boolean on) {
        boolean old = residualBatchesOnF32;
        residualBatchesOnF32 = on;
        return old;
    }

    /**
     * Whether a batch ({@value #GEMM_MIN_TOKENS}+ tokens, past the few-token kernels) over a matrix whose int8 calls
     * quantize residual rows ({@link ResidualRows#wanted}: Gemma 3n's layer matrices) runs on {@link InterleavedGemm}'s
     * f32 tile rather than on {@link Int8Gemm} with the residual rows as extra tokens. The residual rows double the int8
     * GEMM's rows (and the quantization writes both), so its 16-bit integer speed advantage over f32 FMAs is more than
     * spent, while the f32 tile decodes each weight exactly once per token block and needs no quantization at all. One
     * core, through this class as a model calls it, G useful multiply-adds per CPU second (median of 5–7 alternated
     * rounds, loaded machine; {@code ResidualBatchSpeed}), int8 + residual rows → f32 tile (plain int8 beside it):
     * Q4_0 8192×2048 × 128 tokens at 512 / 256 / 128 bits 33.3 → 48.3 (66.6), 28.8 → 42.5 (56.8), 17.0 → 22.1 (33.0);
     * Q4_0 2048×8192 33.3 → 48.3, 27.6 → 43.4, 16.4 → 23.0; Q4_K 8192×2048 31.4 → 48.1, 23.3 → 42.9, 14.1 → 22.0;
     * Q5_0 2048×8192 27.6 → 44.3, 21.6 → 41.7, 13.2 → 19.3 — faster at every width and type, so taken at every width
     * (docs/PERFORMANCE.md, "Gemma 3n prompts on the f32 tile"). Near exact besides (weights decoded exactly, f32
     * activations). Such matrices never shared a loop (residual rows are not {@link #fusable}), so the tile's not being
     * fusable costs nothing that was there.
     *
     * <p>In the few-token range the residual rows are counted too: {@link Int8FewTokens} gets 2n rows, so the few-token
     * kernels keep a call only while {@code 2n} is within their measured range ({@link Int8FewTokens#maxTokens}), and
     * longer calls take the tile (one core, Q4_0 8192×2048, few-token pass with residual rows vs f32 tile, median G/s: 512
     * bits 4 / 5 / 6 / 7 tokens 28.5 / 25.9 / 28.3 / 28.5 vs 22.2 / 22.1 / 22.8 / 25.0, 8 tokens 27.3 vs 31.7, 9 / 12 /
     * 16 tokens 28.0 / 30.2 / 28.8 vs 31.0 / 37.4 / 41.0, Q4_K 12 tokens 27.8 vs 36.5, Q5_0 12 tokens 19.5 vs 30.7; 128
     * bits 4 / 5 / 6 / 7 / 8 tokens 12.4 / 11.9 / 13.1 / 12.1 / 13.0 vs 12.0 / 10.4 / 13.5 / 12.5 / 15.0, Q4_K 6 tokens
     * 10.3 vs 13.5). The rule misplaces two measured counts (8 tokens at 512 bits stays on the slower few-token pass, 5
     * at 128 bits goes to the slower tile, ~13 % each way), both next to the crossover. Below {@value #GEMM_MIN_TOKENS}
     * tokens, and for types without an int8 GEMM (Q8_0, Q6_K: not measured here), the few-token route is as before.
     */
    static boolean f32TileForResidualRows(WeightMatrix w, int nTokens) {
        return residualBatchesOnF32 && nTokens >= GEMM_MIN_TOKENS && Int8Gemm.supports(w.type()) && ResidualRows.wanted(w, nTokens)
                && !fewTokensTake(w.type(), 2 * nTokens);
    }

    /**
     * Whether a one-token call on {@link Int8FewTokens} (a token and its residual row) splits its items into contiguous
     * chunks, as the per-token GEMV splits its groups, rather than claiming them one by one as a batch does; same bits
     * either way. {@code -Djemma.twoRowChunks.off=true}: one by one, for A/B runs.
     */
    static final boolean TWO_ROW_CHUNKS = !Boolean.getBoolean("jemma.twoRowChunks.off");

    /**
     * Whether a one-token call over w, which quantizes a residual row beside the token's ({@link ResidualRows#wanted}: a
     * Gemma 3n matrix), runs both rows on {@link Int8FewTokens}' two-row pass rather than the per-token kernel twice. The
     * two-row pass reads and decodes each weight vector once for both rows; the per-token kernel decoded every nibble
     * again for the residual row (from L2, chunk by chunk), which cost E2B's layer matrices ~18.6 of a generated token's
     * 125 ms (docs/PERFORMANCE.md, "Where an E2B token's time goes"). Same bits: the few-token passes give each row what
     * the per-token kernel gives it ({@code FewTokensTest}), and {@code addResidual} sums the two rows as before. Taken
     * where the few-token kernels take 2 rows of the type at this width (one core, E2B shapes, 2 rows, G multiply-adds/s
     * two-row pass vs per-token twice: Q4_0 8192×2048 at 512 / 256 / 128 bits 64 / 40 / 27 vs 54 / 36 / 21, Q4_K 71 / 39 /
     * 22 vs 60 / 33 / 18, Q8_0 at 512 bits 52 vs 36; docs/PERFORMANCE.md, "One pass for the residual row"): not Q8_0
     * below 512 bits, where the two-slice per-token kernel is faster at 2 rows ({@link Int8FewTokens#minTokens}). Q6_K
     * keeps the per-token kernel: its two-row pass was not measured (E2B's Q6_K output projection now takes plain int8,
     * branch outq29; Q6_K layer matrices of Q4_K_M Gemma 3n files still have residual rows).
     */
    static boolean tokenAndResidualInOnePass(WeightMatrix w) {
        GgmlType type = w.type();
        return type != GgmlType.Q6_K && ResidualRows.wanted(w, 1) && fewTokensTake(type, 2);
    }

    /** Whether {@link Int8FewTokens} takes calls of {@code rows} rows over a copy of this type at this width. */
    private static boolean fewTokensTake(GgmlType type, int rows) {
        return rows >= Int8FewTokens.minTokens(type) && rows <= Math.min(fewTokensMax, Int8FewTokens.maxTokens(type));
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
    private QuantizedActivations xq = new QuantizedActivations();
    /**
     * The down projection's input in a gated FFN ({@link #gatedFfn}), quantized unit by unit in the gate/up loop, then
     * swapped with {@link #xq} for the down call.
     */
    private QuantizedActivations xqNext = new QuantizedActivations();
    private MatMul.Gate gatedAct;
    private final ThreadPool.RangeTask gatedTask = this::gatedRange;
    /** The int8 kernels' output when {@link #xq} has residual rows: token rows, then residual rows; summed into out. */
    private float[] wide = new float[0];
    /** Where the int8 kernels write in the current call: {@link #out}, or {@link #wide}. */
    private float[] int8Out;
    private final ThreadPool.RangeTask quantizeTask = (t0, t1, worker) -> {
        ThreadPool.RangeTask p = this.prep;
        if (p != null) p.run(t0, t1, worker);
        xq.quantize(x, t0, t1);
    };
    /**
     * The caller's row preparation ({@link MatMul#matmul(WeightMatrix[], float[], int, float[][], ThreadPool, ThreadPool.RangeTask)})
     * while a call's quantization is still to run it, row range by row range, just before quantizing those rows; null
     * otherwise.
     */
    private ThreadPool.RangeTask prep;
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

        /**
         * With the caller's row preparation: inside the quantization loop when the call quantizes its input once for all
         * its matrices (a fused call), else as a loop of its own first.
         */
        void matmul(WeightMatrix[] ws, float[] x, int nTokens, float[][] outs, ThreadPool pool, ThreadPool.RangeTask prep) {
        if (!fusable(ws, nTokens)) {
            ThreadPool.rows(pool, nTokens, prep);
            matmul(ws, x, nTokens, outs, pool);
            return;
        }
        this.prep = prep;
        try {
            fused(ws, x, nTokens, outs, pool);
        } finally {
            this.prep = null;
        }
    }

        /** With the caller's row preparation: inside the quantization loop when the kernel quantizes, else first. */
        void matmul(WeightMatrix w, float[] x, int nTokens, float[] out, ThreadPool pool, ThreadPool.RangeTask prep) {
        Kernel k = kernel(w, nTokens);
        if (!k.fusable) { // the kernels that quantize their input are exactly the fusable ones
            ThreadPool.rows(pool, nTokens, prep);
            matmul(w, x, nTokens, out, pool);
            return;
        }
        this.prep = prep;
        try {
            matmul(w, x, nTokens, out, pool);
        } finally {
            this.prep = null;
        }
    }

        void matmul(WeightMatrix[] ws, float[] x, int nTokens, float[][] outs, ThreadPool pool) {
        if (fusable(ws, nTokens)) {
            fused(ws, x, nTokens, outs, pool);
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
        reserveScratch(pool);
        this.w = w;
        this.x = x;
        this.out = out;
        this.nTokens = nTokens;
        try {
            switch (kernel(w, nTokens)) {
                case FEW_TOKENS -> {
                    quantizeActivations(pool, false);
                    int8Out = int8Output();
                    prepareFew(w);
                    int items = Int8FewTokens.items(w.rows());
                    // a token and its residual row stream the weights from memory as the per-token GEMV does, in contiguous
                    // chunks (one item is 2 groups, ~72 KB of a Q4_0 row of 2048: claimed one by one, the threads'
                    // streams would break at every item); a batch's items take long enough to be claimed one by one
                    if (TWO_ROW_CHUNKS && nTokens == 1) pool.parallelFor(items, fewTask);
                    else pool.parallelFor(items, fewTask, items);
                }
                case INT8_GEMM -> {
                    quantizeActivations(pool, true);
                    xq.interleaved();
                    int8Out = int8Output();
                    // one chunk per 64-row tile (each ~0.5 ms at 512 tokens): threads finish within one tile of each other;
                    // a tile's output is written once, at its end
                    pool.parallelFor(Int8Gemm.pairs(w.rows()), int8GemmTask, Int8Gemm.pairs(w.rows()));
                }
                // contiguous chunks: this kernel adds into the shared output per column chunk, and one-group chunks would
                // interleave the threads' rows, sharing every group boundary's cache line
                case INTERLEAVED_GEMM -> pool.parallelFor(Interleaved.groups(w.rows()), interleavedGemmTask);
                case F16_GEMV -> {
                    // x · 2^112 once per call, so the kernel skips the × 2^112 of every 16 weights (same bits)
                    int n = nTokens * w.cols();
                    if (f16x.length < n) f16x = new float[n];
                    f16Scaled = InterleavedGemm.scaleForF16(x, n, f16x);
                    pool.parallelFor(Interleaved.groups(w.rows()), f16Task);
                }
                case INT8_GEMV -> {
                    quantizeActivations(pool, false);
                    int8Out = int8Output();
                    pool.parallelFor(Interleaved.groups(w.rows()), int8Task);
                }
                case ROWS_GEMM -> pool.parallelFor((w.rows() + 3) / 4, gemmTask);
                case ROWS -> {
                    if (Kernels.hasKernel(w.type()) && Kernels.needsBlockSums(w.type())) {
                        int nb = w.cols() / 32;
                        if (sums.length < nTokens * nb) sums = new float[nTokens * nb];
                        for (int t = 0; t < nTokens; t++) Kernels.blockSums(x, t * w.cols(), w.cols(), sums, t * nb);
                    }
                    pool.parallelFor(w.rows(), rowTask);
                }
            }
        } finally {
            this.w = null;
            this.x = null;
            this.out = null;
            this.int8Out = null;
        }
    }

    private void reserveScratch(ThreadPool pool) {
        int n = pool.threads();
        if (scratch.length < n) scratch = new float[n][];
        if (partials.length < n) {
            partials = new float[n][];
            for (int i = 0; i < n; i++) partials[i] = new float[InterleavedGemm.PART + PAD];
        }
        if (gemmScratch.length < n) {
            gemmScratch = new Int8Gemm.Scratch[n];
            for (int i = 0; i < n; i++) gemmScratch[i] = new Int8Gemm.Scratch();
        }
        if (fewScratch.length < n) {
            fewScratch = new float[n][];
            for (int i = 0; i < n; i++) fewScratch[i] = new float[Int8FewTokens.scratchFloats() + PAD];
        }
    }

    /**
     * Whether the matrices of a shared-input call (q/k/v, gate/up) can share one loop: two or more, one input width, no
     * residual rows, and every matrix on a kernel whose work items are independent of each other and of the split
     * ({@link Kernel#fusable}) — whichever kernel each takes, possibly different ones (a Q4_K_M layer's Q5_0 and Q4_K).
     */
    private boolean fusable(WeightMatrix[] ws, int nTokens) {
        if (ws.length < 2) return false;
        for (WeightMatrix w : ws) {
            Kernel k = kernel(w, nTokens);
            if (ResidualRows.wanted(w, nTokens)) return false;
            if (w.cols() != ws[0].cols() || !k.fusable || (!sharedLoops && k != Kernel.INT8_GEMM)) return false;
        }
        return true;
    }

    /** The matrices of the current fused call, their outputs and kernels, and the first work item of each. */
    private WeightMatrix[] fused;
    private float[][] fusedOuts;
    private Kernel[] fusedKernels = new Kernel[4];
    private int[] fusedFirst = new int[5];
    private final ThreadPool.RangeTask fusedTask = this::fusedRange;

    /**
     * A shared-input call as one loop over every matrix's work items: the input is quantized once, each item is computed
     * exactly as in the matrix's own call (same kernel, same rows, so the same bits), but the threads share out all the
     * matrices' items together — one hand-off and one wait instead of one per matrix, and a small matrix (k and v of a
     * 1B model: 8 groups) no longer leaves one thread waiting for the other's last item of a loop of microseconds.
     * Few-token items and GEMM tiles are claimed one by one, as their own calls claim them; with a per-token GEMV among
     * them (items of one 32-row group) the loop takes contiguous chunks, as that kernel's own call does.
     */
    private void fused(WeightMatrix[] ws, float[] x, int nTokens, float[][] outs, ThreadPool pool) {
        reserveScratch(pool);
        this.w = ws[0];
        this.x = x;
        this.nTokens = nTokens;
        if (fusedFirst.length < ws.length + 1) {
            fusedFirst = new int[ws.length + 1];
            fusedKernels = new Kernel[ws.length];
        }
        int items = 0;
        boolean oneByOne = true;
        for (int i = 0; i < ws.length; i++) {
            Kernel k = kernel(ws[i], nTokens);
            fusedKernels[i] = k;
            fusedFirst[i] = items;
            items += k.items(ws[i].rows());
            oneByOne &= k != Kernel.INT8_GEMV;
        }
        fusedFirst[ws.length] = items;
        try {
            sameInput = false;
            quantizeActivations(pool, anyGemm(ws.length));
            prepareFused(ws);
            fused = ws;
            fusedOuts = outs;
            if (oneByOne) pool.parallelFor(items, fusedTask, items);
            else pool.parallelFor(items, fusedTask);
        } finally {
            this.w = null;
            this.x = null;
            fused = null;
            fusedOuts = null;
            quantizedFrom = null;
        }
    }

    /**
     * A gated FFN, {@code out = down(act(gate(x)) ⊙ up(x))}, in two loops instead of four: one loop whose unit is 64
     * rows of both gate and up (a few-token item, a GEMM tile pair or two GEMV groups of each, on the kernel each takes
     * alone), after which the unit applies the activation to its 64 values of every token and quantizes them — two
     * whole blocks of the down projection's input, written where the values were just computed — then the down loop,
     * which finds its input quantized. Before, the activation ran serially on the caller between the loops and a
     * decode step's down input (8 × 6,912 floats at C = 8) took a pool loop of its own: one hand-off and one wait per
     * layer, whose microseconds of work cost far more in waiting (docs/PERFORMANCE.md, "Serving"). Every value is
     * what the four steps give: the same kernels over the same rows, the activation on whole vectors, the same
     * per-block quantization ({@link QuantizedActivations#quantizeBlocks}). False (nothing done) where it does not apply:
     * gate/up not {@linkplain #fusable fusable}, down not on an int8 kernel, or a row length not a multiple of 64.
     */
    boolean gatedFfn(WeightMatrix[] gateUp, WeightMatrix down, float[] x, int nTokens, float[][] gateUpOut, float[] out,
                     MatMul.Gate act, ThreadPool.RangeTask prep, ThreadPool pool) {
        if (gateUp.length != 2 || ResidualRows.wanted(down, nTokens) || !fusable(gateUp, nTokens)) return false;
        final int ffn = gateUp[0].rows();
        if (gateUp[1].rows() != ffn || down.cols() != ffn || ffn % GATED_UNIT != 0 || !kernel(down, nTokens).fusable) return false;
        reserveScratch(pool);
        this.w = gateUp[0];
        this.x = x;
        this.nTokens = nTokens;
        boolean oneByOne = true, gemv = true;
        for (int i = 0; i < 2; i++) {
            fusedKernels[i] = kernel(gateUp[i], nTokens);
            oneByOne &= fusedKernels[i] != Kernel.INT8_GEMV;
            gemv &= fusedKernels[i] == Kernel.INT8_GEMV;
        }
        // few-token items and GEMM tile pairs are 64 rows; the per-token GEMV streams better in larger units
        gatedUnit = gemv ? gatedGemvUnit(gateUp[0]) : GATED_UNIT;
        final int units = (ffn + gatedUnit - 1) / gatedUnit;
        try {
            sameInput = false;
            // the caller's row preparation runs inside the quantization loop, each range just before it is quantized
            this.prep = prep;
            try {
                quantizeActivations(pool, anyGemm(2));
            } finally {
                this.prep = null;
            }
            prepareFused(gateUp);
            fused = gateUp;
            fusedOuts = gateUpOut;
            gatedAct = act;
            xqNext.reserve(nTokens, ffn, false);
            // the down call's GEMM reads its input interleaved: written unit by unit in this loop, as it is quantized
            if (kernel(down, nTokens) == Kernel.INT8_GEMM) xqNext.interleaveAsQuantized();
            // as the fused call: few-token items and tile pairs one by one, GEMV groups in contiguous chunks
            if (oneByOne) pool.parallelFor(units, gatedTask, units);
            else pool.parallelFor(units, gatedTask);
        } finally {
            this.w = null;
            this.x = null;
            fused = null;
            fusedOuts = null;
            gatedAct = null;
            quantizedFrom = null;
        }
        QuantizedActivations q = xq;
        xq = xqNext;
        xqNext = q;
        sameInput = true;
        quantizedFrom = gateUpOut[0];
        try {
            matmul(down, gateUpOut[0], nTokens, out, pool);
        } finally {
            sameInput = false;
            quantizedFrom = null;
        }
        return true;
    }

    /** Rows per unit of the current {@link #gatedFfn} loop: {@link #GATED_UNIT}, or more when both matrices take the GEMV. */
    private int gatedUnit = GATED_UNIT;

    /** Units [u0, u1) of {@link #gatedFfn}'s loop: gate and up rows, then the activation and quantization of those rows. */
    private void gatedRange(int u0, int u1, int worker) {
        final float[] gate = fusedOuts[0], up = fusedOuts[1];
        final int ffn = fused[0].rows(), n = nTokens, unit = gatedUnit;
        for (int u = u0; u < u1; u++) {
            final int r0 = u * unit, r1 = Math.min(ffn, r0 + unit);
            for (int m = 0; m < 2; m++) {
                WeightMatrix w = fused[m];
                float[] out = fusedOuts[m];
                switch (fusedKernels[m]) {
                    case FEW_TOKENS -> fewKernel(w, out, u, u + 1, worker);
                    case INT8_GEMM -> Int8Gemm.gemm(w.type(), w.interleaved(), w.rows(), w.cols(), xq, out, u, u + 1, gemmScratch[worker]);
                    case INT8_GEMV -> int8Kernel(w, out, r0 / Interleaved.ROWS, r1 / Interleaved.ROWS);
                    default -> throw new IllegalStateException("not fusable: " + fusedKernels[m]);
                }
            }
            for (int t = 0; t < n; t++) {
                gatedAct.apply(gate, up, t * ffn + r0, r1 - r0);
                xqNext.quantizeBlocks(gate, t, r0 / 32, r1 / 32);
            }
        }
    }

    private void fusedRange(int i0, int i1, int worker) {
        int m = 0;
        while (fusedFirst[m + 1] <= i0) m++;
        for (int i = i0; i < i1; ) {
            while (fusedFirst[m + 1] <= i) m++;
            int end = Math.min(i1, fusedFirst[m + 1]), a = i - fusedFirst[m], b = end - fusedFirst[m];
            WeightMatrix w = fused[m];
            float[] out = fusedOuts[m];
            switch (fusedKernels[m]) {
                case FEW_TOKENS -> fewKernel(w, out, a, b, worker);
                case INT8_GEMM -> Int8Gemm.gemm(w.type(), w.interleaved(), w.rows(), w.cols(), xq, out, a, b, gemmScratch[worker]);
                case INT8_GEMV -> int8Kernel(w, out, a, b);
                default -> throw new IllegalStateException("not fusable: " + fusedKernels[m]);
            }
            i = end;
        }
    }

    /**
     * Quantizes the call's activations to int8 per 32-block (the int8 kernels' input), tokens split across threads; with
     * {@code gemm} (an {@link Int8Gemm} call) the rows write their interleaved copy too, in the same loop.
     */
    private void quantizeActivations(ThreadPool pool, boolean gemm) {
        boolean residual = ResidualRows.wanted(w, nTokens);
        if (sameInput && quantizedFrom == x && xq.inputs == nTokens && xq.cols == w.cols() && xq.residual == residual) return;
        xq.reserve(nTokens, w.cols(), residual);
        if (gemm) xq.interleaveAsQuantized();
        // a few decode rows take microseconds: on the caller, rather than a hand-off to the workers and a wait (a batched
        // decode step ran ~4 such loops per layer)
        if ((long) nTokens * w.cols() <= INLINE_QUANTIZE_FLOATS && sharedLoops) quantizeTask.run(0, nTokens, 0);
        else pool.parallelFor(nTokens, quantizeTask);
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
        final int chunk = Interleaved.groupsPerChunk(w.type(), w.cols());
        for (int c0 = g0; c0 < g1; c0 += chunk) {
            int c1 = Math.min(g1, c0 + chunk);
            int8Kernel(w, int8Out, c0, c1);
            addResidual(c0 * Interleaved.ROWS, c1 * Interleaved.ROWS);
        }
    }

    /** Every token of {@link #xq} through the per-token int8 kernel of w's type, groups [g0, g1), in cache-sized chunks. */
    private void int8Kernel(WeightMatrix w, float[] out, int g0, int g1) {
        final var p = w.interleaved();
        final int rows = w.rows(), nb = w.cols() / 32, n = xq.tokens;
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
        }
    }

    /** {@link #x} · 2^112 for the F16 GEMV ({@link InterleavedGemm#scaleForF16}); grown as needed, never shrunk. */
    private float[] f16x = new float[0];
    /** Whether {@link #f16x} holds this call's activations (false: some |x| too large to scale, the plain kernel runs). */
    private boolean f16Scaled;

    /** Single-token steps over an interleaved F16 matrix: f32 activations, exact weights. */
    private void f16Range(int g0, int g1, int worker) {
        final WeightMatrix w = this.w;
        final int rows = w.rows(), cols = w.cols();
        final int chunk = Interleaved.groupsPerChunk(w.type(), cols);
        final boolean scaled = f16Scaled;
        for (int c0 = g0; c0 < g1; c0 += chunk) {
            int c1 = Math.min(g1, c0 + chunk);
            for (int t = 0; t < nTokens; t++) {
                if (scaled) InterleavedGemm.gemvF16Scaled(w.interleaved(), c0, c1, rows, cols, f16x, t * cols, out, t * rows);
                else InterleavedGemm.gemvF16(w.interleaved(), c0, c1, rows, cols, x, t * cols, out, t * rows);
            }
        }
    }

    private void fewRange(int i0, int i1, int worker) {
        fewKernel(w, int8Out, i0, i1, worker);
        addResidual(i0 * 2 * Interleaved.ROWS, i1 * 2 * Interleaved.ROWS);
    }

    /** Whether any of the first {@code m} matrices of the current fused call runs {@link Int8Gemm}. */
    private boolean anyGemm(int m) {
        for (int i = 0; i < m; i++) if (fusedKernels[i] == Kernel.INT8_GEMM) return true;
        return false;
    }

    /** The activation layouts the fused call's kernels read besides {@link #xq}, made before the pool's loop. */
    private void prepareFused(WeightMatrix[] ws) {
        for (int i = 0; i < ws.length; i++) {
            if (fusedKernels[i] == Kernel.FEW_TOKENS) prepareFew(ws[i]);
            else if (fusedKernels[i] == Kernel.INT8_GEMM) xq.interleaved();
        }
    }

    /**
     * The activation layouts w's few-token kernel reads besides {@link #xq} itself (column by column: Q8_0's floats, Q4_0's
     * shorts), built here on the calling thread before the pool's loop, once per quantization.
     */
    private void prepareFew(WeightMatrix w) {
        if (w.type() == GgmlType.Q8_0) xq.floats();
        else if (w.type() == GgmlType.Q4_0) xq.shortColumns();
    }

    /** Items [i0, i1) (two 32-row groups each) of w through the few-token kernel of its type, every token of {@link #xq}. */
    private void fewKernel(WeightMatrix w, float[] out, int i0, int i1, int worker) {
        final int nb = w.cols() / 32;
        switch (w.type()) {
            case Q8_0 -> {
                // 5-7 tokens in one pass at 512 bits (Int8FewTokens takes two): the same bits, each weight widened once
                if (Q8WidePasses.takes(xq.tokens)) Q8WidePasses.q8(w.interleaved(), i0, i1, w.rows(), nb, xq, xq.floats(), out, fewScratch[worker]);
                else Int8FewTokens.q8(w.interleaved(), i0, i1, w.rows(), nb, xq, xq.floats(), out, fewScratch[worker]);
            }
            case Q4_K -> Int8FewTokens.q4k(w.interleaved(), i0, i1, w.rows(), nb, xq, out, fewScratch[worker]);
            case Q5_0 -> Int8FewTokens.q5(w.interleaved(), i0, i1, w.rows(), nb, xq, out, fewScratch[worker]);
            case Q6_K -> Int8FewTokens.q6k(w.interleaved(), i0, i1, w.rows(), nb, xq, out, fewScratch[worker]);
            default -> Int8FewTokens.q4(w.interleaved(), i0, i1, w.rows(), nb, xq, out, fewScratch[worker]);
        }
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
        final int block = InterleavedGemm.tokenBlock(w.cols());
        for (int t0 = 0; t0 < nTokens; t0 += block) {
            int t1 = Math.min(nTokens, t0 + block);
            InterleavedGemm.gemm(w.type(), w.interleaved(), w.rows(), w.cols(), x, t0, t1, out, g0, g1, tile, part);
        }
    }

    private void gemmRange(int q0, int q1, int worker) {
        final WeightMatrix w = this.w;
        final float[] x = this.x, out = this.out;
        final int rows = w.rows(), cols = w.cols(), n = nTokens;
        // the decoded rows, then 16 floats where a batch's last 1-3 tokens are summed (see below), then the kernels'
        // accumulator scratch
        float[] a = scratch(worker, 4 * cols + 16 + Gemm.ACC_FLOATS);
        final int rem = 4 * cols, acc = rem + 16;
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
                            out, t * rows + r, (t + 1) * rows + r, (t + 2) * rows + r, (t + 3) * rows + r, a, acc);
                }
                // The last 1-3 tokens go through the same 4-token tile (the last token repeated, results summed aside
                // and copied), not a 1-token kernel: then a token's bits never depend on where it sits in its batch, in
                // any JIT state. With a 1-token kernel they did until both were compiled by C2 (a compiled reduceLanes
                // sums as a tree, an interpreted one in sequence): gemma3n-tiny's logits moved ~1e-3 between a prompt
                // run whole and in 7-token parts, a CI failure at 128 bits (2026-12-06).
                if (t < n) {
                    java.util.Arrays.fill(a, rem, rem + 16, 0f);
                    Gemm.k4x4(a, 0, cols, 2 * cols, 3 * cols, x, t * cols, Math.min(t + 1, n - 1) * cols,
                            Math.min(t + 2, n - 1) * cols, Math.min(t + 3, n - 1) * cols, cols, a, rem, rem + 4, rem + 8, rem + 12, a, acc);
                    for (int j = 0; t + j < n; j++) System.arraycopy(a, rem + 4 * j, out, (t + j) * rows + r, 4);
                }
            } else {
                for (int i = 0; i < m; i++) {
                    int tt = 0;
                    for (; tt + 4 <= n; tt += 4) {
                        Gemm.k1x4(a, i * cols, x, tt * cols, (tt + 1) * cols, (tt + 2) * cols, (tt + 3) * cols, cols,
                                out, tt * rows + r + i, (tt + 1) * rows + r + i, (tt + 2) * rows + r + i, (tt + 3) * rows + r + i, a, acc);
                    }
                    if (tt < n) { // as above, for a row tail
                        java.util.Arrays.fill(a, rem, rem + 4, 0f);
                        Gemm.k1x4(a, i * cols, x, tt * cols, Math.min(tt + 1, n - 1) * cols, Math.min(tt + 2, n - 1) * cols,
                                Math.min(tt + 3, n - 1) * cols, cols, a, rem, rem + 1, rem + 2, rem + 3, a, acc);
                        for (int j = 0; tt + j < n; j++) out[(tt + j) * rows + r + i] = a[rem + j];
                    }
                }
            }
        }
    }
    }
}
