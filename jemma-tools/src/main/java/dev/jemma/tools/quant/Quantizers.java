package dev.jemma.tools.quant;

import dev.jemma.core.JemmaException;
import dev.jemma.core.tensor.GgmlType;

import java.util.EnumMap;
import java.util.Map;

/** The {@link BlockQuantizer} for each ggml type Jemma can write. */
public final class Quantizers {
    private static final Map<GgmlType, BlockQuantizer> ALL = new EnumMap<>(GgmlType.class);

    static {
        for (BlockQuantizer q : new BlockQuantizer[]{
                new SimpleQuantizers.F32(), new SimpleQuantizers.F16(), new SimpleQuantizers.BF16(),
                new SimpleQuantizers.Q8_0(), new SimpleQuantizers.Q4_0(), new SimpleQuantizers.Q4_1(),
                new SimpleQuantizers.Q5_0(), new SimpleQuantizers.Q5_1(),
                new KQuantizers.Q4_K(), new KQuantizers.Q5_K(), new KQuantizers.Q6_K()}) {
            ALL.put(q.type(), q);
        }
    }

    private Quantizers() {
    }

    public static boolean canWrite(GgmlType t) {
        return ALL.containsKey(t);
    }

    public static BlockQuantizer of(GgmlType t) {
        BlockQuantizer q = ALL.get(t);
        if (q == null) throw new JemmaException("cannot quantize to " + t + " (supported: " + ALL.keySet() + ")");
        return q;
    }

    /** Convenience: encodes a whole array (length a multiple of the block size) into a new byte array. */
    public static byte[] quantize(GgmlType t, float[] x) {
        byte[] out = new byte[(int) t.bytesFor(x.length)];
        of(t).quantize(x, 0, x.length, out, 0);
        return out;
    }
}
