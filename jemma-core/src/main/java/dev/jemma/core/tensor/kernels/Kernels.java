package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Fused row kernels over weights in their stored (mmapped) format, with f32 activations: a dot product of one
 * stored row with an f32 vector, and a vectorized row dequantizer. Written for 512-bit vectors (a Q4_0/Q8_0 block
 * of 32 weights is two 16-lane float vectors); {@link #ENABLED} is false on narrower hardware, where callers fall
 * back to {@link dev.jemma.core.tensor.BlockFormat}'s exact scalar code.
 *
 * <p>Numerics: weights are decoded exactly (as ggml's {@code to_float}); only the summation order differs from
 * the exact mode, so results agree with it to float rounding (~1e-6 relative).
 */
public final class Kernels {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> S256 = ShortVector.SPECIES_256;
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Whether the fast kernels run: a usable vector width ({@link VectorWidth}) and not switched off. */
    public static final boolean ENABLED = VectorWidth.ENABLED && !Boolean.getBoolean("jemma.noFastKernels");

    private Kernels() {
    }

    /** Whether {@link #dot} and {@link #dequantizeRow} have a fused kernel for this type. */
    public static boolean hasKernel(GgmlType t) {
        return ENABLED && switch (t) {
            case Q4_0, Q8_0, F16, BF16, F32 -> true;
            default -> false;
        };
    }

    /** Whether {@link #dot} needs per-block sums of x (see {@link #blockSums}). */
    public static boolean needsBlockSums(GgmlType t) {
        return t == GgmlType.Q4_0;
    }

    /** sums[so + b] = Σ x[xo + 32b .. xo + 32b + 32) for the {@code n / 32} blocks of one activation row. */
    public static void blockSums(float[] x, int xo, int n, float[] sums, int so) {
        for (int b = 0; b < n / 32; b++) {
            FloatVector v = FloatVector.fromArray(F, x, xo + 32 * b).add(FloatVector.fromArray(F, x, xo + 32 * b + 16));
            sums[so + b] = v.reduceLanes(VectorOperators.ADD);
        }
    }

    /**
     * Dot product of row {@code r} of {@code w} with {@code x[xo .. xo + cols)}. For Q4_0 {@code sums} must hold
     * {@link #blockSums} of that x from index {@code so} (the −8 offset of every nibble is applied once per block through it).
     */
    public static float dot(WeightMatrix w, int r, float[] x, int xo, float[] sums, int so) {
        MemorySegment seg = w.data();
        long off = w.rowOffset(r);
        int n = w.cols();
        return switch (w.type()) {
            case Q4_0 -> dotQ4_0(seg, off, x, xo, n, sums, so);
            case Q8_0 -> dotQ8_0(seg, off, x, xo, n);
            case F16 -> dotF16(seg, off, x, xo, n);
            case BF16 -> dotBF16(seg, off, x, xo, n);
            case F32 -> VectorOps.dotSegmentF32(seg, off, x, xo, n);
            default -> throw new IllegalArgumentException("no kernel for " + w.type());
        };
    }

    static float dotQ4_0(MemorySegment seg, long off, float[] x, int xo, int n, float[] sums, int so) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float corr = 0;
        int nb = n / 32;
        int b = 0;
        // two blocks per iteration into two accumulators: independent dependency chains
        for (; b + 1 < nb; b += 2) {
            long bo = off + 18L * b;
            float d0 = Float.float16ToFloat(seg.get(I16, bo));
            float d1 = Float.float16ToFloat(seg.get(I16, bo + 18));
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B128, seg, bo + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            IntVector q1 = (IntVector) ByteVector.fromMemorySegment(B128, seg, bo + 20, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            int xb = xo + 32 * b;
            FloatVector s0 = ((FloatVector) q0.and(0xF).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F, x, xb));
            s0 = ((FloatVector) q0.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xb + 16), s0);
            FloatVector s1 = ((FloatVector) q1.and(0xF).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F, x, xb + 32));
            s1 = ((FloatVector) q1.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xb + 48), s1);
            acc0 = s0.fma(FloatVector.broadcast(F, d0), acc0);
            acc1 = s1.fma(FloatVector.broadcast(F, d1), acc1);
            corr += d0 * sums[so + b] + d1 * sums[so + b + 1];
        }
        for (; b < nb; b++) {
            long bo = off + 18L * b;
            float d0 = Float.float16ToFloat(seg.get(I16, bo));
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(B128, seg, bo + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            int xb = xo + 32 * b;
            FloatVector s0 = ((FloatVector) q0.and(0xF).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F, x, xb));
            s0 = ((FloatVector) q0.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xb + 16), s0);
            acc0 = s0.fma(FloatVector.broadcast(F, d0), acc0);
            corr += d0 * sums[so + b];
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD) - 8f * corr;
    }

    static float dotQ8_0(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int nb = n / 32;
        for (int b = 0; b < nb; b++) {
            long bo = off + 34L * b;
            float d = Float.float16ToFloat(seg.get(I16, bo));
            FloatVector w0 = (FloatVector) ByteVector.fromMemorySegment(B128, seg, bo + 2, LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector w1 = (FloatVector) ByteVector.fromMemorySegment(B128, seg, bo + 18, LE).convertShape(VectorOperators.B2F, F, 0);
            int xb = xo + 32 * b;
            FloatVector s = w1.fma(FloatVector.fromArray(F, x, xb + 16), w0.mul(FloatVector.fromArray(F, x, xb)));
            if ((b & 1) == 0) acc0 = s.fma(FloatVector.broadcast(F, d), acc0);
            else acc1 = s.fma(FloatVector.broadcast(F, d), acc1);
        }
        return acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    }

    /** 16 f16 values (little-endian) at {@code off} as f32, exactly: (|h| << 13) · 2^112 covers normals and subnormals. */
    static FloatVector f16x16(MemorySegment seg, long off) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S256, seg, off, LE).convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
        IntVector mag = h.and(0x7fff).lanewise(VectorOperators.LSHL, 13);
        IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        FloatVector m = mag.reinterpretAsFloats().mul(0x1p112f);
        return m.reinterpretAsInts().or(sign).reinterpretAsFloats();
    }

    static FloatVector bf16x16(MemorySegment seg, long off) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S256, seg, off, LE).convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
        return h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    static float dotF16(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 32 <= n; i += 32) {
            acc0 = f16x16(seg, off + 2L * i).fma(FloatVector.fromArray(F, x, xo + i), acc0);
            acc1 = f16x16(seg, off + 2L * i + 32).fma(FloatVector.fromArray(F, x, xo + i + 16), acc1);
        }
        for (; i + 16 <= n; i += 16) acc0 = f16x16(seg, off + 2L * i).fma(FloatVector.fromArray(F, x, xo + i), acc0);
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += Float.float16ToFloat(seg.get(I16, off + 2L * i)) * x[xo + i];
        return s;
    }

    static float dotBF16(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 32 <= n; i += 32) {
            acc0 = bf16x16(seg, off + 2L * i).fma(FloatVector.fromArray(F, x, xo + i), acc0);
            acc1 = bf16x16(seg, off + 2L * i + 32).fma(FloatVector.fromArray(F, x, xo + i + 16), acc1);
        }
        for (; i + 16 <= n; i += 16) acc0 = bf16x16(seg, off + 2L * i).fma(FloatVector.fromArray(F, x, xo + i), acc0);
        float s = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) s += Float.intBitsToFloat((seg.get(I16, off + 2L * i) & 0xffff) << 16) * x[xo + i];
        return s;
    }

    /** Row {@code r} of {@code w} decoded exactly to f32 into {@code dst[dstOff .. dstOff + cols)}. */
    public static void dequantizeRow(WeightMatrix w, int r, float[] dst, int dstOff) {
        MemorySegment seg = w.data();
        long off = w.rowOffset(r);
        int n = w.cols();
        switch (w.type()) {
            case Q4_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    long bo = off + 18L * b;
                    FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(seg.get(I16, bo)));
                    IntVector q = (IntVector) ByteVector.fromMemorySegment(B128, seg, bo + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    int o = dstOff + 32 * b;
                    ((FloatVector) q.and(0xF).sub(8).convert(VectorOperators.I2F, 0)).mul(d).intoArray(dst, o);
                    ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(d).intoArray(dst, o + 16);
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    long bo = off + 34L * b;
                    float d = Float.float16ToFloat(seg.get(I16, bo));
                    int o = dstOff + 32 * b;
                    ((FloatVector) ByteVector.fromMemorySegment(B128, seg, bo + 2, LE).convertShape(VectorOperators.B2F, F, 0)).mul(d).intoArray(dst, o);
                    ((FloatVector) ByteVector.fromMemorySegment(B128, seg, bo + 18, LE).convertShape(VectorOperators.B2F, F, 0)).mul(d).intoArray(dst, o + 16);
                }
            }
            case F16 -> {
                int i = 0;
                for (; i + 16 <= n; i += 16) f16x16(seg, off + 2L * i).intoArray(dst, dstOff + i);
                for (; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(seg.get(I16, off + 2L * i));
            }
            case BF16 -> {
                int i = 0;
                for (; i + 16 <= n; i += 16) bf16x16(seg, off + 2L * i).intoArray(dst, dstOff + i);
                for (; i < n; i++) dst[dstOff + i] = Float.intBitsToFloat((seg.get(I16, off + 2L * i) & 0xffff) << 16);
            }
            default -> w.dequantizeRow(r, dst, dstOff);
        }
    }
}
