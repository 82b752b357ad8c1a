package dev.jemma.core;

/**
 * Makes text that came from a file or a request safe to print on one terminal line: control characters (C0, DEL,
 * C1 — among them ESC, which starts the terminal escape sequences that can clear a screen or retitle a window),
 * Unicode format characters (bidi overrides, zero-width joiners), line and paragraph separators and lone surrogates
 * are written as {@code \xNN} or {@code \}{@code uNNNN}, and long values are cut with a note of how much was left out.
 * Every message that quotes a file's bytes (metadata keys and values, tensor names, {@code general.name}) goes
 * through here, and so do {@code jemma show} and {@code jemma list}.
 */
public final class Printable {
    /** Characters of one quoted value shown before it is cut: enough for any real key, tensor name or model name. */
    public static final int MAX_VALUE = 120;
    /** Characters of a whole message line before it is cut (a safety net over values already cut). */
    public static final int MAX_LINE = 2000;

    private Printable() {
    }

    /** {@code s} escaped and cut to {@link #MAX_VALUE} code points; "null" for null. */
    public static String of(String s) {
        return of(s, MAX_VALUE);
    }

    /**
     * {@code s} escaped and cut once the escaped text reaches {@code max} characters (the note "… (N more characters)",
     * counting code points of {@code s}, follows a cut).
     */
    public static String of(String s, int max) {
        if (s == null) return "null";
        if (isClean(s, max)) return s;
        StringBuilder sb = new StringBuilder(Math.min(s.length(), max) + 16);
        int i = 0;
        while (i < s.length() && sb.length() < max) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (needsEscape(cp)) {
                if (cp < 0x100) sb.append(String.format("\\x%02x", cp));
                else sb.append(String.format("\\u%04x", cp));
            } else {
                sb.appendCodePoint(cp);
            }
        }
        if (i < s.length()) sb.append("… (").append(s.codePointCount(i, s.length())).append(" more characters)");
        return sb.toString();
    }

    /** A whole message made printable on one line: escaped, cut at {@link #MAX_LINE} code points. */
    public static String line(String message) {
        return of(message, MAX_LINE);
    }

    private static boolean isClean(String s, int max) {
        if (s.length() > max) return false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            // fast path: printable ASCII and ordinary letters
            if (c >= 0x20 && c < 0x7f) continue;
            int cp = s.codePointAt(i);
            if (needsEscape(cp)) return false;
            if (Character.charCount(cp) == 2) i++;
        }
        return true;
    }

    private static boolean needsEscape(int cp) {
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR,
                 Character.SURROGATE, Character.UNASSIGNED -> true;
            default -> false;
        };
    }
}
