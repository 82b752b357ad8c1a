package dev.jemma.core.engine;

import java.util.ArrayList;
import java.util.List;

/**
 * Values at and just outside each {@link SamplerSetting}'s range, as text a flag or a JSON field takes, for the front
 * ends' tests (CLI flags, chat's /set, both APIs): every front end must take the first and refuse the second.
 */
public final class SamplerSettingProbes {
    private SamplerSettingProbes() {
    }

    /**
     * The bounds the setting takes, up to {@code max} (a front end's own narrower maximum, such as OpenAI's temperature):
     * each finite bound, or the float just inside where the bound itself is refused (the repeat penalty's 0).
     */
    public static List<String> accepted(SamplerSetting s, double max) {
        List<String> out = new ArrayList<>();
        if (!Double.isInfinite(s.min())) {
            out.add(s.accepts(s.min()) ? text(s, s.min()) : Float.toString(Math.nextUp((float) s.min())));
        }
        if (!Double.isInfinite(max)) out.add(text(s, max));
        return out;
    }

    /** The values just outside the range: the next integer, or the next float, beyond each finite bound (0 itself for an open bound). */
    public static List<String> refused(SamplerSetting s, double max) {
        List<String> out = new ArrayList<>();
        if (!Double.isInfinite(s.min())) {
            out.add(!s.accepts(s.min()) ? text(s, s.min()) : s.integer() ? text(s, s.min() - 1) : Float.toString(Math.nextDown((float) s.min())));
        }
        // an int setting's maximum of Integer.MAX_VALUE means none: nothing beyond it fits the type
        if (!Double.isInfinite(max) && !(s.integer() && max >= Integer.MAX_VALUE)) {
            out.add(s.integer() ? text(s, max + 1) : Float.toString(Math.nextUp((float) max)));
        }
        return out;
    }

    private static String text(SamplerSetting s, double v) {
        return s.integer() ? Long.toString((long) v) : Float.toString((float) v);
    }
}
