package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.VectorOps;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Shared pieces of the fused quantized dot products. A "chunk" is {@link #BL} consecutive quant bytes loaded as
 * one {@link ByteVector}; each is widened to {@link #PARTS} float vectors of {@link #L} lanes, scaled exactly as
 * the scalar dequantizer does (same f32 operations in the same order, so every decoded weight is bit-identical)
 * and FMA-accumulated with x. Only the order of the final summation differs from dequantize-then-dot.
 */
final class VDot {
    static final VectorSpecies<Float> F = VectorOps.F;
    /** Float lanes per vector. */
    static final int L = F.length();
    /** Whether the fused kernels apply on this platform (4, 8 or 16 float lanes); otherwise formats fall back. */
    static final boolean OK = L == 4 || L == 8 || L == 16;
    /** Byte vectors of at least 64 bits (the smallest shape) and one byte per float lane. */
    static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, 8 * Math.min(L, 16))));
    /** Bytes per chunk: 8 or 16, so a chunk never straddles a 16-weight scale group. */
    static final int BL = BS.length();
    /** Float vectors per chunk. */
    static final int PARTS = Math.max(1, BL / L);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private VDot() {
    }

    static ByteVector load(MemorySegment data, long off) {
        return ByteVector.fromMemorySegment(BS, data, off, LE);
    }

    /**
     * Shifts every byte right by {@code s} bits, with bits of the next byte coming in at the top: x86 has no byte
     * shifts, so the shift is done on int lanes; callers mask the bits they keep.
     */
    static ByteVector shr(ByteVector v, int s) {
        return v.reinterpretAsInts().lanewise(VectorOperators.LSHR, s).reinterpretAsBytes();
    }

    /** Shifts every byte left by {@code s} bits on int lanes (bits of the previous byte come in); callers mask. */
    static ByteVector shl(ByteVector v, int s) {
        return v.reinterpretAsInts().lanewise(VectorOperators.LSHL, s).reinterpretAsBytes();
    }

    /** acc + (float(q)·s) ⊙ x[xo..xo+BL). */
    static FloatVector fma(ByteVector q, float s, float[] x, int xo, FloatVector acc) {
        for (int p = 0; p < PARTS; p++) {
            FloatVector w = ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(s);
            acc = w.fma(FloatVector.fromArray(F, x, xo + p * L), acc);
        }
        return acc;
    }

    /** acc + (float(q)·s − m) ⊙ x[xo..xo+BL): the K-quant form w = (d·sc)·q − dmin·m. */
    static FloatVector fmaSub(ByteVector q, float s, float m, float[] x, int xo, FloatVector acc) {
        for (int p = 0; p < PARTS; p++) {
            FloatVector w = ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(s).sub(m);
            acc = w.fma(FloatVector.fromArray(F, x, xo + p * L), acc);
        }
        return acc;
    }

    /** acc + (float(q)·s + m) ⊙ x[xo..xo+BL): the Q4_1/Q5_1 form w = q·d + m. */
    static FloatVector fmaAdd(ByteVector q, float s, float m, float[] x, int xo, FloatVector acc) {
        for (int p = 0; p < PARTS; p++) {
            FloatVector w = ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(s).add(m);
            acc = w.fma(FloatVector.fromArray(F, x, xo + p * L), acc);
        }
        return acc;
    }

    static float f16(MemorySegment data, long off) {
        return Float.float16ToFloat(data.get(Le.I16, off));
    }
}
