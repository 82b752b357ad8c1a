package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.PoolProfile;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link FastMatMul#gatedFfn} (gate/up, the activation and the down projection's quantization in one loop, then down)
 * against its four steps run one after the other: the same bits in the output and in the down projection's input, at
 * every token count a step can have (the per-token, few-token and GEMM kernels, mixed types as in a Q4_K_M file), and
 * two pool loops where it applies. The activation here is scalar arithmetic, so both sides compute it identically in any
 * JIT state (a compiled Vector API tanh may round differently from its interpreted fallback).
 */
class GatedFfnTest {
    private static ThreadPool pool;

    /** g = g·u·0.5 + g: elementwise, as a gated FFN's activation must be. */
    private static final MatMul.Gate ACT = (g, u, off, n) -> {
        for (int i = off; i < off + n; i++) g[i] = g[i] * u[i] * 0.5f + g[i];
    };

    @BeforeAll
    static void start() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    @ParameterizedTest(name = "gate {0}, up {1}, down {2}, hidden {3}, ffn {4}")
    @CsvSource({"Q4_0, Q4_0, Q4_0, 256, 448", "Q8_0, Q8_0, Q8_0, 256, 320", "Q4_K, Q4_K, Q6_K, 256, 512",
            "Q5_0, Q5_0, Q4_K, 256, 768", "Q4_0, Q4_0, Q8_0, 1152, 192"})
    void givesWhatItsFourStepsGive(GgmlType gateType, GgmlType upType, GgmlType downType, int hidden, int ffn) {
        check(gateType, upType, downType, hidden, ffn, new int[]{1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 24});
    }

    /**
     * A single row's loop (gate and up on the per-token GEMV) in units of several groups, the last one shorter where the
     * groups do not divide evenly: still the four steps' bits and two loops.
     */
    @ParameterizedTest(name = "{0} groups per unit, {1}, ffn {2}")
    @CsvSource({"2, Q4_0, 448", "4, Q4_0, 448", "6, Q8_0, 320", "4, Q8_0, 320", "0, Q4_0, 2048"})
    void aSingleRowInUnitsOfSeveralGroups(int groups, GgmlType type, int ffn) {
        int old = FastMatMul.gatedGemvGroups(groups);
        try {
            check(type, type, type, 256, ffn, new int[]{1});
        } finally {
            FastMatMul.gatedGemvGroups(old);
        }
    }

    private static void check(GgmlType gateType, GgmlType upType, GgmlType downType, int hidden, int ffn, int[] counts) {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        WeightMatrix gate = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(gateType, ffn, hidden, 11));
        WeightMatrix up = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(upType, ffn, hidden, 12));
        WeightMatrix down = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(downType, hidden, ffn, 13));
        WeightMatrix[] gateUp = {gate, up};
        Random rnd = new Random(5);
        FastMatMul fused = new FastMatMul();
        int fusedCounts = 0;
        for (int n : counts) {
            float[] x = new float[n * hidden];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            // the caller's row preparation (a residual add and norm in the model): the fused call gets x unprepared and
            // runs it inside its quantization loop; the four steps get x prepared first
            float[] raw = x.clone();
            ThreadPool.RangeTask prep = (t0, t1, worker) -> {
                for (int i = t0 * hidden; i < t1 * hidden; i++) raw[i] = raw[i] * 2f + 1f;
            };
            for (int i = 0; i < x.length; i++) x[i] = x[i] * 2f + 1f;
            float[][] stepsOut = {new float[n * ffn], new float[n * ffn]};
            float[] steps = new float[n * hidden];
            FastMatMul separate = new FastMatMul();
            separate.matmul(gateUp, x, n, stepsOut, pool);
            ACT.apply(stepsOut[0], stepsOut[1], 0, n * ffn);
            separate.matmul(down, stepsOut[0], n, steps, pool);

            float[][] fusedOut = {new float[n * ffn], new float[n * ffn]};
            float[] out = new float[n * hidden];
            PoolProfile loops = new PoolProfile(pool.threads());
            pool.profile(loops);
            boolean ran;
            try {
                ran = fused.gatedFfn(gateUp, down, raw, n, fusedOut, out, ACT, prep, pool);
            } finally {
                pool.profile(null);
            }
            boolean applies = !QuantizedActivations.RESIDUAL && FastMatMul.kernel(gate, n).fusable
                    && FastMatMul.kernel(up, n).fusable && FastMatMul.kernel(down, n).fusable;
            assertThat(ran).as("%d tokens", n).isEqualTo(applies);
            if (!ran) continue;
            fusedCounts++;
            assertThat(raw).as("prepared input, %d tokens", n).containsExactly(x);
            assertThat(out).as("output, %d tokens", n).containsExactly(steps);
            assertThat(fusedOut[0]).as("down projection's input, %d tokens", n).containsExactly(stepsOut[0]);
            long calls = loops.entries().values().stream().mapToLong(e -> e.calls).sum();
            // the input's quantization is a loop of its own only past FastMatMul.INLINE_QUANTIZE_FLOATS
            long expected = (long) n * hidden <= FastMatMul.INLINE_QUANTIZE_FLOATS ? 2 : 3;
            assertThat(calls).as("pool loops, %d tokens", n).isEqualTo(expected);
        }
        if (!QuantizedActivations.RESIDUAL) assertThat(fusedCounts).isPositive();
    }

    @Test
    void declinesWhereItsUnitsDoNotFit() {
        Assumptions.assumeTrue(Kernels.ENABLED, "needs vectors of 128 bits or more");
        // 96 rows of gate/up: not a whole number of 64-row units
        WeightMatrix gate = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(GgmlType.Q4_0, 96, 128, 1));
        WeightMatrix up = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(GgmlType.Q4_0, 96, 128, 2));
        WeightMatrix down = Int8MatMulTest.packed(FastMatMulTest.randomMatrix(GgmlType.Q4_0, 128, 96, 3));
        float[][] outs = {new float[4 * 96], new float[4 * 96]};
        float[] out = new float[4 * 128];
        assertThat(new FastMatMul().gatedFfn(new WeightMatrix[]{gate, up}, down, new float[4 * 128], 4, outs, out, ACT, null, pool)).isFalse();
        assertThat(out).containsOnly(0f);
    }
}
