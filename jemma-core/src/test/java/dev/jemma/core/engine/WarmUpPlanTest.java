package dev.jemma.core.engine;

import dev.jemma.core.tensor.kernels.Int8FewTokens;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What {@link Engine#warmUp} reaches, counted from its plan (deterministic, unlike the JIT it prepares): every shape a
 * serving step of the pool can give a kernel must have run before serving starts, or C2 compiles the kernel's dispatch
 * without it and deoptimizes when serving first meets it (a 5-row step at {@code --parallel 4}: the few-token kernels'
 * 3 + 2 split, measured), or runs a never-run variant uncompiled (docs/PERFORMANCE.md, "Run ends and long prompts").
 */
class WarmUpPlanTest {
    @Test
    void everyFewTokenSplitAndEveryLogitsCountOfThePoolRuns() {
        for (int parallel = 1; parallel <= 20; parallel++) {
            for (int chunk : new int[]{1, 4, 5, 8, 16, 32, 64}) {
                for (int maxBatch : new int[]{8, 16, 32, 512}) {
                    List<int[]> plan = Engine.warmUpPlan(parallel, chunk, maxBatch);
                    String what = "parallel " + parallel + ", chunk " + chunk + ", batch " + maxBatch;
                    Set<Integer> totals = new TreeSet<>(), decodeOnly = new TreeSet<>();
                    boolean beside = false, gemm = false;
                    for (int[] step : plan) {
                        assertThat(step[0] + step[1]).as("rows of a step (%s)", what).isBetween(1, maxBatch);
                        totals.add(step[0] + step[1]);
                        if (step[1] == 0) decodeOnly.add(step[0]);
                        beside |= step[0] > 0 && step[1] > 0;
                        gemm |= step[0] + step[1] > Int8FewTokens.MAX_TOKENS;
                    }
                    // the layers' few-token kernels: passes of 4, 3, 2 and 5 = 3 + 2 cover every call up to MAX_TOKENS rows
                    for (int n = 1; n <= Math.min(Engine.FEW_TOKEN_SPLITS, maxBatch); n++) {
                        assertThat(totals).as("a step of %d rows (%s)", n, what).contains(n);
                    }
                    // the output projection: one logits row per decoding stream, up to the pool's size
                    for (int n = 1; n <= Math.min(Math.min(parallel, Int8FewTokens.MAX_TOKENS), maxBatch); n++) {
                        assertThat(decodeOnly).as("a step of %d decode rows (%s)", n, what).contains(n);
                    }
                    assertThat(beside).as("a prompt chunk beside decode rows (%s)", what).isTrue();
                    if (maxBatch > Int8FewTokens.MAX_TOKENS) assertThat(gemm).as("a step past the few-token kernels (%s)", what).isTrue();
                }
            }
        }
    }

    /**
     * Int8Gemm's batch loop takes a call's rows in passes of its widest tile and then narrower ones for the remainder
     * (512 bits: 12, 6, 4, 2, 1; with 12-token tiles off 6, 4, 2, 1; 256 bits: 4, 2, 1): the plan's prompts alone must
     * run every pass of each, or the first serving step with that remainder deoptimizes gemm and runs the tile
     * uncompiled. Fails with the plan's prompt alone at 17 rows only (no 6- or 2-token pass).
     */
    @Test
    void everyPassOfTheBatchGemmRuns() {
        int[][] tilings = {{12, 6, 4, 2, 1}, {6, 4, 2, 1}, {4, 2, 1}};
        for (int parallel : new int[]{1, 4, 8, 16}) {
            for (int chunk : new int[]{8, 16, 32}) {
                List<int[]> plan = Engine.warmUpPlan(parallel, chunk, 64);
                for (int[] tiles : tilings) {
                    Set<Integer> ran = new TreeSet<>();
                    for (int[] step : plan) {
                        int n = step[0] + step[1];
                        if (n <= Int8FewTokens.MAX_TOKENS) continue;
                        for (int tile : tiles) {
                            if (n >= tile) ran.add(tile);
                            n %= tile;
                        }
                    }
                    assertThat(ran).as("passes run, tiles %s, parallel %d, chunk %d", java.util.Arrays.toString(tiles), parallel, chunk)
                            .containsExactlyInAnyOrder(java.util.Arrays.stream(tiles).boxed().toArray(Integer[]::new));
                }
            }
        }
    }

    @Test
    void theChunkBesideTheStreamsIsTheSchedulersShape() {
        // 8 slots, chunk 16: 7 streams decode while a prompt takes the rest of the step's 16 rows
        assertThat(Engine.warmUpPlan(8, 16, 512)).anySatisfy(s -> assertThat(s).containsExactly(7, 9));
        // 4 slots: 3 streams and 13 prompt rows, the serve-bench intrusion case's step
        assertThat(Engine.warmUpPlan(4, 16, 512)).anySatisfy(s -> assertThat(s).containsExactly(3, 13));
    }
}
