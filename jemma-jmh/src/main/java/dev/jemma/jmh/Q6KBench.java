package dev.jemma.jmh;

import dev.jemma.core.tensor.GgmlType;
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
 * One token through a Q6_K matrix's interleaved copy on one thread (the int8 GEMV, {@code KQuantKernels.q6k}) against a
 * Q4_0 matrix of the same shape ({@code Int8Kernels.q4}): Gemma 3n E2B's width (2048 columns). G multiply-adds/s =
 * rows·cols / time. Q6_K was ~half Q4_0's
 * rate per multiply-add in E2B's output projection (docs/PERFORMANCE.md, "Where an E2B token's time goes").
 * Run: {@code mvn -Pjmh -pl jemma-jmh -am package -DskipTests && java --add-modules jdk.incubator.vector
 * -jar jemma-jmh/target/jemma-benchmarks.jar Q6KBench}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:-UseTypeSpeculation"})
public class Q6KBench {
    @Param({"Q6_K", "Q4_0"})
    public String type;

    /** 8192 rows: 13.8 MB of Q6_K, within L3 (the kernel's arithmetic); 65536: 110 MB, from DRAM as E2B's 441 MB output. */
    @Param({"8192", "65536"})
    public int rows;

    private static final int COLS = 2048;
    private WeightMatrix w;
    private float[] x, out;
    private FastMatMul mm;
    private ThreadPool pool;

    @Setup
    public void setup() {
        GgmlType t = GgmlType.valueOf(type);
        long bytes = t.bytesFor(COLS) * rows;
        MemorySegment seg = Arena.ofAuto().allocate(bytes, 64);
        Random rnd = new Random(1);
        var i16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < bytes; i++) seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
        // the block's f16 scale: Q6_K's d ends its 210-byte block, Q4_0's d starts it
        long dAt = t == GgmlType.Q6_K ? 208 : 0;
        for (long b = 0; b < bytes / t.typeSize; b++) seg.set(i16, b * t.typeSize + dAt, Float.floatToFloat16(0.01f));
        w = new WeightMatrix("bench", seg, t, rows, COLS);
        MemorySegment p = Arena.ofAuto().allocate(Interleaved.byteSize(t, rows, COLS), 64);
        Interleaved.repack(w, p, 0, Interleaved.groups(rows));
        w = w.withInterleaved(p);
        x = new float[COLS];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        out = new float[rows];
        mm = new FastMatMul();
        pool = new ThreadPool(1);
    }

    @TearDown
    public void close() {
        pool.close();
    }

    @Benchmark
    public float[] gemv() {
        mm.matmul(w, x, 1, out, pool);
        return out;
    }
}
