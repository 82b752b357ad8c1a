package dev.jemma.core.model;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.kernels.FastMatMul;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A slow f32 emulation of how llama.cpp (de3ff81, CPU, the fixtures' run: one llama_decode over the whole prompt, F32
 * KV cache, no flash attention) and Jemma's default mode round the activations, one difference at a time, for
 * {@link FidelityProbe}. Every matrix is multiplied in f32 with exactly dequantized weights; what differs is what each
 * token's input row is rounded to first ({@link #fake}) and how the FFN's GELU is evaluated — so a run isolates the
 * rounding choices from summation order. Switches ({@link Switches#parse}, comma separated):
 * <ul>
 *   <li>{@code where=llama|jemma|none} — which matrices get rounded activations: llama.cpp's rule (every matrix, by its
 *       weight type's {@code vec_dot_type}: Q8_0 for Q4_0/Q5_0/Q8_0, Q8_K for K-quants, F16/BF16 for F16/BF16 weights,
 *       none for F32), Jemma's default (int8 for Q4_0/Q5_0/Q8_0/Q4_K/Q6_K below {@link FastMatMul#BATCH_MIN_TOKENS}
 *       tokens, for Q4_0/Q5_0/Q4_K only from there on; F16/BF16/F32 keep f32), or none (f32 everywhere);</li>
 *   <li>{@code f16scale} — the Q8_0 block scale used in the dot product rounded to f16 (llama.cpp's stored {@code d};
 *       the integers are the same as Jemma's, {@code rint(x · 127/amax)});</li>
 *   <li>{@code q8k} — K-quant matrices' activations as Q8_K: 256-value blocks, f32 scale {@code 1/iscale} with
 *       {@code iscale = −127/max} (max the signed value of largest magnitude), integers clamped to 127 (Jemma: 32-value
 *       Q8_0 blocks);</li>
 *   <li>{@code half} — F16 / BF16 weights' activations rounded to f16 / bf16 (llama.cpp's vec_dot_type for them);</li>
 *   <li>{@code gelu=exact|fast|table} — the FFN's GELU: f32 tanh (Jemma's {@code --exact}), Jemma's rational tanh
 *       ({@link Ops#geluGateFast}, its default), or llama.cpp's f16 table ({@code GGML_GELU_FP16}: the input rounded to
 *       f16, the table's value f16(gelu(x)), ±10 clamps); {@code gelu=table8}: the table where the down projection's
 *       activations are int8, the rational tanh elsewhere (the candidate that leaves exact files exact);</li>
 *   <li>{@code double} — not a llama.cpp difference but a control: the dot products summed in double instead of in
 *       f32 left to right, i.e. the same rounding of the activations with only the matmuls' last bits changed;</li>
 *   <li>{@code order=SEED} — the same kind of control, drawn at random: each dot product summed in f32 from a column
 *       drawn from (SEED, call, row, token) round to it, so a set of seeds samples the cases' outcomes over orders of
 *       summation that are all as good as each other (a kernel's choice).</li>
 * </ul>
 * Not emulated: RMSNorm's and softmax's double-precision sums in llama.cpp, its RoPE angle recurrence, and the integer
 * dot products' order of summation (the probe's distance to llama.cpp's own logits says what these leave).
 */
final class LlamaCppArithmetic implements MatMul {
    enum Where { LLAMA, JEMMA, NONE }

    enum Gelu { EXACT, FAST, TABLE, TABLE8 }

    /** What each token's input row is rounded to before an f32 dot product with the dequantized weights. */
    enum Act { F32, Q8_0, Q8_0_F16SCALE, Q8_K, F16, BF16 }

    record Switches(Where where, boolean f16Scale, boolean q8k, boolean half, Gelu gelu, boolean doubleSums, long order) {
        static Switches parse(String spec) {
            Where where = Where.LLAMA;
            boolean f16Scale = false, q8k = false, half = false, doubleSums = false;
            long order = 0;
            Gelu gelu = Gelu.FAST;
            for (String s : spec.split(",")) {
                s = s.trim();
                if (s.isEmpty()) continue;
                if (s.startsWith("where=")) where = Where.valueOf(s.substring(6).toUpperCase());
                else if (s.startsWith("gelu=")) gelu = Gelu.valueOf(s.substring(5).toUpperCase());
                else if (s.equals("f16scale")) f16Scale = true;
                else if (s.equals("q8k")) q8k = true;
                else if (s.equals("half")) half = true;
                else if (s.equals("double")) doubleSums = true;
                else if (s.startsWith("order=")) order = Long.parseLong(s.substring(6));
                else throw new IllegalArgumentException("unknown switch: " + s);
            }
            return new Switches(where, f16Scale, q8k, half, gelu, doubleSums, order);
        }

        /** llama.cpp's arithmetic as far as emulated. */
        static final String LLAMA = "where=llama,f16scale,q8k,half,gelu=table";
        /** Jemma's default mode's rounding. */
        static final String JEMMA = "where=jemma,gelu=fast";
    }

    private final Switches sw;
    private final Map<WeightMatrix, float[]> weights = new ConcurrentHashMap<>();
    /** Matmul calls so far (they run one after another in a forward): with {@code order=SEED}, part of each dot's start. */
    private final java.util.concurrent.atomic.AtomicLong calls = new java.util.concurrent.atomic.AtomicLong();

    LlamaCppArithmetic(Switches sw) {
        this.sw = sw;
    }

    private static boolean kQuant(GgmlType t) {
        return t == GgmlType.Q4_K || t == GgmlType.Q5_K || t == GgmlType.Q6_K || t == GgmlType.Q2_K || t == GgmlType.Q3_K;
    }

    /** The rounding a call of {@code nTokens} tokens over a {@code type} matrix applies to its activations. */
    Act act(GgmlType type, int nTokens) {
        Act int8 = kQuant(type) && sw.q8k ? Act.Q8_K : sw.f16Scale ? Act.Q8_0_F16SCALE : Act.Q8_0;
        return switch (sw.where) {
            case NONE -> Act.F32;
            case LLAMA -> switch (type) {
                case F32 -> Act.F32;
                case F16 -> sw.half ? Act.F16 : Act.F32;
                case BF16 -> sw.half ? Act.BF16 : Act.F32;
                default -> int8;
            };
            case JEMMA -> switch (type) {
                case Q4_0, Q5_0, Q4_K -> int8;
                case Q8_0, Q6_K -> nTokens < FastMatMul.BATCH_MIN_TOKENS ? int8 : Act.F32;
                case F16 -> sw.half ? Act.F16 : Act.F32;
                case BF16 -> sw.half ? Act.BF16 : Act.F32;
                default -> Act.F32;
            };
        };
    }

    @Override
    public void matmul(WeightMatrix w, float[] x, int nTokens, float[] out, ThreadPool pool) {
        final int rows = w.rows(), cols = w.cols();
        float[] wf = weights.computeIfAbsent(w, WeightMatrix::dequantizeAll);
        float[] xq = new float[nTokens * cols];
        Act a = act(w.type(), nTokens);
        final long call = calls.getAndIncrement();
        for (int t = 0; t < nTokens; t++) fake(a, x, t * cols, xq, t * cols, cols);
        pool.parallelFor(rows, (r0, r1, worker) -> {
            for (int r = r0; r < r1; r++) {
                for (int t = 0; t < nTokens; t++) {
                    if (sw.doubleSums) {
                        double s = 0;
                        for (int c = 0; c < cols; c++) s += (double) wf[r * cols + c] * xq[t * cols + c];
                        out[t * rows + r] = (float) s;
                    } else if (sw.order != 0) {
                        // another f32 order of the same terms: start at a column drawn from (seed, call, row, token)
                        int k = start(sw.order, call, r, t, cols);
                        float s = 0;
                        for (int i = 0; i < cols; i++) {
                            int c = k + i < cols ? k + i : k + i - cols;
                            s += wf[r * cols + c] * xq[t * cols + c];
                        }
                        out[t * rows + r] = s;
                    } else {
                        float s = 0;
                        for (int c = 0; c < cols; c++) s += wf[r * cols + c] * xq[t * cols + c];
                        out[t * rows + r] = s;
                    }
                }
            }
        });
    }

    @Override
    public boolean gatedFfn(WeightMatrix[] gateUp, WeightMatrix down, float[] x, int nTokens, float[][] gateUpOut, float[] out,
                            Gate ignored, ThreadPool.RangeTask prep, ThreadPool pool) {
        if (prep != null) ThreadPool.rows(pool, nTokens, prep);
        matmul(gateUp, x, nTokens, gateUpOut, pool);
        int n = nTokens * gateUp[0].rows();
        float[] g = gateUpOut[0], u = gateUpOut[1];
        Act downAct = act(down.type(), nTokens);
        boolean int8Down = downAct == Act.Q8_0 || downAct == Act.Q8_0_F16SCALE || downAct == Act.Q8_K;
        switch (sw.gelu == Gelu.TABLE8 ? (int8Down ? Gelu.TABLE : Gelu.FAST) : sw.gelu) {
            case EXACT -> Ops.geluGate(g, u, 0, n);
            case FAST -> {
                // Ops.geluGateFast's lanes are whole rows' worth (ffn is a multiple of 16 in every fixture)
                Ops.geluGateFast(g, u, 0, n);
            }
            case TABLE, TABLE8 -> {
                for (int i = 0; i < n; i++) g[i] = geluTable(g[i]) * u[i];
            }
        }
        matmul(down, g, nTokens, out, pool);
        return true;
    }

    /** A column in [0, cols) that depends on every argument (SplitMix64's finalizer). */
    static int start(long seed, long call, int r, int t, int cols) {
        long z = seed * 0x9E3779B97F4A7C15L + call * 0xBF58476D1CE4E5B9L + r * 0x94D049BB133111EBL + t * 0x2545F4914F6CDD1DL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (int) Math.floorMod(z, (long) cols);
    }

    private static final float SQRT_2_OVER_PI = 0.79788456080286535587989211986876f;

    /** ggml's GELU with GGML_GELU_FP16: f16(gelu_f32(f16(x))) between −10 and 10. */
    static float geluTable(float x) {
        if (x <= -10f) return 0f;
        if (x >= 10f) return x;
        float h = f16(x);
        float v = 0.5f * h * (1f + (float) Math.tanh(SQRT_2_OVER_PI * h * (1f + 0.044715f * h * h)));
        return f16(v);
    }

    static float f16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    /** Round to nearest even bf16, as ggml's GGML_FP32_TO_BF16 (no NaNs here). */
    static float bf16(float v) {
        int u = Float.floatToRawIntBits(v);
        u = (u + (0x7fff + ((u >>> 16) & 1))) >>> 16;
        return Float.intBitsToFloat(u << 16);
    }

    /** y[yo..yo+n) = x[xo..xo+n) rounded as {@code a}. */
    static void fake(Act a, float[] x, int xo, float[] y, int yo, int n) {
        switch (a) {
            case F32 -> System.arraycopy(x, xo, y, yo, n);
            case F16 -> {
                for (int i = 0; i < n; i++) y[yo + i] = f16(x[xo + i]);
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) y[yo + i] = bf16(x[xo + i]);
            }
            case Q8_0, Q8_0_F16SCALE -> {
                for (int b = 0; b < n; b += 32) {
                    float amax = 0;
                    for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[xo + b + i]));
                    float d = amax / 127f;
                    if (a == Act.Q8_0_F16SCALE) d = f16(d);
                    float id = amax > 0 ? 127f / amax : 0f;
                    for (int i = 0; i < 32; i++) y[yo + b + i] = d * (float) Math.rint(x[xo + b + i] * id);
                }
            }
            case Q8_K -> {
                if (n % 256 != 0) throw new IllegalArgumentException("Q8_K needs rows of a multiple of 256, not " + n);
                for (int b = 0; b < n; b += 256) {
                    float max = 0, amax = 0;
                    for (int i = 0; i < 256; i++) {
                        float ax = Math.abs(x[xo + b + i]);
                        if (ax > amax) {
                            amax = ax;
                            max = x[xo + b + i];
                        }
                    }
                    if (amax == 0) {
                        for (int i = 0; i < 256; i++) y[yo + b + i] = 0;
                        continue;
                    }
                    float iscale = -127f / max, d = 1 / iscale;
                    for (int i = 0; i < 256; i++) y[yo + b + i] = d * Math.min(127, (int) Math.rint(iscale * x[xo + b + i]));
                }
            }
        }
    }
}
