package dev.jemma.core.tensor;

import dev.jemma.core.JemmaException;
import dev.jemma.core.tensor.formats.*;

import java.util.EnumMap;
import java.util.Map;

/** The {@link BlockFormat} for each supported {@link GgmlType}. */
public final class Formats {
    private static final Map<GgmlType, BlockFormat> FORMATS = new EnumMap<>(GgmlType.class);

    static {
        register(new F32Format());
        register(new F16Format());
        register(new BF16Format());
        register(new Q8_0Format());
        register(new Q4_0Format());
        for (BlockFormat f : ExtraFormats.all()) register(f);
    }

    private Formats() {
    }

    private static void register(BlockFormat f) {
        FORMATS.put(f.type(), f);
    }

    public static boolean isSupported(GgmlType t) {
        return FORMATS.containsKey(t);
    }

    public static BlockFormat of(GgmlType t) {
        BlockFormat f = FORMATS.get(t);
        if (f == null) throw new JemmaException("tensor type " + t + " is not supported yet");
        return f;
    }
}
