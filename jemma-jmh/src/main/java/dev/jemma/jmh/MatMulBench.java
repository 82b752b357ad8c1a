package dev.jemma.jmh;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;
import dev.jemma.core.tensor.kernels.FastMatMul;
import dev.jemma.core.tensor.kernels.Interleaved;
import org.openjdk.jmh.annotations.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Single-thread matmul kernels on Gemma 3 1B's FFN shape (6912 × 1152): decode (1 token) and prefill (64 tokens),
 * in the exact mode, the f32-activation row kernels ("fast") and the interleaved copy Gemma 3 Q4_0/Q8_0 use by
 * default (int8 activations for one token; batches on the int8 GEMM for Q4_0 ({@code Int8Gemm}), on the f32 tile GEMM
 * for Q8_0 / F16). Report G multiply-adds/s = rows·cols·tokens / time.
 * Run: {@code mvn -Pjmh -pl jemma-jmh -am package -DskipTests && java --add-modules jdk.incubator.vector
 * -jar jemma-jmh/target/jemma-benchmarks.jar}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:-UseTypeSpeculation"})
public class MatMulBench {
    @Param({"Q4_0", "Q8_0", "F16"})
    public String type;

    @Param({"1", "64"})
    public int tokens;

    /** exact; fast (f32 activations, row kernels); interleaved (the default: int8 decode, int8 or f32 tile GEMM). */
    @Param({"fast", "exact", "interleaved"})
    public String mode;

    private static final int ROWS = 6912, COLS = 1152;
    private WeightMatrix w;
    private float[] x, out;
    private MatMul mm;
    private ThreadPool pool;

    @Setup
    public void setup() {
        GgmlType t = GgmlType.valueOf(type);
        long bytes = t.bytesFor(COLS) * ROWS;
        MemorySegment seg = Arena.ofAuto().allocate(bytes, 64);
        Random rnd = new Random(1);
        var i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        if (t == GgmlType.F16) {
            for (long i = 0; i < bytes / 2; i++) seg.set(i16, 2 * i, Float.floatToFloat16((float) rnd.nextGaussian() * 0.02f));
        } else {
            for (long i = 0; i < bytes; i++) seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
            for (long b = 0; b < bytes / t.typeSize; b++) seg.set(i16, b * t.typeSize, Float.floatToFloat16(0.01f));
        }
        w = new WeightMatrix("bench", seg, t, ROWS, COLS);
        if (mode.equals("interleaved")) {
            if (!Interleaved.supports(t, COLS)) throw new IllegalArgumentException("no interleaved layout for " + t);
            MemorySegment p = Arena.ofAuto().allocate(Interleaved.byteSize(t, ROWS, COLS), 64);
            Interleaved.repack(w, p, 0, Interleaved.groups(ROWS));
            w = w.withInterleaved(p);
        }
        x = new float[tokens * COLS];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        out = new float[tokens * ROWS];
        mm = mode.equals("exact") ? MatMul.EXACT : new FastMatMul();
        pool = new ThreadPool(1);
    }

    @TearDown
    public void close() {
        pool.close();
    }

    @Benchmark
    public float[] matmul() {
        mm.matmul(w, x, tokens, out, pool);
        return out;
    }
}
