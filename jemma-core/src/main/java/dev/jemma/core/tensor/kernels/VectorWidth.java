package dev.jemma.core.tensor.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import jdk.incubator.vector.VectorShuffle;
import dev.jemma.core.tensor.LaneSum;

/**
 * The one vector width every fast kernel is written over, chosen once when the class loads: the widest shape the JIT
 * compiles to real vector instructions for every lane type the kernels use (bytes, shorts, ints, floats), or the
 * narrower {@code -Djemma.vectorBits=128|256|512} when asked (tests run each width on one machine this way).
 *
 * <p>The species are static finals, so C2 sees them as constants and intrinsifies the kernels at any of the three
 * widths. A species wider than the hardware's (512-bit vectors under {@code -XX:UseAVX=2}) is never chosen: the Vector
 * API would then run every operation through boxed Java objects, ~100× slower than the scalar code. Where a request
 * cannot be honoured, the reason is said once on stderr and the widest usable width is taken instead.
 *
 * <p>Kernels walk the {@link Interleaved} layout's 32-row groups in slices of {@link #SHORTS} rows (one vector of
 * 16-bit lanes), so the layout, and with it the cache files, stay the same at every width.
 */
public final class VectorWidth {
    /** Bits per vector; 0 when no width of at least 128 bits is usable (the fast kernels are then off). */
    public static final int BITS;
    /** Why {@link #BITS} differs from what was asked, or null. */
    static final String NOTE;

    static {
        int usable = usableBits();
        String asked = System.getProperty("jemma.vectorBits");
        int bits = usable;
        String note = null;
        if (asked != null && !asked.isBlank()) {
            int want;
            try {
                want = Integer.parseInt(asked.trim());
            } catch (NumberFormatException e) {
                want = -1;
            }
            if (want != 128 && want != 256 && want != 512) {
                note = "-Djemma.vectorBits=" + asked + " is not 128, 256 or 512; using " + usable + "-bit kernels";
            } else if (want > usable) {
                note = "-Djemma.vectorBits=" + want + ": this JVM compiles vectors of at most " + usable
                        + " bits for the kernels' lane types; using " + usable + "-bit kernels";
            } else {
                bits = want;
            }
        }
        if (bits < 128) {
            note = "no vector width of at least 128 bits is usable here (the JIT offers " + usable
                    + "); matrices run on the portable per-format kernels";
            bits = 0;
        }
        BITS = bits;
        NOTE = note;
        if (NOTE != null && !Boolean.getBoolean("jemma.quiet")) System.err.println("jemma: " + NOTE);
        if (BITS >= 128) KernelCompilation.ensureInstalled(); // before any kernel is compiled: see there
    }

    /** Whether the fast kernels run (a usable width of 128 bits or more). */
    public static final boolean ENABLED = BITS >= 128;
    private static final VectorShape SHAPE = VectorShape.forBitSize(Math.max(BITS, 128));
    /** Full-width vectors of 16-bit lanes: one holds {@link #SHORTS} rows of an interleaved group. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, SHAPE);
    static final VectorSpecies<Float> F = VectorSpecies.of(float.class, SHAPE);
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, SHAPE);
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, SHAPE);
    /** Half-width 16-bit lanes, one per float lane: what widens into one {@link #F} vector. */
    static final VectorSpecies<Short> SH = VectorSpecies.of(short.class, VectorShape.forBitSize(Math.max(64, SHAPE.vectorBitSize() / 2)));
    /** Half-width bytes, one per 16-bit lane: what widens into one {@link #S} vector. */
    static final VectorSpecies<Byte> BH = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, SHAPE.vectorBitSize() / 2)));
    /**
     * The exact vector classes of {@link #S}, {@link #F} and {@link #I} (final classes such as {@code Short256Vector}),
     * for {@code SV.cast(acc)} on a vector carried around a loop before a method is called on it. Why: when C2 parses a
     * loop, a loop-carried vector has only its declared type (the abstract {@code ShortVector}), so a method called on
     * it is a virtual call that C2 binds from the receiver profile, which every caller in the JVM shares; once other
     * species have passed through the same library methods (the half-width loads, the quantizer, other kernels) the
     * call stays virtual, the species reaches the intrinsic as a field load rather than a constant ("missing constant:
     * vclass=DecodeN"), and the vector is boxed on every block. A cast to a constant final class gives the value its
     * exact type at parse time, so the call binds statically whatever the profile says. The kernels also write
     * accumulations as {@code x.add(acc)}, not {@code acc.add(x)}, for the same reason (docs/PERFORMANCE.md, "Why C2
     * sometimes boxed a kernel").
     */
    @SuppressWarnings("unchecked")
    static final Class<ShortVector> SV = (Class<ShortVector>) S.vectorType();
    @SuppressWarnings("unchecked")
    static final Class<FloatVector> FV = (Class<FloatVector>) F.vectorType();
    @SuppressWarnings("unchecked")
    static final Class<IntVector> IV = (Class<IntVector>) I.vectorType();
    /** The exact classes of {@link #SH} and {@link #BH}, for their loads (a late-inlined load's result is typed only as its declared class). */
    @SuppressWarnings("unchecked")
    static final Class<ShortVector> SHV = (Class<ShortVector>) SH.vectorType();
    @SuppressWarnings("unchecked")
    static final Class<ByteVector> BHV = (Class<ByteVector>) BH.vectorType();
    /** 16-bit lanes per vector: rows of an interleaved group one slice covers (32, 16 or 8). */
    static final int SHORTS = S.length();
    /** Float lanes per vector (16, 8 or 4). */
    static final int FLOATS = F.length();
    /**
     * 2^112: (sign-extended f16 bits << 13, sign and exponent-mantissa kept) · 2^112 is the exact f32 of every finite
     * f16, subnormals included; the kernels convert their scales this way, in place.
     */
    static final FloatVector F16_MAGIC = FloatVector.broadcast(F, 0x1p112f);

    private static final VectorShuffle<Float> P1 = LaneSum.partner(F, 1), P2 = LaneSum.partner(F, 2),
            P3 = LaneSum.partner(F, 3), P4 = LaneSum.partner(F, 4);

    private VectorWidth() {
    }

    /** Σ lanes of an {@link #F} vector in a fixed order, the same bits in every JIT tier ({@link LaneSum}). */
    static float sum(FloatVector v) {
        return LaneSum.sum(v, FV, FLOATS, P1, P2, P3, P4);
    }

    /** The widest shape the JIT offers for all of byte, short, int and float lanes (the kernels need all four). */
    private static int usableBits() {
        int bits = Integer.MAX_VALUE;
        for (Class<?> c : new Class<?>[] {byte.class, short.class, int.class, float.class}) {
            bits = Math.min(bits, VectorShape.largestShapeFor(c).vectorBitSize());
        }
        // the preferred shape also reflects -XX:MaxVectorSize and -XX:UseAVX
        return Math.min(bits, Math.min(FloatVector.SPECIES_PREFERRED.vectorBitSize(),
                Math.min(ShortVector.SPECIES_PREFERRED.vectorBitSize(),
                        Math.min(IntVector.SPECIES_PREFERRED.vectorBitSize(), ByteVector.SPECIES_PREFERRED.vectorBitSize()))));
    }

    /** What {@code jemma show} and {@code jemma bench} print: the width and the kernel set in use. */
    public static String describe() {
        if (!ENABLED) return "scalar (no usable vector width): portable per-format kernels";
        return BITS + "-bit vectors (" + SHORTS + " x 16-bit, " + FLOATS + " x f32 lanes): int8 + f32 tile kernels";
    }
}
