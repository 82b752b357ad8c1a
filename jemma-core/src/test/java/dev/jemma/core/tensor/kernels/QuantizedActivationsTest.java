package dev.jemma.core.tensor.kernels;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class QuantizedActivationsTest {

    /** The vectorized quantizer gives the scalar definition's integers, scales and start values bit for bit (residual rows too). */
    @ParameterizedTest(name = "residual rows {0}")
    @ValueSource(booleans = {true, false})
    void vectorizedEqualsScalarDefinition(boolean residual) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs 512-bit vectors");
        int tokens = 7, cols = 256;
        Random rnd = new Random(3);
        float[] x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian() * (i % 5 == 0 ? 30 : 1);
        // ties: a block whose max is 127 exactly has id = 1, so k + 0.5 must round half to even as Math.rint does
        for (int i = 0; i < 32; i++) x[cols + i] = i == 0 ? 127f : (i % 2 == 0 ? 1 : -1) * (i + 0.5f);
        for (int i = 0; i < 32; i++) x[2 * cols + 32 + i] = 0f; // an all-zero block
        x[3 * cols + 64] = -1e-30f; // a block at the bottom of the range
        QuantizedActivations v = new QuantizedActivations(residual), s = new QuantizedActivations(residual);
        v.reserve(tokens, cols);
        s.reserve(tokens, cols);
        v.quantize(x, 0, tokens);
        s.quantizeScalar(x, 0, tokens);
        assertThat(v.q).containsExactly(s.q);
        assertThat(v.d).containsExactly(s.d);
        assertThat(v.q4Bias).containsExactly(s.q4Bias);
        assertThat(v.q5BiasLo).containsExactly(s.q5BiasLo);
        assertThat(v.q5BiasHi).containsExactly(s.q5BiasHi);
        assertThat(v.q6Bias).containsExactly(s.q6Bias);
        assertThat(v.q[cols + 1]).isEqualTo((short) -2); // -1.5 -> -2 (half to even)
        assertThat(v.q[cols + 2]).isEqualTo((short) 2); // 2.5 -> 2
        assertThat(v.q[cols + 3]).isEqualTo((short) -4); // -3.5 -> -4
        assertThat(v.q[cols + 4]).isEqualTo((short) 4); // 4.5 -> 4
    }

    /**
     * One object reused by calls with and without residual rows ({@link ResidualRows}' per-matrix choice): each call
     * gets what a fresh object of its kind gives, and no residual row is left over from an earlier call.
     */
    @Test
    void residualRowsChosenPerCall() {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vector kernels");
        int tokens = 5, cols = 96;
        Random rnd = new Random(9);
        float[] x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        QuantizedActivations reused = new QuantizedActivations(false);
        for (boolean residual : new boolean[]{true, false, true}) {
            QuantizedActivations fresh = new QuantizedActivations(residual);
            fresh.reserve(tokens, cols);
            fresh.quantize(x, 0, tokens);
            reused.reserve(tokens, cols, residual);
            reused.quantize(x, 0, tokens);
            assertThat(reused.tokens).isEqualTo(residual ? 2 * tokens : tokens);
            int n = fresh.tokens * cols;
            assertThat(java.util.Arrays.copyOf(reused.q, n)).containsExactly(java.util.Arrays.copyOf(fresh.q, n));
            assertThat(java.util.Arrays.copyOf(reused.d, n / 32)).containsExactly(java.util.Arrays.copyOf(fresh.d, n / 32));
        }
    }

    /** The selective rule: the name must match the whole pattern, and the token count the call kind asked for. */
    @Test
    void residualRowsBySelectiveRule() {
        var qkv = ResidualRows.names(".*attn_(q|k|v)\\.weight");
        assertThat(ResidualRows.wanted("blk.3.attn_q.weight", 1, qkv, ResidualRows.Tokens.ALL)).isTrue();
        assertThat(ResidualRows.wanted("blk.3.attn_q.weight", 64, qkv, ResidualRows.Tokens.ALL)).isTrue();
        assertThat(ResidualRows.wanted("blk.3.attn_output.weight", 1, qkv, ResidualRows.Tokens.ALL)).isFalse();
        assertThat(ResidualRows.wanted("blk.3.attn_q.weight", 7, qkv, ResidualRows.Tokens.DECODE)).isFalse();
        assertThat(ResidualRows.wanted("blk.3.attn_q.weight", 1, qkv, ResidualRows.Tokens.DECODE)).isTrue();
        assertThat(ResidualRows.wanted("blk.3.attn_q.weight", 1, qkv, ResidualRows.Tokens.BATCH)).isFalse();
        assertThat(ResidualRows.wanted("blk.3.attn_q.weight", 2, qkv, ResidualRows.Tokens.BATCH)).isTrue();
        assertThat(ResidualRows.wanted("blk.3.attn_q.weight", 1, ResidualRows.names(""), ResidualRows.Tokens.ALL)).isFalse();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ResidualRows.tokens("prefill"))
                .hasMessageContaining("decode, batch or all");
    }

    /**
     * A matrix that asks for residual rows ({@code WeightMatrix.withResidualRows}: Gemma 3n's) gets them in calls of
     * every size whatever the process-wide switches say, and keeps asking once its interleaved copy is attached; the
     * same matrix without asking follows the switches alone (off unless {@code -Djemma.int8.residual} or
     * {@code -Djemma.int8.residualNames} is set).
     */
    @Test
    void residualRowsByMatrix() {
        var w = new dev.jemma.core.tensor.WeightMatrix("blk.0.ffn_down.weight",
                java.lang.foreign.MemorySegment.ofArray(new byte[(int) dev.jemma.core.tensor.GgmlType.Q4_0.bytesFor(64) * 32]),
                dev.jemma.core.tensor.GgmlType.Q4_0, 32, 64);
        var asks = w.withResidualRows();
        var attached = asks.withInterleaved(java.lang.foreign.MemorySegment.ofArray(
                new byte[(int) Interleaved.byteSize(w.type(), w.rows(), w.cols())]));
        for (int n : new int[]{1, 7, 16, 64}) {
            assertThat(ResidualRows.wanted(asks, n)).as("asks, %d tokens", n).isTrue();
            assertThat(ResidualRows.wanted(attached, n)).as("asks with its copy, %d tokens", n).isTrue();
            boolean switches = QuantizedActivations.RESIDUAL || System.getProperty("jemma.int8.residualNames") != null;
            if (!switches) assertThat(ResidualRows.wanted(w, n)).as("does not ask, %d tokens", n).isFalse();
        }
        assertThat(w.residualRows()).isFalse();
    }

    /**
     * With residual rows a token is x ≈ d·q + d'·q' (row t and row inputs + t): the error is at most half a step of the
     * residual's scale, ~1/254 of the single-row error bound d/2; the residual's integers stay within [−127, 127].
     */
    @Test
    void residualRowsCarryTheRoundingError() {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vector kernels");
        int tokens = 3, cols = 128, nb = cols / 32;
        Random rnd = new Random(5);
        float[] x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian()));
        QuantizedActivations a = new QuantizedActivations(true);
        a.reserve(tokens, cols);
        a.quantize(x, 0, tokens);
        assertThat(a.tokens).isEqualTo(2 * tokens);
        for (int t = 0; t < tokens; t++) {
            for (int i = 0; i < cols; i++) {
                int k = t * cols + i, kr = (tokens + t) * cols + i, b = k / 32, br = kr / 32;
                assertThat((int) a.q[kr]).isBetween(-127, 127);
                double one = a.d[b] * a.q[k], two = one + (double) a.d[br] * a.q[kr];
                assertThat(Math.abs(x[k] - one)).isLessThanOrEqualTo(0.5001 * a.d[b]);
                assertThat(Math.abs(x[k] - two)).isLessThanOrEqualTo(0.5001 * a.d[b] / 126 + 1e-6 * Math.abs(x[k]));
            }
        }
        assertThat(nb).isPositive();
    }

    /**
     * Every row is also written {@link QuantizedActivations#GROUP} rows (the GEMM's tile: 6 at 512 bits, 4 below)
     * interleaved per column, whichever way it was quantized (whole rows, residual rows, a few blocks at a time, the
     * scalar definition) and whether the rows wrote it as they were quantized or {@code interleaved()} built it on first
     * use: {@code qi[(t − t % G)·cols + G·c + t % G] = q[t·cols + c]}. 13 rows: whole groups and a partial one. Each
     * object is quantized twice, from other values first, so that a copy left from the earlier quantization fails.
     */
    @ParameterizedTest(name = "residual rows {0}, written as quantized {1}")
    @CsvSource({"true,true", "true,false", "false,true", "false,false"})
    void rowsInterleavedPerColumn(boolean residual, boolean asQuantized) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vector kernels");
        int g = QuantizedActivations.GROUP;
        int tokens = 13, cols = 96;
        Random rnd = new Random(11);
        float[] x = new float[tokens * cols], before = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (int i = 0; i < x.length; i++) before[i] = (float) rnd.nextGaussian();
        QuantizedActivations whole = new QuantizedActivations(residual), scalar = new QuantizedActivations(residual);
        for (float[] v : new float[][]{before, x}) {
            whole.reserve(tokens, cols);
            if (asQuantized) whole.interleaveAsQuantized();
            whole.quantize(v, 0, tokens);
            whole.interleaved();
            scalar.reserve(tokens, cols);
            if (asQuantized) scalar.interleaveAsQuantized();
            scalar.quantizeScalar(v, 0, tokens);
            scalar.interleaved();
        }
        for (QuantizedActivations a : new QuantizedActivations[]{whole, scalar}) {
            short[] qi = a.interleaved();
            for (int t = 0; t < a.tokens; t++)
                for (int c = 0; c < cols; c++)
                    assertThat(qi[(t - t % g) * cols + g * c + t % g]).as("row %d column %d", t, c).isEqualTo(a.q[t * cols + c]);
        }
        if (residual) return;
        QuantizedActivations blocks = new QuantizedActivations(false);
        for (float[] v : new float[][]{before, x}) {
            blocks.reserve(tokens, cols);
            if (asQuantized) blocks.interleaveAsQuantized();
            for (int t = tokens - 1; t >= 0; t--) for (int b = cols / 32 - 1; b >= 0; b--) blocks.quantizeBlocks(v, t, b, b + 1);
            blocks.interleaved();
        }
        assertThat(java.util.Arrays.copyOf(blocks.interleaved(), tokens * cols)).containsExactly(java.util.Arrays.copyOf(whole.interleaved(), tokens * cols));
    }

    /** A few-token step (rows of one group or more, no GEMM) leaves the interleaved copy unmade until a GEMM asks. */
    @Test
    void fewTokenRowsLeaveTheInterleavedCopyUnmade() {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vector kernels");
        int tokens = QuantizedActivations.GROUP + 2, cols = 64;
        float[] x = new float[tokens * cols];
        for (int i = 0; i < x.length; i++) x[i] = (i % 7) - 3;
        QuantizedActivations a = new QuantizedActivations(false);
        a.reserve(tokens, cols);
        a.quantize(x, 0, tokens);
        assertThat(a.qi).isEmpty();
        assertThat(a.interleaved()).hasSizeGreaterThanOrEqualTo(tokens * cols);
    }
}
