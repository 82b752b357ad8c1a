package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.VectorOps;
import dev.jemma.core.tensor.WeightMatrix;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

import static dev.jemma.core.tensor.kernels.VectorWidth.F16_MAGIC;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Fused row kernels over weights in their stored (mmapped) format, with f32 activations: a dot product of one
 * stored row with an f32 vector, and a vectorized row dequantizer. Written over {@link VectorWidth}'s float species
 * ({@link VectorWidth#FLOATS} = 16, 8 or 4 lanes): a Q4_0/Q8_0 block of 32 weights is {@code 32 / FLOATS} float vectors,
 * decoded from quant loads of {@link #QBYTES} bytes (16 at 512 bits, 8 below: the smallest byte vector is 64 bits, so
 * at 128 bits one load widens into two float vectors, {@code convertShape} parts 0 and 1). The loops over the parts of a
 * block have constant trip counts (static finals), so C2 unrolls them; at 512 bits each runs once and the code is what
 * it was before the width became a parameter. Every vector value stays in its kernel's locals: a helper that takes or
 * returns a vector and is not inlined makes C2 box it (see docs/PERFORMANCE.md). {@link #ENABLED} is false without a
 * usable vector width, where callers fall back to {@link dev.jemma.core.tensor.BlockFormat}'s exact scalar code.
 *
 * <p>Numerics: weights are decoded exactly (as ggml's {@code to_float}); only the summation order differs from
 * the exact mode, so results agree with it to float rounding (~1e-6 relative).
 */
public final class Kernels {
    static final VectorSpecies<Float> F = VectorWidth.F;
    static final VectorSpecies<Integer> I = VectorWidth.I;
    /** Float lanes per vector. */
    static final int FL = VectorWidth.FLOATS;
    /** Quant-byte loads: one byte per float lane, at least 64 bits. */
    static final VectorSpecies<Byte> QB = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, 8 * FL)));
    /** Bytes per quant load (16 or 8). */
    static final int QBYTES = QB.length();
    /** Float vectors per quant load (1, or 2 at 128 bits). */
    static final int QPARTS = Math.max(1, QBYTES / FL);
    /** f16 / bf16 loads: one 16-bit lane per float lane. */
    static final VectorSpecies<Short> SH = VectorWidth.SH;
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** True when a vector width of at least 128 bits is usable ({@link VectorWidth#ENABLED}) and not switched off. */
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
            FloatVector v = FloatVector.fromArray(F, x, xo + 32 * b);
            for (int j = FL; j < 32; j += FL) v = v.add(FloatVector.fromArray(F, x, xo + 32 * b + j));
            sums[so + b] = VectorWidth.sum(v);
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
            // at 512 bits (a constant) the kernels as written for 16 float lanes, called from here as before
            case Q4_0 -> FL == 16 ? dotQ4_0x16(seg, off, x, xo, n, sums, so) : dotQ4_0(seg, off, x, xo, n, sums, so);
            case Q8_0 -> FL == 16 ? dotQ8_0x16(seg, off, x, xo, n) : dotQ8_0(seg, off, x, xo, n);
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
        // two blocks per iteration into two accumulators: independent dependency chains. Quant byte j of a block
        // holds elements j (low nibble) and 16 + j (high nibble).
        for (; b + 1 < nb; b += 2) {
            long bo = off + 18L * b;
            float d0 = Float.float16ToFloat(seg.get(I16, bo));
            float d1 = Float.float16ToFloat(seg.get(I16, bo + 18));
            int xb = xo + 32 * b;
            FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
            for (int j = 0; j < 16; j += QBYTES) {
                ByteVector v0 = ByteVector.fromMemorySegment(QB, seg, bo + 2 + j, LE);
                ByteVector v1 = ByteVector.fromMemorySegment(QB, seg, bo + 20 + j, LE);
                for (int p = 0; p < QPARTS; p++) {
                    int e = j + p * FL;
                    IntVector q0 = (IntVector) v0.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, p);
                    IntVector q1 = (IntVector) v1.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, p);
                    s0 = ((FloatVector) q0.and(0xF).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xb + e), s0);
                    s0 = ((FloatVector) q0.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xb + 16 + e), s0);
                    s1 = ((FloatVector) q1.and(0xF).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xb + 32 + e), s1);
                    s1 = ((FloatVector) q1.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xb + 48 + e), s1);
                }
            }
            acc0 = s0.fma(FloatVector.broadcast(F, d0), acc0);
            acc1 = s1.fma(FloatVector.broadcast(F, d1), acc1);
            corr += d0 * sums[so + b] + d1 * sums[so + b + 1];
        }
        for (; b < nb; b++) {
            long bo = off + 18L * b;
            float d0 = Float.float16ToFloat(seg.get(I16, bo));
            int xb = xo + 32 * b;
            FloatVector s0 = FloatVector.zero(F);
            for (int j = 0; j < 16; j += QBYTES) {
                ByteVector v0 = ByteVector.fromMemorySegment(QB, seg, bo + 2 + j, LE);
                for (int p = 0; p < QPARTS; p++) {
                    int e = j + p * FL;
                    IntVector q0 = (IntVector) v0.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, p);
                    s0 = ((FloatVector) q0.and(0xF).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xb + e), s0);
                    s0 = ((FloatVector) q0.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xb + 16 + e), s0);
                }
            }
            acc0 = s0.fma(FloatVector.broadcast(F, d0), acc0);
            corr += d0 * sums[so + b];
        }
        return VectorWidth.sum(acc0.add(acc1)) - 8f * corr;
    }

    static float dotQ8_0(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int nb = n / 32;
        int b = 0;
        for (; b + 1 < nb; b += 2) {
            long bo = off + 34L * b;
            float d0 = Float.float16ToFloat(seg.get(I16, bo));
            float d1 = Float.float16ToFloat(seg.get(I16, bo + 34));
            int xb = xo + 32 * b;
            FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
            for (int j = 0; j < 32; j += QBYTES) {
                ByteVector v0 = ByteVector.fromMemorySegment(QB, seg, bo + 2 + j, LE);
                ByteVector v1 = ByteVector.fromMemorySegment(QB, seg, bo + 36 + j, LE);
                for (int p = 0; p < QPARTS; p++) {
                    int e = j + p * FL;
                    s0 = ((FloatVector) v0.convertShape(VectorOperators.B2F, F, p)).fma(FloatVector.fromArray(F, x, xb + e), s0);
                    s1 = ((FloatVector) v1.convertShape(VectorOperators.B2F, F, p)).fma(FloatVector.fromArray(F, x, xb + 32 + e), s1);
                }
            }
            acc0 = s0.fma(FloatVector.broadcast(F, d0), acc0);
            acc1 = s1.fma(FloatVector.broadcast(F, d1), acc1);
        }
        for (; b < nb; b++) {
            long bo = off + 34L * b;
            float d0 = Float.float16ToFloat(seg.get(I16, bo));
            int xb = xo + 32 * b;
            FloatVector s0 = FloatVector.zero(F);
            for (int j = 0; j < 32; j += QBYTES) {
                ByteVector v0 = ByteVector.fromMemorySegment(QB, seg, bo + 2 + j, LE);
                for (int p = 0; p < QPARTS; p++) {
                    s0 = ((FloatVector) v0.convertShape(VectorOperators.B2F, F, p)).fma(FloatVector.fromArray(F, x, xb + j + p * FL), s0);
                }
            }
            acc0 = s0.fma(FloatVector.broadcast(F, d0), acc0);
        }
        return VectorWidth.sum(acc0.add(acc1));
    }

    /** {@link #dotQ4_0} at 512 bits: the kernel as written for 16 float lanes before the width became a parameter. */
    private static float dotQ4_0x16(MemorySegment seg, long off, float[] x, int xo, int n, float[] sums, int so) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        float corr = 0;
        int nb = n / 32;
        int b = 0;
        // two blocks per iteration into two accumulators: independent dependency chains
        for (; b + 1 < nb; b += 2) {
            long bo = off + 18L * b;
            float d0 = Float.float16ToFloat(seg.get(I16, bo));
            float d1 = Float.float16ToFloat(seg.get(I16, bo + 18));
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(QB, seg, bo + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            IntVector q1 = (IntVector) ByteVector.fromMemorySegment(QB, seg, bo + 20, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
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
            IntVector q0 = (IntVector) ByteVector.fromMemorySegment(QB, seg, bo + 2, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
            int xb = xo + 32 * b;
            FloatVector s0 = ((FloatVector) q0.and(0xF).convert(VectorOperators.I2F, 0)).mul(FloatVector.fromArray(F, x, xb));
            s0 = ((FloatVector) q0.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F, x, xb + 16), s0);
            acc0 = s0.fma(FloatVector.broadcast(F, d0), acc0);
            corr += d0 * sums[so + b];
        }
        return VectorWidth.sum(acc0.add(acc1)) - 8f * corr;
    }

    /** {@link #dotQ8_0} at 512 bits, likewise. */
    private static float dotQ8_0x16(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int nb = n / 32;
        for (int b = 0; b < nb; b++) {
            long bo = off + 34L * b;
            float d = Float.float16ToFloat(seg.get(I16, bo));
            FloatVector w0 = (FloatVector) ByteVector.fromMemorySegment(QB, seg, bo + 2, LE).convertShape(VectorOperators.B2F, F, 0);
            FloatVector w1 = (FloatVector) ByteVector.fromMemorySegment(QB, seg, bo + 18, LE).convertShape(VectorOperators.B2F, F, 0);
            int xb = xo + 32 * b;
            FloatVector s = w1.fma(FloatVector.fromArray(F, x, xb + 16), w0.mul(FloatVector.fromArray(F, x, xb)));
            if ((b & 1) == 0) acc0 = s.fma(FloatVector.broadcast(F, d), acc0);
            else acc1 = s.fma(FloatVector.broadcast(F, d), acc1);
        }
        return VectorWidth.sum(acc0.add(acc1));
    }

    // f16 -> f32 exactly for every finite value, written out in place in each kernel (not in a helper returning a
    // vector, which C2 may leave uninlined and box): sign-extended h << 13, masked to sign | exponent | mantissa, × 2^112.

    static float dotF16(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 2 * FL <= n; i += 2 * FL) {
            IntVector h0 = (IntVector) ShortVector.fromMemorySegment(SH, seg, off + 2L * i, LE).convertShape(VectorOperators.S2I, I, 0);
            IntVector h1 = (IntVector) ShortVector.fromMemorySegment(SH, seg, off + 2L * (i + FL), LE).convertShape(VectorOperators.S2I, I, 0);
            FloatVector w0 = h0.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
            FloatVector w1 = h1.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
            acc0 = w0.fma(FloatVector.fromArray(F, x, xo + i), acc0);
            acc1 = w1.fma(FloatVector.fromArray(F, x, xo + i + FL), acc1);
        }
        for (; i + FL <= n; i += FL) {
            IntVector h0 = (IntVector) ShortVector.fromMemorySegment(SH, seg, off + 2L * i, LE).convertShape(VectorOperators.S2I, I, 0);
            FloatVector w0 = h0.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC);
            acc0 = w0.fma(FloatVector.fromArray(F, x, xo + i), acc0);
        }
        float s = VectorWidth.sum(acc0.add(acc1));
        for (; i < n; i++) s += Float.float16ToFloat(seg.get(I16, off + 2L * i)) * x[xo + i];
        return s;
    }

    static float dotBF16(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 2 * FL <= n; i += 2 * FL) {
            IntVector h0 = (IntVector) ShortVector.fromMemorySegment(SH, seg, off + 2L * i, LE).convertShape(VectorOperators.S2I, I, 0);
            IntVector h1 = (IntVector) ShortVector.fromMemorySegment(SH, seg, off + 2L * (i + FL), LE).convertShape(VectorOperators.S2I, I, 0);
            acc0 = h0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xo + i), acc0);
            acc1 = h1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xo + i + FL), acc1);
        }
        for (; i + FL <= n; i += FL) {
            IntVector h0 = (IntVector) ShortVector.fromMemorySegment(SH, seg, off + 2L * i, LE).convertShape(VectorOperators.S2I, I, 0);
            acc0 = h0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xo + i), acc0);
        }
        float s = VectorWidth.sum(acc0.add(acc1));
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
                    int o = dstOff + 32 * b;
                    for (int j = 0; j < 16; j += QBYTES) {
                        ByteVector v = ByteVector.fromMemorySegment(QB, seg, bo + 2 + j, LE);
                        for (int p = 0; p < QPARTS; p++) {
                            IntVector q = (IntVector) v.convertShape(VectorOperators.ZERO_EXTEND_B2I, I, p);
                            ((FloatVector) q.and(0xF).sub(8).convert(VectorOperators.I2F, 0)).mul(d).intoArray(dst, o + j + p * FL);
                            ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0)).mul(d).intoArray(dst, o + 16 + j + p * FL);
                        }
                    }
                }
            }
            case Q8_0 -> {
                for (int b = 0; b < n / 32; b++) {
                    long bo = off + 34L * b;
                    float d = Float.float16ToFloat(seg.get(I16, bo));
                    int o = dstOff + 32 * b;
                    for (int j = 0; j < 32; j += QBYTES) {
                        ByteVector v = ByteVector.fromMemorySegment(QB, seg, bo + 2 + j, LE);
                        for (int p = 0; p < QPARTS; p++) {
                            ((FloatVector) v.convertShape(VectorOperators.B2F, F, p)).mul(d).intoArray(dst, o + j + p * FL);
                        }
                    }
                }
            }
            case F16 -> {
                int i = 0;
                for (; i + FL <= n; i += FL) {
                    IntVector h = (IntVector) ShortVector.fromMemorySegment(SH, seg, off + 2L * i, LE).convertShape(VectorOperators.S2I, I, 0);
                    h.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF).reinterpretAsFloats().mul(F16_MAGIC).intoArray(dst, dstOff + i);
                }
                for (; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(seg.get(I16, off + 2L * i));
            }
            case BF16 -> {
                int i = 0;
                for (; i + FL <= n; i += FL) {
                    IntVector h = (IntVector) ShortVector.fromMemorySegment(SH, seg, off + 2L * i, LE).convertShape(VectorOperators.S2I, I, 0);
                    h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
                }
                for (; i < n; i++) dst[dstOff + i] = Float.intBitsToFloat((seg.get(I16, off + 2L * i) & 0xffff) << 16);
            }
            default -> w.dequantizeRow(r, dst, dstOff);
        }
    }
}
