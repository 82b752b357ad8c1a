package dev.jemma.core.tensor.attention;

import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.StableMath;
import dev.jemma.core.tensor.VectorOps;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Multi-head attention where every query sees every key (an image encoder's: no cache, no mask), for long inputs with
 * small heads — SigLIP's 4096 patches × 16 heads of 72, and MobileNet-V5's multi-query attention (2304 pixels × 8 heads
 * of 64 over 576 down-sampled keys, one key/value head shared by all query heads). Both products are run as
 * GEMMs whose inner dimension is walked one element at a time, so no head size leaves a scalar remainder and no score
 * needs a horizontal sum:
 * <pre>
 *   S = Q_h · K_hᵀ        keys transposed per head ([headDim × n]): a broadcast query element times a vector of keys
 *   P = softmax(S)        per row, over all n keys
 *   O = P · V_h           values padded per head to whole vectors: a broadcast probability times a vector of values
 * </pre>
 * {@link Attention#attend} with {@link Visibility#BIDIRECTIONAL} computes the same (its dot products run along the head,
 * which for 72 leaves 8 scalar elements per score and value row and a lane sum per score).
 */
public final class DenseAttention {
    private static final VectorSpecies<Float> F = VectorOps.F;
    private static final int L = F.length();
    /** The exact vector class: loop-carried vectors are cast to it before a method is called on them (Attention.FV). */
    @SuppressWarnings("unchecked")
    private static final Class<FloatVector> FV = (Class<FloatVector>) F.vectorType();
    /** Query rows per work item: their scores (ROWS × n floats) stay in L2 between the softmax and the value pass. */
    static final int ROWS = 16;
    /** Keys per pass over a block's rows: a chunk of Kᵀ (headDim × 2 vectors) stays in L1 while all rows use it. */
    private static final int KEY_TILE = 2 * L;
    /** Keys per pass of the value product over a block's rows: their value rows (≤ 64 × hdPad floats) stay in L1. */
    private static final int VALUE_KEYS = 64;

    /** Queries, keys (n: the softmax's length), query heads, key/value heads, head size. */
    private final int queries, n, heads, kvHeads, headDim, nPad, hdPad;
    /** Kᵀ of every key/value head: head g at g·headDim·nPad, row d (dimension d of every key) at + d·nPad; keys ≥ n are zero. */
    private final float[] kt;
    /** V of every key/value head, rows padded to hdPad: head g at g·n·hdPad, key j at + j·hdPad. */
    private final float[] vp;
    private final float[][] scores, acc;

    /** Scratch for self-attention over {@code n} tokens of {@code heads × headDim}, used by {@code threads} threads. */
    public DenseAttention(int n, int heads, int headDim, int threads) {
        this(n, n, heads, heads, headDim, threads);
    }

    /**
     * Scratch for {@code queries} query rows of {@code heads × headDim} over {@code keys} key and value rows of
     * {@code kvHeads × headDim} (query head h reads key/value head h / (heads / kvHeads); 1 for multi-query attention).
     */
    public DenseAttention(int queries, int keys, int heads, int kvHeads, int headDim, int threads) {
        if (kvHeads < 1 || heads % kvHeads != 0) throw new IllegalArgumentException(heads + " query heads over " + kvHeads + " key/value heads");
        this.queries = queries;
        this.n = keys;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.nPad = (keys + KEY_TILE - 1) / KEY_TILE * KEY_TILE;
        this.hdPad = (headDim + L - 1) / L * L;
        kt = new float[kvHeads * headDim * nPad];
        vp = new float[kvHeads * keys * hdPad];
        scores = new float[threads][ROWS * nPad + 32];
        acc = new float[threads][ROWS * hdPad + 32];
    }

    /**
     * out[t, h·headDim ..] = softmax(q_{t,h} · K_gᵀ) · V_g for every query t and head h (g its key/value head); rows of
     * q and out are heads·headDim floats, rows of k and v kvHeads·headDim; q already carries the 1/√headDim scale.
     */
    public void attend(ThreadPool pool, float[] q, float[] k, float[] v, float[] out) {
        final int kvDim = kvHeads * headDim;
        pool.parallelFor(n, (t0, t1, worker) -> {
            for (int t = t0; t < t1; t++) {
                for (int g = 0; g < kvHeads; g++) {
                    int src = t * kvDim + g * headDim, base = g * headDim * nPad + t;
                    for (int d = 0; d < headDim; d++) kt[base + d * nPad] = k[src + d];
                    System.arraycopy(v, src, vp, (g * n + t) * hdPad, headDim);
                }
            }
        });
        final int blocks = (queries + ROWS - 1) / ROWS;
        pool.parallelFor(heads * blocks, (i0, i1, worker) -> {
            for (int i = i0; i < i1; i++) {
                int h = i / blocks, r0 = (i % blocks) * ROWS;
                block(q, out, h, r0, Math.min(queries, r0 + ROWS), scores[worker], acc[worker]);
            }
        });
    }

    private void block(float[] q, float[] out, int h, int r0, int r1, float[] s, float[] a) {
        final int dim = heads * headDim, rows = r1 - r0, g = h / (heads / kvHeads), kOff = g * headDim * nPad;
        for (int k0 = 0; k0 < nPad; k0 += KEY_TILE) {
            for (int r = 0; r < rows; r += 4) {
                scoreTile(q, r0 * dim + h * headDim, dim, r, rows, k0, kOff, s);
            }
        }
        for (int r = 0; r < rows; r++) softmax(s, r * nPad);
        java.util.Arrays.fill(a, 0, rows * hdPad, 0f);
        for (int k0 = 0; k0 < n; k0 += VALUE_KEYS) {
            for (int r = 0; r < rows; r += 4) valueTile(s, r, rows, k0, Math.min(n, k0 + VALUE_KEYS), g * n * hdPad, a);
        }
        for (int r = 0; r < rows; r++) System.arraycopy(a, r * hdPad, out, (r0 + r) * dim + h * headDim, headDim);
    }

    /**
     * s[row][k0 .. k0 + 2L) = q_row · Kᵀ for rows [r, r + 4) of the block (clamped to the last row: a clamped row
     * recomputes and rewrites a real row's scores). Eight accumulators, two key vectors and a broadcast: fits 16 registers.
     */
    private void scoreTile(float[] q, int qBase, int dim, int r, int rows, int k0, int kOff, float[] s) {
        int q0 = qBase + r * dim, q1 = qBase + Math.min(r + 1, rows - 1) * dim;
        int q2 = qBase + Math.min(r + 2, rows - 1) * dim, q3 = qBase + Math.min(r + 3, rows - 1) * dim;
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        final float[] kt = this.kt;
        for (int d = 0, ko = kOff + k0; d < headDim; d++, ko += nPad) {
            FloatVector b0 = FloatVector.fromArray(F, kt, ko), b1 = FloatVector.fromArray(F, kt, ko + L);
            FloatVector a = FloatVector.broadcast(F, q[q0 + d]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            a = FloatVector.broadcast(F, q[q1 + d]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            a = FloatVector.broadcast(F, q[q2 + d]);
            c20 = b0.fma(a, c20);
            c21 = b1.fma(a, c21);
            a = FloatVector.broadcast(F, q[q3 + d]);
            c30 = b0.fma(a, c30);
            c31 = b1.fma(a, c31);
        }
        int s0 = Math.min(r + 3, rows - 1) * nPad + k0;
        FV.cast(c30).intoArray(s, s0);
        FV.cast(c31).intoArray(s, s0 + L);
        s0 = Math.min(r + 2, rows - 1) * nPad + k0;
        FV.cast(c20).intoArray(s, s0);
        FV.cast(c21).intoArray(s, s0 + L);
        s0 = Math.min(r + 1, rows - 1) * nPad + k0;
        FV.cast(c10).intoArray(s, s0);
        FV.cast(c11).intoArray(s, s0 + L);
        s0 = r * nPad + k0;
        FV.cast(c00).intoArray(s, s0);
        FV.cast(c01).intoArray(s, s0 + L);
    }

    /** Probabilities over the row's n keys (the padding keys past n are set to 0, so the value pass may run over them). */
    private void softmax(float[] s, int off) {
        int bound = F.loopBound(n);
        FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int k = 0;
        for (; k < bound; k += L) mv = FloatVector.fromArray(F, s, off + k).max(mv);
        float max = FV.cast(mv).reduceLanes(VectorOperators.MAX);
        for (; k < n; k++) max = Math.max(max, s[off + k]);
        float sum = StableMath.expShiftedSum(s, off, off + bound, max);
        k = bound;
        for (; k < n; k++) {
            float e = StableMath.exp(s[off + k] - max);
            s[off + k] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (k = 0; k < bound; k += L) FloatVector.fromArray(F, s, off + k).mul(inv).intoArray(s, off + k);
        for (; k < n; k++) s[off + k] *= inv;
        java.util.Arrays.fill(s, off + n, off + nPad, 0f);
    }

    /**
     * a[i][..hdPad] += Σ_{k in [k0, k1)} p[r + i][k] · V_k for rows [r, r + 4) (clamped), up to four value vectors at a
     * time: each value vector loaded serves four rows and the accumulators stay in registers across the chunk's keys.
     */
    private void valueTile(float[] p, int r, int rows, int k0, int k1, int vOff, float[] a) {
        int r1 = Math.min(r + 1, rows - 1), r2 = Math.min(r + 2, rows - 1), r3 = Math.min(r + 3, rows - 1);
        int p0 = r * nPad, p1 = r1 * nPad, p2 = r2 * nPad, p3 = r3 * nPad;
        int a0 = r * hdPad, a1 = r1 * hdPad, a2 = r2 * hdPad, a3 = r3 * hdPad;
        final float[] vp = this.vp;
        int d = 0;
        for (; d + 4 * L <= hdPad; d += 4 * L) {
            FloatVector c00 = FloatVector.fromArray(F, a, a0 + d), c01 = FloatVector.fromArray(F, a, a0 + d + L);
            FloatVector c02 = FloatVector.fromArray(F, a, a0 + d + 2 * L), c03 = FloatVector.fromArray(F, a, a0 + d + 3 * L);
            FloatVector c10 = FloatVector.fromArray(F, a, a1 + d), c11 = FloatVector.fromArray(F, a, a1 + d + L);
            FloatVector c12 = FloatVector.fromArray(F, a, a1 + d + 2 * L), c13 = FloatVector.fromArray(F, a, a1 + d + 3 * L);
            FloatVector c20 = FloatVector.fromArray(F, a, a2 + d), c21 = FloatVector.fromArray(F, a, a2 + d + L);
            FloatVector c22 = FloatVector.fromArray(F, a, a2 + d + 2 * L), c23 = FloatVector.fromArray(F, a, a2 + d + 3 * L);
            FloatVector c30 = FloatVector.fromArray(F, a, a3 + d), c31 = FloatVector.fromArray(F, a, a3 + d + L);
            FloatVector c32 = FloatVector.fromArray(F, a, a3 + d + 2 * L), c33 = FloatVector.fromArray(F, a, a3 + d + 3 * L);
            for (int k = k0, o = vOff + k0 * hdPad + d; k < k1; k++, o += hdPad) {
                FloatVector v0 = FloatVector.fromArray(F, vp, o), v1 = FloatVector.fromArray(F, vp, o + L);
                FloatVector v2 = FloatVector.fromArray(F, vp, o + 2 * L), v3 = FloatVector.fromArray(F, vp, o + 3 * L);
                FloatVector w = FloatVector.broadcast(F, p[p0 + k]);
                c00 = v0.fma(w, c00);
                c01 = v1.fma(w, c01);
                c02 = v2.fma(w, c02);
                c03 = v3.fma(w, c03);
                w = FloatVector.broadcast(F, p[p1 + k]);
                c10 = v0.fma(w, c10);
                c11 = v1.fma(w, c11);
                c12 = v2.fma(w, c12);
                c13 = v3.fma(w, c13);
                w = FloatVector.broadcast(F, p[p2 + k]);
                c20 = v0.fma(w, c20);
                c21 = v1.fma(w, c21);
                c22 = v2.fma(w, c22);
                c23 = v3.fma(w, c23);
                w = FloatVector.broadcast(F, p[p3 + k]);
                c30 = v0.fma(w, c30);
                c31 = v1.fma(w, c31);
                c32 = v2.fma(w, c32);
                c33 = v3.fma(w, c33);
            }
            // a clamped row repeats a real row (same loads, same sums): its stores rewrite the same values
            FV.cast(c30).intoArray(a, a3 + d);
            FV.cast(c31).intoArray(a, a3 + d + L);
            FV.cast(c32).intoArray(a, a3 + d + 2 * L);
            FV.cast(c33).intoArray(a, a3 + d + 3 * L);
            FV.cast(c20).intoArray(a, a2 + d);
            FV.cast(c21).intoArray(a, a2 + d + L);
            FV.cast(c22).intoArray(a, a2 + d + 2 * L);
            FV.cast(c23).intoArray(a, a2 + d + 3 * L);
            FV.cast(c10).intoArray(a, a1 + d);
            FV.cast(c11).intoArray(a, a1 + d + L);
            FV.cast(c12).intoArray(a, a1 + d + 2 * L);
            FV.cast(c13).intoArray(a, a1 + d + 3 * L);
            FV.cast(c00).intoArray(a, a0 + d);
            FV.cast(c01).intoArray(a, a0 + d + L);
            FV.cast(c02).intoArray(a, a0 + d + 2 * L);
            FV.cast(c03).intoArray(a, a0 + d + 3 * L);
        }
        for (; d < hdPad; d += L) {
            FloatVector c0 = FloatVector.fromArray(F, a, a0 + d), c1 = FloatVector.fromArray(F, a, a1 + d);
            FloatVector c2 = FloatVector.fromArray(F, a, a2 + d), c3 = FloatVector.fromArray(F, a, a3 + d);
            for (int k = k0, o = vOff + k0 * hdPad + d; k < k1; k++, o += hdPad) {
                FloatVector v0 = FloatVector.fromArray(F, vp, o);
                c0 = v0.fma(FloatVector.broadcast(F, p[p0 + k]), c0);
                c1 = v0.fma(FloatVector.broadcast(F, p[p1 + k]), c1);
                c2 = v0.fma(FloatVector.broadcast(F, p[p2 + k]), c2);
                c3 = v0.fma(FloatVector.broadcast(F, p[p3 + k]), c3);
            }
            FV.cast(c3).intoArray(a, a3 + d);
            FV.cast(c2).intoArray(a, a2 + d);
            FV.cast(c1).intoArray(a, a1 + d);
            FV.cast(c0).intoArray(a, a0 + d);
        }
    }
}
