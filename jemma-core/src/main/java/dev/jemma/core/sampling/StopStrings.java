package dev.jemma.core.sampling;

import java.util.List;

/**
 * Watches streamed text for user stop strings. Text that could still turn out to be the start of a stop string is
 * held back, so a stop string is never printed, not even partly. Not thread-safe (one per generation).
 */
public final class StopStrings {
    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    public StopStrings(List<String> stops) {
        this.stops = stops == null ? List.of() : stops.stream().filter(s -> s != null && !s.isEmpty()).toList();
    }

    /** Adds decoded text; returns the part that is safe to show now. After a match, returns the text before it. */
    public String accept(String text) {
        if (stopped) return "";
        if (stops.isEmpty()) return text;
        held.append(text);
        int cut = -1;
        for (String s : stops) {
            int at = held.indexOf(s);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0) {
            stopped = true;
            String out = held.substring(0, cut);
            held.setLength(0);
            return out;
        }
        // keep the longest suffix that is a proper prefix of some stop string
        int keep = 0;
        String h = held.toString();
        for (String s : stops) {
            for (int len = Math.min(s.length() - 1, h.length()); len > keep; len--) {
                if (h.regionMatches(h.length() - len, s, 0, len)) {
                    keep = len;
                    break;
                }
            }
        }
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** Whether a stop string has been seen. */
    public boolean stopped() {
        return stopped;
    }

    /** The held-back text, when the generation ends for another reason. */
    public String flush() {
        if (stopped) return "";
        String out = held.toString();
        held.setLength(0);
        return out;
    }
}
