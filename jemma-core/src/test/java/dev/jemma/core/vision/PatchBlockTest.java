package dev.jemma.core.vision;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.kernels.FastMatMul;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The tower's matmuls in blocks of patches give what one call over all patches gives (an 896-pixel image has 4096). */
class PatchBlockTest {
    @Test
    void blockedMatmulEqualsOneCall() {
        Random rnd = new Random(7);
        int rows = 2 * SiglipVisionTower.PATCH_BLOCK + 37, in = 40, out1 = 24, out2 = 8;
        float[] x = new float[rows * in], w1 = new float[out1 * in], w2 = new float[out2 * in];
        for (float[] a : new float[][]{x, w1, w2}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
        WeightMatrix[] ws = {VisionWeights.f32("w1", w1, out1, in), VisionWeights.f32("w2", w2, out2, in)};
        try (ThreadPool pool = new ThreadPool(2)) {
            for (MatMul mm : new MatMul[]{MatMul.EXACT, new FastMatMul()}) {
                float[][] blocked = {new float[rows * out1], new float[rows * out2]}, whole = {new float[rows * out1], new float[rows * out2]};
                SiglipVisionTower.blocked(mm, pool, ws, x, rows, blocked);
                mm.matmul(ws, x, rows, whole, pool);
                // equal up to float summation order (interpreted and compiled Vector API code reduce differently)
                for (int k = 0; k < 2; k++) {
                    double max = 0;
                    for (int i = 0; i < whole[k].length; i++) max = Math.max(max, Math.abs(blocked[k][i] - whole[k][i]));
                    System.out.println(mm.getClass().getSimpleName() + " matrix " + k + ": max|d| " + max);
                    assertThat(max).as(mm.getClass().getSimpleName()).isLessThan(1e-4);
                }
            }
        }
    }
}
