package dev.jemma.jmh;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.*;

import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The ceiling of the int8 prefill GEMM ({@code Int8Gemm.tile4}) on this CPU with the Vector API: its inner loop alone
 * (a decoded 64-row × 128-column tile of 16-bit quants against 4 tokens: per column two weight vectors, four
 * broadcast activations, 8 {@code vpmullw} + 8 adds into 8 accumulators), and the same loop plus the per-32-column
 * scaling the kernel must do (16-bit block sums widened to f32 and multiplied by the weight and activation scales).
 * Both are copies of {@code tile4}'s code, kept identical on purpose (the product method cannot run without its
 * scaling, and is package-private). Prefill on Q4_0 cannot run faster than {@code scaled}; llama.cpp's VNNI kernel does 4 multiply-adds per lane per
 * instruction ({@code vpdpbusd}), which the Vector API has no operation for. Report G multiply-adds/s =
 * 64·128·4 / time. Run: {@code java --add-modules jdk.incubator.vector -jar jemma-jmh/target/jemma-benchmarks.jar
 * Int16TileBench}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:-UseTypeSpeculation"})
public class Int16TileBench {
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_512;
    private static final VectorSpecies<Short> S256 = ShortVector.SPECIES_256;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final int ROWS = 64, COLS = 128, X_COLS = 1024;

    private final short[] wt = new short[COLS * ROWS];
    private final short[] xq = new short[4 * X_COLS];
    private final short[] sums = new short[4 * ROWS];
    private final float[] ds = new float[COLS / 32 * ROWS];
    private final float[] xd = new float[4 * X_COLS / 32];
    private final float[] acc = new float[4 * ROWS];

    @Setup
    public void setup() {
        Random r = new Random(1);
        for (int i = 0; i < wt.length; i++) wt[i] = (short) (r.nextInt(16) - 8);
        for (int i = 0; i < xq.length; i++) xq[i] = (short) (r.nextInt(255) - 127);
        for (int i = 0; i < ds.length; i++) ds[i] = r.nextFloat();
        for (int i = 0; i < xd.length; i++) xd[i] = r.nextFloat();
    }

    /** The inner loop only: 16-bit sums of each 32 columns, stored (so that they are computed). */
    @Benchmark
    public short[] inner() {
        tile(false);
        return sums;
    }

    /** The inner loop and the per-block scaling into f32 sums, as the product kernel does. */
    @Benchmark
    public float[] scaled() {
        tile(true);
        return acc;
    }

    private void tile(boolean scale) {
        final int x0 = 0, x1 = X_COLS, x2 = 2 * X_COLS, x3 = 3 * X_COLS;
        for (int c0 = 0; c0 < COLS; c0 += 32) {
            ShortVector a0 = ShortVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
            for (int c = c0, end = c0 + 32; c < end; c++) {
                ShortVector w0 = ShortVector.fromArray(S, wt, c * ROWS);
                ShortVector w1 = ShortVector.fromArray(S, wt, c * ROWS + 32);
                ShortVector v0 = ShortVector.broadcast(S, xq[x0 + c]);
                ShortVector v1 = ShortVector.broadcast(S, xq[x1 + c]);
                ShortVector v2 = ShortVector.broadcast(S, xq[x2 + c]);
                ShortVector v3 = ShortVector.broadcast(S, xq[x3 + c]);
                a0 = a0.add(w0.mul(v0));
                b0 = b0.add(w1.mul(v0));
                a1 = a1.add(w0.mul(v1));
                b1 = b1.add(w1.mul(v1));
                a2 = a2.add(w0.mul(v2));
                b2 = b2.add(w1.mul(v2));
                a3 = a3.add(w0.mul(v3));
                b3 = b3.add(w1.mul(v3));
            }
            a0.intoArray(sums, 0);
            b0.intoArray(sums, 32);
            a1.intoArray(sums, ROWS);
            b1.intoArray(sums, ROWS + 32);
            a2.intoArray(sums, 2 * ROWS);
            b2.intoArray(sums, 2 * ROWS + 32);
            a3.intoArray(sums, 3 * ROWS);
            b3.intoArray(sums, 3 * ROWS + 32);
            if (scale) scaleSums(c0 >> 5);
        }
    }

    private void scaleSums(int block) {
        for (int j = 0; j < 4; j++) {
            float s = xd[j * (X_COLS / 32) + block];
            for (int r = 0; r < ROWS; r += 16) {
                int o = j * ROWS + r;
                ((FloatVector) ShortVector.fromArray(S256, sums, o).convertShape(VectorOperators.S2F, F, 0))
                        .fma(FloatVector.fromArray(F, ds, block * ROWS + r).mul(s), FloatVector.fromArray(F, acc, o))
                        .intoArray(acc, o);
            }
        }
    }
}
