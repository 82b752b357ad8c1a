package dev.jemma.core.model;

import dev.jemma.core.tensor.VectorOps;

/**
 * Alternating Updates (AltUp), Gemma 3n's way of carrying a residual stream A times wider than the transformer
 * block: the block computes on one stream (the active one) and a tiny learned linear map, conditioned on a router,
 * predicts all streams before the block and corrects them after it (HF {@code Gemma3nTextAltUp}).
 * <pre>
 *   router(x)   = tanh( W_router · (RMSNorm(x, router_norm) / E) )                 [A]
 *   predict:      C = reshape(W_pred · router(s[a]), A×A);  pred[i] = Σ_j C[i][j]·s[j] + s[i]
 *   correct:      c = W_corr · router(y) + 1;               s'[i]  = pred[i] + c[i]·(y − pred[a])
 *   expand/collapse: a projected stream is rescaled to the RMS of stream 0 (RMS floored at √1e-5)
 * </pre>
 * Streams are arrays of rows of length {@code n}; every method works on the row at {@code off}.
 */
public final class AltUp {
    /** HF clamps the mean square at this value before the square root when matching magnitudes. */
    static final float MAGNITUDE_EPS = 1e-5f;

    private AltUp() {
    }

    /** dst = RMSNorm(x, w) · (1/n): the router's input (HF multiplies by {@code hidden_size**-1}). */
    public static void routerInput(float[] x, int off, int n, float[] w, float eps, float[] dst, int dstOff) {
        System.arraycopy(x, off, dst, dstOff, n);
        VectorOps.rmsNorm(dst, dstOff, n, w, eps);
        VectorOps.scale(dst, dstOff, n, (float) (1.0 / n));
    }

    /** out[o] = Σ_i W[o·A + i] · r[i] for the {@code rows} outputs of a small dense F32 coefficient matrix. */
    public static void coefficients(float[] w, int rows, float[] r, int rOff, int a, float[] out) {
        coefficients(w, rows, r, rOff, a, out, 0);
    }

    /** As {@link #coefficients(float[], int, float[], int, int, float[])} into out from {@code outOff} on. */
    public static void coefficients(float[] w, int rows, float[] r, int rOff, int a, float[] out, int outOff) {
        for (int o = 0; o < rows; o++) {
            float s = 0;
            for (int i = 0; i < a; i++) s += w[o * a + i] * r[rOff + i];
            out[outOff + o] = s;
        }
    }

    /**
     * pred[i] = Σ_j C[i][j] · s[j] + s[i] with {@code C[i][j] = coefs[i·A + j]} (HF reshapes the A² router outputs
     * to A×A and multiplies the streams by its transpose, so row i of the reshaped matrix mixes into stream i).
     */
    public static void predict(float[][] s, int off, int n, float[] coefs, float[][] pred) {
        predict(s, off, n, coefs, 0, pred);
    }

    /** As {@link #predict(float[][], int, int, float[], float[][])} with C from {@code coefs[coefOff]} on. */
    public static void predict(float[][] s, int off, int n, float[] coefs, int coefOff, float[][] pred) {
        final int a = s.length;
        for (int i = 0; i < a; i++) VectorOps.mix(s, coefs, coefOff + i * a, s[i], pred[i], off, n);
    }

    /**
     * out[i] = pred[i] + c[i] · (activated − pred[active]); {@code c} already includes the +1. {@code out} may be
     * the array of streams that {@code pred} was predicted from, but not {@code pred} itself.
     */
    public static void correct(float[][] pred, float[] activated, int off, int n, int active, float[] c, float[][] out) {
        correct(pred, activated, off, n, active, c, 0, out);
    }

    /** As {@link #correct(float[][], float[], int, int, int, float[], float[][])} with c from {@code cOff} on. */
    public static void correct(float[][] pred, float[] activated, int off, int n, int active, float[] c, int cOff, float[][] out) {
        VectorOps.spread(activated, pred[active], c, cOff, pred, out, off, n);
    }

    /** al = (x + attn + laurel) / √2 over [off, off + n), into laurel: the attention block's residual (HF divides by √2). */
    public static void averageResiduals(float[] x, float[] attn, float[] laurel, int off, int n) {
        VectorOps.sumDiv(x, attn, laurel, off, n, SQRT2);
    }

    private static final float SQRT2 = (float) Math.sqrt(2.0);

    /** sqrt(mean(x²)) of one row (no epsilon: the target magnitude). */
    public static float rms(float[] x, int off, int n) {
        return (float) Math.sqrt(VectorOps.sumOfSquares(x, off, n) / n);
    }

    /** x = x · target / max(rms(x), √eps): gives a projected stream the magnitude of stream 0. */
    public static void matchMagnitude(float[] x, int off, int n, float target) {
        float ms = VectorOps.sumOfSquares(x, off, n) / n;
        float mag = (float) Math.sqrt(Math.max(ms, MAGNITUDE_EPS));
        VectorOps.mulDiv(x, off, n, target, mag);
    }
}
