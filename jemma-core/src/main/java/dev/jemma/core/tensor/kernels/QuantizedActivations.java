package dev.jemma.core.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * A batch of f32 activation rows quantized as llama.cpp's Q8_0 does for its integer dot products: per block of 32
 * values one scale {@code d = max|x| / 127} and 32 integers {@code round(x / d)} in [−127, 127]. The integers are
 * kept widened to {@code short} (the lane type of {@link Int8Kernels}); {@link #q4Bias} is −8 × the block's
 * integer sum, the start value that turns Q4_0's unsigned nibbles into their signed values (n − 8) for free.
 * Buffers grow on demand and are reused, so the hot path does not allocate.
 *
 * <p><b>Residual rows</b> (opt-in, {@code -Djemma.int8.residual=true}, or per matrix and call kind by {@link ResidualRows}:
 * they double the int8 work, and with it prompt time on Q4_0 / Q5_0 / Q4_K; see docs/PERFORMANCE.md, "Fidelity" and
 * "Fidelity, second pass"): each token's rounding
 * error {@code e = x − d·q} is quantized the same way into a second row, {@link #inputs} rows further on, so that
 * {@code x ≈ d·q + d'·q'} with about 15 bits instead of 8. The kernels see those rows as more tokens (their integers
 * obey the same bound, |q'| ≤ 127, so every 16-bit exactness argument of the kernels holds unchanged) and
 * {@link FastMatMul} adds the two results. Why: with one int8 row per token the logits of the fixtures' models move
 * by as much as llama.cpp's own (whose Q8_0 / Q8_K activations round the same way), so whether Jemma's max |Δ| and
 * top-1 beat llama.cpp's was a coin toss per file (a 2^-11 change of the scales alone moved max |Δ| by 20 %);
 * with the residual rows the error is ~100× below llama.cpp's on every fixture. Without them (the default) Jemma's
 * int8 arithmetic is llama.cpp's, and so is the size of its error.
 */
public final class QuantizedActivations {
    private static final VectorSpecies<Float> F = VectorWidth.F;
    private static final VectorSpecies<Integer> I = VectorWidth.I;
    private static final VectorSpecies<Short> SH = VectorWidth.SH;
    private static final int FL = VectorWidth.FLOATS;
    private static final float ROUND = 0x1.8p23f;
    private static final VectorMask<Integer> FIRST8 = VectorMask.fromLong(I, 0xFFL), LAST8 = VectorMask.fromLong(I, 0xFFL << 8);
    /** Whether residual rows are made (-Djemma.int8.residual=true), unless a test asks otherwise. */
    public static final boolean RESIDUAL = Boolean.getBoolean("jemma.int8.residual");
    /** Whether the current quantization makes residual rows (chosen per call by {@link #reserve(int, int, boolean)}). */
    boolean residual;
    /** What {@link #reserve(int, int)} chooses: {@link #RESIDUAL} unless a test asks otherwise. */
    private final boolean residualByDefault;
    short[] q = new short[0];
    float[] d = new float[0];
    /** The rounding errors x − d·q of the tokens being quantized (the residual rows' input). */
    private float[] err = new float[0];
    short[] q4Bias = new short[0];
    /** −16 × the integer sum of a block's first / last 16 values: Q5_0's start values, one per half-block. */
    short[] q5BiasLo = new short[0];
    short[] q5BiasHi = new short[0];
    /** −32 × the integer sum of each 8 values (4 per block): Q6_K's start values, one per 8 columns. */
    short[] q6Bias = new short[0];
    /** Rows per group of {@link #qi}: the int8 GEMM's register tile ({@link Int8Gemm#TILE_TOKENS}, 6 or 4). */
    static final int GROUP = Int8Gemm.TILE_TOKENS;
    /**
     * The integers of {@link #q} again with each {@link #GROUP} rows interleaved per column ({@code qi[(t − t % G)·cols +
     * G·c + t % G] = q[t·cols + c]}): the GEMM's tile then reads its tokens' activations of a column at constant offsets
     * from one index, instead of one running index per token, which C2 kept on the stack (the 6-token loop: 57
     * instructions per column → 44; one core, Q4_0 GEMM +7–20 % in alternated rounds; docs/PERFORMANCE.md "512-bit Q4_0
     * prompts"). Only {@link Int8Gemm} reads it, so it is made only for a call that runs that kernel: written as the
     * rows are quantized when the caller said so first ({@link #interleaveAsQuantized}, the rows then being split
     * across threads), else built by {@link #interleaved} on first use. A few-token serving step never makes it.
     */
    short[] qi = new short[0];
    /** Whether the rows write {@link #qi} as they are quantized: {@link #interleaveAsQuantized} with a group or more. */
    private boolean interleave;
    /** Whether {@link #qi} holds every row, built by {@link #interleaved} since the last quantization. */
    private boolean qiCurrent;
    /** The integers of {@link #q} as floats, for kernels that sum them in f32 lanes ({@link #floats}). */
    private float[] qf = new float[0];
    private boolean qfCurrent;
    /** {@link #q} column by column, for the Q4_0 few-token passes ({@link #shortColumns}). */
    private short[] qc = new short[0];
    private boolean qcCurrent;
    int cols;
    /** Rows held: {@link #inputs}, or twice that with residual rows (rows inputs + t hold token t's residual). */
    int tokens;
    /** Tokens of the input. */
    int inputs;

    public QuantizedActivations() {
        this(RESIDUAL);
    }

    QuantizedActivations(boolean residual) {
        this.residual = residualByDefault = residual;
    }

    /**
     * Quantizes tokens {@code [t0, t1)} of {@code x} (rows of {@code cols}); call {@link #reserve} first. Vectorized:
     * the same float operations as {@link #quantizeScalar} (x · (127 / amax) rounded half to even, by the 1.5·2^23
     * trick, exact for |v| < 2^22), so the integers are identical.
     */
    public void quantize(float[] x, int t0, int t1) {
        qfCurrent = qcCurrent = qiCurrent = false;
        rows(x, t0, t1, 0);
        if (residual) {
            errors(x, t0, t1);
            rows(err, t0, t1, inputs);
        }
    }

    /** err = x − d·q for tokens [t0, t1): what their rows left out. */
    private void errors(float[] x, int t0, int t1) {
        for (int blk = t0 * cols / 32, end = t1 * cols / 32; blk < end; blk++) {
            float dd = d[blk];
            for (int i = 32 * blk; i < 32 * blk + 32; i++) err[i] = x[i] - dd * q[i];
        }
    }

    /** Rows {@code shift + t} for tokens [t0, t1) of {@code x}. */
    private void rows(float[] x, int t0, int t1, int shift) {
        int nb = cols / 32;
        for (int t = t0; t < t1; t++) blocks(x, t, 0, nb, shift);
    }

    /**
     * Blocks [b0, b1) of token t alone ({@code reserve} first; no residual rows): what {@link #quantize} makes of them,
     * bit for bit, for a caller that produces the activations a few blocks at a time (the gated FFN's loop quantizes each
     * 64 values of the down projection's input where it computed them: {@code FastMatMul}).
     */
    public void quantizeBlocks(float[] x, int t, int b0, int b1) {
        if (residual) throw new IllegalStateException("block-wise quantization makes no residual rows");
        qfCurrent = qcCurrent = qiCurrent = false;
        blocks(x, t, b0, b1, 0);
    }

    /** Blocks [b0, b1) of token t of {@code x} into row {@code shift + t}. */
    private void blocks(float[] x, int t, int b0, int b1, int shift) {
        if (FL != 16) {
            quantizeNarrow(x, t, b0, b1, shift);
            // here, not inside quantizeNarrow's block loop: there the call left C2 boxing its vectors (29 KB per prompt token
            // at 256 bits, FloatVector.lanewiseTemplate in JFR's allocation samples)
            if (interleave) for (int b = b0; b < b1; b++) interleave(t + shift, b);
            return;
        }
        int nb = cols / 32;
        for (int b = b0; b < b1; b++) {
            int o = t * cols + 32 * b, p = o + shift * cols;
            FloatVector lo = FloatVector.fromArray(F, x, o), hi = FloatVector.fromArray(F, x, o + 16);
            float amax = lo.abs().max(hi.abs()).reduceLanes(VectorOperators.MAX);
            float id = amax > 0 ? 127f / amax : 0f;
            IntVector ql = (IntVector) lo.mul(id).add(ROUND).sub(ROUND).convert(VectorOperators.F2I, 0);
            IntVector qh = (IntVector) hi.mul(id).add(ROUND).sub(ROUND).convert(VectorOperators.F2I, 0);
            ((ShortVector) ql.convertShape(VectorOperators.I2S, SH, 0)).intoArray(q, p);
            ((ShortVector) qh.convertShape(VectorOperators.I2S, SH, 0)).intoArray(q, p + 16);
            if (interleave) interleave(t + shift, b);
            int e0 = ql.reduceLanes(VectorOperators.ADD, FIRST8), e1 = ql.reduceLanes(VectorOperators.ADD, LAST8);
            int e2 = qh.reduceLanes(VectorOperators.ADD, FIRST8), e3 = qh.reduceLanes(VectorOperators.ADD, LAST8);
            store(t + shift, b, nb, amax, e0, e1, e2, e3);
        }
    }

    /** {@link #blocks} with 8 or 4 float lanes: a block is 4 or 8 vectors, and each 8 values' sum one or two reductions. */
    private void quantizeNarrow(float[] x, int t, int b0, int b1, int shift) {
        int nb = cols / 32;
        for (int b = b0; b < b1; b++) {
            int o = t * cols + 32 * b, p = o + shift * cols;
            FloatVector m = FloatVector.fromArray(F, x, o).abs();
            for (int k = FL; k < 32; k += FL) m = m.max(FloatVector.fromArray(F, x, o + k).abs());
            float amax = m.reduceLanes(VectorOperators.MAX);
            float id = amax > 0 ? 127f / amax : 0f;
            int e0 = 0, e1 = 0, e2 = 0, e3 = 0;
            for (int k = 0; k < 32; k += FL) {
                IntVector qi = (IntVector) FloatVector.fromArray(F, x, o + k).mul(id).add(ROUND).sub(ROUND).convert(VectorOperators.F2I, 0);
                ((ShortVector) qi.convertShape(VectorOperators.I2S, SH, 0)).intoArray(q, p + k);
                int sum = qi.reduceLanes(VectorOperators.ADD);
                switch (k >> 3) {
                    case 0 -> e0 += sum;
                    case 1 -> e1 += sum;
                    case 2 -> e2 += sum;
                    default -> e3 += sum;
                }
            }
            store(t + shift, b, nb, amax, e0, e1, e2, e3);
        }
    }

    /** Block b of row t into {@link #qi}: 32 scalar stores, against the 32 × rows multiply-adds the GEMM does with them. */
    private void interleave(int t, int b) {
        int from = t * cols + 32 * b, to = (t - t % GROUP) * cols + GROUP * 32 * b + t % GROUP;
        for (int i = 0; i < 32; i++) qi[to + GROUP * i] = q[from + i];
    }

    /** A block's scale and the kernels' start values from the integer sums of its four 8-value groups. */
    private void store(int t, int b, int nb, float amax, int e0, int e1, int e2, int e3) {
        int k = 4 * (t * nb + b);
        q6Bias[k] = (short) (-32 * e0);
        q6Bias[k + 1] = (short) (-32 * e1);
        q6Bias[k + 2] = (short) (-32 * e2);
        q6Bias[k + 3] = (short) (-32 * e3);
        d[t * nb + b] = amax / 127f;
        q4Bias[t * nb + b] = (short) (-8 * (e0 + e1 + e2 + e3));
        q5BiasLo[t * nb + b] = (short) (-16 * (e0 + e1));
        q5BiasHi[t * nb + b] = (short) (-16 * (e2 + e3));
    }

    /**
     * The rows' integers as floats (all {@link #tokens} rows) column by column: element c·tokens + t is token t's
     * integer of column c, so a few-token pass finds the activations it broadcasts for one column side by side (one index
     * and cache line per column instead of one per token: the Q8_0 8-token pass ran 1.2x faster, docs/PERFORMANCE.md
     * "Eight rows per step at 512 bits"). Converted once per quantization; call it on one thread, after {@link #quantize}
     * and before kernels read the result.
     */
    float[] floats() {
        final int n = tokens;
        if (!qfCurrent) {
            if (qf.length < n * cols) qf = new float[n * cols];
            for (int t = 0; t < n; t++) for (int c = 0, i = t * cols; c < cols; c++) qf[c * n + t] = q[i + c];
            qfCurrent = true;
        }
        return qf;
    }

    /**
     * {@link #q} column by column (element c·tokens + t is token t's integer of column c), as {@link #floats} for the
     * Q4_0 few-token passes: one index per column for all their broadcasts (the 8-token Q4_0 step ran 1.09x faster,
     * docs/PERFORMANCE.md "Eight rows per step at 512 bits"). Built once per quantization; call it on one thread, after
     * {@link #quantize} and before kernels read the result.
     */
    short[] shortColumns() {
        final int n = tokens;
        if (!qcCurrent) {
            if (qc.length < n * cols) qc = new short[n * cols];
            for (int t = 0; t < n; t++) for (int c = 0, i = t * cols; c < cols; c++) qc[c * n + t] = q[i + c];
            qcCurrent = true;
        }
        return qc;
    }

    /**
     * Asks that the rows quantized from now on (until the next {@link #reserve}) also write {@link #qi}: for a call whose
     * kernel is {@link Int8Gemm}, which quantizes its rows on several threads, so that the interleaving is split with
     * them rather than done on one thread afterwards. Call it after {@link #reserve}, before quantizing.
     */
    void interleaveAsQuantized() {
        interleave = tokens >= GROUP;
        if (interleave) growInterleaved();
    }

    /**
     * {@link #qi} for every row: as written while quantizing ({@link #interleaveAsQuantized}), else built here once per
     * quantization. Call it on one thread, after quantizing and before kernels on other threads read the result, as
     * {@link #floats}.
     */
    short[] interleaved() {
        if (!interleave && !qiCurrent) {
            growInterleaved();
            final int n = tokens, c1 = cols;
            for (int t = 0; t < n; t++) {
                int to = (t - t % GROUP) * c1 + t % GROUP;
                for (int c = 0, i = t * c1; c < c1; c++) qi[to + GROUP * c] = q[i + c];
            }
            qiCurrent = true;
        }
        return qi;
    }

    /** Sizes {@link #qi} for the rows held, a whole last group included. */
    private void growInterleaved() {
        int ni = (tokens + GROUP - 1) / GROUP * GROUP * cols;
        if (qi.length < ni) qi = new short[ni];
    }

    /** The scalar definition {@link #quantize} must equal (kept for the test that checks it). */
    void quantizeScalar(float[] x, int t0, int t1) {
        rowsScalar(x, t0, t1, 0);
        if (residual) {
            float[] e = new float[x.length];
            for (int i = t0 * cols; i < t1 * cols; i++) e[i] = x[i] - d[i / 32] * q[i];
            rowsScalar(e, t0, t1, inputs);
        }
    }

    private void rowsScalar(float[] x, int t0, int t1, int shift) {
        int nb = cols / 32;
        for (int t0s = t0; t0s < t1; t0s++) {
            int t = t0s + shift;
            for (int b = 0; b < nb; b++) {
                int o = t0s * cols + 32 * b, p = o + shift * cols;
                float amax = 0;
                for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[o + i]));
                float dd = amax / 127f;
                float id = amax > 0 ? 127f / amax : 0f;
                int lo = 0, hi = 0, eighth = 0;
                for (int i = 0; i < 32; i++) {
                    int v = (int) Math.rint(x[o + i] * id);
                    q[p + i] = (short) v;
                    if (i < 16) lo += v;
                    else hi += v;
                    eighth += v;
                    if ((i & 7) == 7) {
                        q6Bias[4 * (t * nb + b) + (i >> 3)] = (short) (-32 * eighth);
                        eighth = 0;
                    }
                }
                d[t * nb + b] = dd;
                if (interleave) interleave(t, b);
                q4Bias[t * nb + b] = (short) (-8 * (lo + hi));
                q5BiasLo[t * nb + b] = (short) (-16 * lo);
                q5BiasHi[t * nb + b] = (short) (-16 * hi);
            }
        }
    }

    /**
     * Sizes the buffers for {@code tokens} tokens of {@code cols} (a multiple of 32), and their residual rows where this
     * object makes them ({@link #RESIDUAL}, or the constructor's choice).
     */
    public void reserve(int tokens, int cols) {
        reserve(tokens, cols, residualByDefault);
    }

    /** {@link #reserve(int, int)}, choosing whether this quantization makes residual rows. */
    void reserve(int tokens, int cols, boolean residual) {
        this.residual = residual;
        qfCurrent = qcCurrent = qiCurrent = false;
        this.inputs = tokens;
        this.tokens = residual ? 2 * tokens : tokens;
        this.cols = cols;
        if (residual && err.length < tokens * cols) err = new float[tokens * cols];
        int n = this.tokens * cols, nb = n / 32;
        if (q.length < n) q = new short[n];
        interleave = false;
        if (d.length < nb) {
            d = new float[nb];
            q4Bias = new short[nb];
            q5BiasLo = new short[nb];
            q5BiasHi = new short[nb];
            q6Bias = new short[4 * nb];
        }
    }
}
