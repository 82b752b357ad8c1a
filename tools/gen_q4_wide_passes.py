# generates jemma-core/.../Q4WidePasses.java: Q4_0 few-token passes of 5-8 tokens at 512 bits (written out per count:
# C2 boxes vectors it cannot keep in registers, so no loops over accumulators)
def kernel(K):
    L=[];A=L.append
    A('    /** %d tokens (t .. t + %d): {@link Int8FewTokens}\' q4x4 with %d accumulators. */'%(K,K-1,2*K))
    A('    private static void q4x%d(MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int n, int t,'%K)
    A('                             float[] acc) {')
    A('        Arrays.fill(acc, 0, %d * PASS, 0f);'%K)
    A('        final int d0 = t * nb, '+', '.join('d%d = d%d + nb'%(j,j-1) for j in range(1,K))+';')
    A('        for (int b = 0; b < nb; b++) {')
    A('            final long ta = va + (long) b * Interleaved.Q4_TILE, tb = vb + (long) b * Interleaved.Q4_TILE;')
    for j in range(K):
        A('            ShortVector a%d = ShortVector.broadcast(S, bias[d%d + b]), b%d = a%d;'%(j,j,j,j))
    A('            // y: column 32b + 2qd\'s activations, token after token (QuantizedActivations.shortColumns)')
    A('            for (int qd = 0, y = 32 * b * n + t; qd < 8; qd++, y += 2 * n) {')
    A('                ShortVector v = SV.cast(ShortVector.fromMemorySegment(S, w, ta + 64 + 64L * qd, LE));')
    A('                ShortVector u = SV.cast(ShortVector.fromMemorySegment(S, w, tb + 64 + 64L * qd, LE));')
    A('                // lane r holds the nibbles of columns 2qd, 2qd + 16, 2qd + 1, 2qd + 17 (Interleaved)')
    A('                final int y1 = y + 16 * n, y2 = y + n, y3 = y + 17 * n; // columns + 16, + 1, + 17')
    decode=['ShortVector n0 = v.and((short) 0xF), m0 = u.and((short) 0xF);',
     'ShortVector n1 = v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF), m1 = u.lanewise(VectorOperators.LSHR, 4).and((short) 0xF);',
     'ShortVector n2 = v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF), m2 = u.lanewise(VectorOperators.LSHR, 8).and((short) 0xF);',
     'ShortVector n3 = v.lanewise(VectorOperators.LSHR, 12), m3 = u.lanewise(VectorOperators.LSHR, 12);']
    for m in range(4):
        A('                '+decode[m])
        base='y' if m==0 else 'y%d'%m
        for j in range(K):
            idx=base if j==0 else '%s + %d'%(base,j)
            A('                ShortVector x%d%d = ShortVector.broadcast(S, xq[%s]);'%(j,m,idx))
            A('                a%d = (n%d.mul(x%d%d)).add(a%d);'%(j,m,j,m,j))
            A('                b%d = (m%d.mul(x%d%d)).add(b%d);'%(j,m,j,m,j))
    A('            }')
    A('            // the 16-bit sums wait in acc past the f32 sums and the per-block f32 part runs in a method of its own: with it')
    A('            // inline these passes were too big for C1\'s profiled tier (docs/PERFORMANCE.md, "Boxed once in a whole-model step")')
    for j in range(K):
        A('            FV.cast(SV.cast(a%d).reinterpretAsFloats()).intoArray(acc, SUMS + %d * FL);'%(j,2*j))
        A('            FV.cast(SV.cast(b%d).reinterpretAsFloats()).intoArray(acc, SUMS + %d * FL);'%(j,2*j+1))
    A('            blockEnd(w, ta, tb, %d, xd, d0, nb, b, acc);'%K)
    A('        }')
    A('    }')
    return '\n'.join(L)+'\n'

head='''package dev.jemma.core.tensor.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

import static dev.jemma.core.tensor.kernels.VectorWidth.F16_MAGIC;
import static dev.jemma.core.tensor.kernels.VectorWidth.FV;
import static dev.jemma.core.tensor.kernels.VectorWidth.IV;
import static dev.jemma.core.tensor.kernels.VectorWidth.SV;

/**
 * Q4_0 passes of 5 to 8 tokens at 512 bits, where {@link Int8FewTokens#q4}'s own passes take at most 4 (16 accumulators of
 * the 32 registers, two weight vectors, their nibbles and a broadcast fit): each weight vector is loaded and taken apart
 * once for all the pass's tokens, not once per 4. A serving step at C = 8 runs 6 to 8 decode rows through every Q4_0
 * matrix (more than half of its CPU); one core, 6912 × 1152, 8 tokens: 105-109 against 78-80 G multiply-adds per CPU
 * second in two passes of 4 (docs/PERFORMANCE.md, "Eight rows per step at 512 bits"). Each token's arithmetic is
 * {@link Int8FewTokens}' q4x4's — exact wrapping 16-bit block sums from the bias, then per block the single-token
 * kernel's f32 operations in its order — so every result is bit-identical to {@link Int8Kernels#q4} alone
 * ({@code FewTokensTest}). Generated per token count (tools/gen_q4_wide_passes.py): vector values never cross a method
 * boundary and no loop chooses between accumulators (C2 would box them).
 */
final class Q4WidePasses {
    private static final VectorSpecies<Short> S = VectorWidth.S;
    private static final VectorSpecies<Float> F = VectorWidth.F;
    private static final VectorSpecies<Integer> I = VectorWidth.I;
    private static final int L = VectorWidth.SHORTS;
    private static final int FL = VectorWidth.FLOATS;
    private static final int PASS = 2 * L;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Where in acc a pass's 16-bit sum vectors wait for {@link #blockEnd} (Int8FewTokens' place for them). */
    private static final int SUMS = Int8FewTokens.SUMS;
    /** Whether passes of 5-8 tokens run (512 bits: below it 16 registers hold no more than a 4-token pass). */
    static final boolean ON = L >= 32 && !Boolean.getBoolean("jemma.q4WidePasses.off");

    private Q4WidePasses() {
    }

    /**
     * Tokens the next pass takes when {@code left} (2 or more) remain, with these passes on: 8 while 8 or more remain
     * (but 9 = 5 + 4: no lone token), 5-7 in one pass, otherwise {@link Int8FewTokens}' 4, 3 or 2.
     */
    static int block(int left) {
        if (left >= 8) return left == 9 ? 5 : 8;
        return left >= 5 ? left : Math.min(4, left);
    }

    /** The pass of k = 5..8 tokens (t .. t + k − 1) against the two row vectors at byte va / vb: acc[j·PASS + i]. */
    static void pass(int k, MemorySegment w, long va, long vb, int nb, short[] xq, float[] xd, short[] bias, int n, int t, float[] acc) {
        if (k == 8) q4x8(w, va, vb, nb, xq, xd, bias, n, t, acc);
        else if (k == 7) q4x7(w, va, vb, nb, xq, xd, bias, n, t, acc);
        else if (k == 6) q4x6(w, va, vb, nb, xq, xd, bias, n, t, acc);
        else q4x5(w, va, vb, nb, xq, xd, bias, n, t, acc);
    }

    /**
     * The f32 part of a Q4_0 block for the k tokens of a pass: token j's 16-bit sums S (its two row vectors at
     * acc[SUMS + 2j·FL] and acc[SUMS + (2j + 1)·FL]) to acc[j·PASS + i] as Int8Kernels.q4 does, s = (S·d)·dx + s, with
     * the rows' f16 scales d at ta / tb converted to f32 in place (Int8Kernels.q5). The same operations in the same order
     * as when they were inline in each pass, so the same bits.
     */
    private static void blockEnd(MemorySegment w, long ta, long tb, int k, float[] xd, int d0, int nb, int b, float[] acc) {
        ShortVector ha = SV.cast(ShortVector.fromMemorySegment(S, w, ta, LE)), hb = SV.cast(ShortVector.fromMemorySegment(S, w, tb, LE));
        FloatVector da0 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                .and(0x8FFFFFFF).reinterpretAsFloats());
        FloatVector da1 = F16_MAGIC.mul(IV.cast(ha.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                .and(0x8FFFFFFF).reinterpretAsFloats());
        FloatVector db0 = F16_MAGIC.mul(IV.cast(hb.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 13)
                .and(0x8FFFFFFF).reinterpretAsFloats());
        FloatVector db1 = F16_MAGIC.mul(IV.cast(hb.convertShape(VectorOperators.S2I, I, 1)).lanewise(VectorOperators.LSHL, 13)
                .and(0x8FFFFFFF).reinterpretAsFloats());
        for (int j = 0; j < k; j++) {
            final int o = j * PASS;
            ShortVector sa = SV.cast(FV.cast(FloatVector.fromArray(F, acc, SUMS + 2 * j * FL)).reinterpretAsShorts());
            ShortVector sb = SV.cast(FV.cast(FloatVector.fromArray(F, acc, SUMS + (2 * j + 1) * FL)).reinterpretAsShorts());
            FloatVector e = FloatVector.broadcast(F, xd[d0 + j * nb + b]);
            FV.cast(sa.convertShape(VectorOperators.S2F, F, 0)).mul(da0).fma(e, FloatVector.fromArray(F, acc, o)).intoArray(acc, o);
            FV.cast(sa.convertShape(VectorOperators.S2F, F, 1)).mul(da1).fma(e, FloatVector.fromArray(F, acc, o + FL)).intoArray(acc, o + FL);
            FV.cast(sb.convertShape(VectorOperators.S2F, F, 0)).mul(db0).fma(e, FloatVector.fromArray(F, acc, o + L)).intoArray(acc, o + L);
            FV.cast(sb.convertShape(VectorOperators.S2F, F, 1)).mul(db1).fma(e, FloatVector.fromArray(F, acc, o + L + FL)).intoArray(acc, o + L + FL);
        }
    }

'''
import sys
out=head+'\n'.join(kernel(K) for K in (8,7,6,5))+'}\n'
open(sys.argv[1],'w').write(out)
