package dev.jemma.core.constrain;

import java.util.ArrayList;
import java.util.List;

/**
 * A JSON Schema {@code pattern} (ECMA-262 regex) as GBNF for the inside of a JSON string, for the subset llama.cpp
 * supports: literals, {@code .}, classes with ranges and negation, {@code \d \w \s \D \W \S}, groups ({@code (…)},
 * {@code (?:…)}), alternation, {@code * + ? {m} {m,} {m,n}} (lazy forms too) and {@code ^ $} at the ends; an
 * unanchored end may be surrounded by any text, as a regex search allows. Characters are written as JSON needs them
 * ({@code "} and {@code \} escaped); control characters other than tab, newline and carriage return are never
 * generated. Lookaround, backreferences and word boundaries are refused naming {@code pattern}.
 */
final class RegexToGbnf {
    /** What {@code .} and negated classes may produce: printable, unescaped JSON string characters. */
    private static final String PLAIN_EXCLUDED = "\"\\\\\\x00-\\x1F\\x7F-\\x9F\\u2028\\u2029";

    private final String src;
    private final String path;
    private int pos;

    RegexToGbnf(String pattern, String path) {
        this.src = pattern;
        this.path = path;
    }

    String translate() {
        int start = 0, end = src.length();
        boolean anchoredStart = src.startsWith("^");
        if (anchoredStart) start = 1;
        boolean anchoredEnd = end > start && src.charAt(end - 1) == '$' && !escaped(end - 1);
        if (anchoredEnd) end--;
        String inner = src.substring(start, end);
        RegexToGbnf p = new RegexToGbnf(inner, path);
        String expr = p.alternation();
        if (p.pos < inner.length()) throw p.error("unexpected '" + inner.charAt(p.pos) + "'");
        String any = "[^" + PLAIN_EXCLUDED + "]*";
        return (anchoredStart ? "" : any + " ") + "(" + expr + ")" + (anchoredEnd ? "" : " " + any);
    }

    private boolean escaped(int i) {
        int n = 0;
        while (i - 1 - n >= 0 && src.charAt(i - 1 - n) == '\\') n++;
        return n % 2 == 1;
    }

    private GrammarException error(String what) {
        return new GrammarException("JSON Schema keyword 'pattern'" + (path.isEmpty() ? "" : " at " + path) + ": " + what + " in /" + src + "/", "pattern");
    }

    private String alternation() {
        List<String> alts = new ArrayList<>();
        alts.add(sequence());
        while (pos < src.length() && src.charAt(pos) == '|') {
            pos++;
            alts.add(sequence());
        }
        return alts.size() == 1 ? alts.getFirst() : String.join(" | ", alts);
    }

    private String sequence() {
        StringBuilder sb = new StringBuilder();
        while (pos < src.length() && src.charAt(pos) != '|' && src.charAt(pos) != ')') {
            String atom = atom();
            String q = quantifier();
            if (!sb.isEmpty()) sb.append(' ');
            sb.append(q.isEmpty() ? atom : "(" + atom + ")" + q);
        }
        return sb.isEmpty() ? "\"\"" : sb.toString();
    }

    private String quantifier() {
        if (pos >= src.length()) return "";
        char c = src.charAt(pos);
        String q;
        if (c == '*' || c == '+' || c == '?') {
            pos++;
            q = String.valueOf(c);
        } else if (c == '{' && src.indexOf('}', pos) > 0 && src.substring(pos + 1, src.indexOf('}', pos)).matches("\\d+(,\\d*)?")) {
            int close = src.indexOf('}', pos);
            String body = src.substring(pos + 1, close);
            pos = close + 1;
            for (String part : body.split(",")) {
                if (!part.isEmpty() && (part.length() > 5 || Integer.parseInt(part) > GbnfParser.MAX_REPEAT)) throw error("repetition above " + GbnfParser.MAX_REPEAT);
            }
            String[] mn = body.split(",", -1);
            if (mn.length == 2 && !mn[1].isEmpty() && Integer.parseInt(mn[1]) < Integer.parseInt(mn[0])) throw error("repetition {" + body + "} is backwards");
            q = "{" + body + "}";
        } else {
            return "";
        }
        if (pos < src.length() && src.charAt(pos) == '?') pos++; // lazy: the same language
        if (pos < src.length() && "*+?".indexOf(src.charAt(pos)) >= 0) throw error("nested quantifier");
        return q;
    }

    private String atom() {
        char c = src.charAt(pos);
        switch (c) {
            case '(' -> {
                pos++;
                if (src.startsWith("?:", pos)) pos += 2;
                else if (src.startsWith("?<", pos) && pos + 2 < src.length() && src.charAt(pos + 2) != '=' && src.charAt(pos + 2) != '!') {
                    int close = src.indexOf('>', pos);
                    if (close < 0) throw error("unterminated group name");
                    pos = close + 1;
                } else if (src.startsWith("?", pos)) {
                    throw error("lookaround and inline flags are not supported");
                }
                String inner = alternation();
                if (pos >= src.length() || src.charAt(pos) != ')') throw error("missing ')'");
                pos++;
                return "(" + inner + ")";
            }
            case '[' -> {
                return charClass();
            }
            case '.' -> {
                pos++;
                return "[^" + PLAIN_EXCLUDED + "]";
            }
            case '\\' -> {
                pos++;
                if (pos >= src.length()) throw error("dangling backslash");
                char e = src.charAt(pos++);
                int[] set = classEscape(e);
                if (set != null) return classExpr(set);
                return literal(escapeChar(e));
            }
            case '^', '$' -> throw error("anchors are only supported at the start and end of the pattern");
            case '*', '+', '?', '{' -> {
                if (c == '{') {
                    pos++;
                    return literal('{');
                }
                throw error("'" + c + "' has nothing to repeat");
            }
            default -> {
                int cp = src.codePointAt(pos);
                pos += Character.charCount(cp);
                return literal(cp);
            }
        }
    }

    /** The code point of an escaped single character. */
    private int escapeChar(char e) {
        return switch (e) {
            case 'n' -> '\n';
            case 'r' -> '\r';
            case 't' -> '\t';
            case 'f' -> '\f';
            case 'v' -> 0x0B;
            case '0' -> 0;
            case 'x' -> hex(2);
            case 'u' -> hex(4);
            case 'b', 'B' -> throw error("word boundaries are not supported");
            default -> {
                if (e >= '1' && e <= '9') throw error("backreferences are not supported");
                if (Character.isLetterOrDigit(e)) throw error("unknown escape \\" + e);
                yield e;
            }
        };
    }

    private int hex(int n) {
        if (pos + n > src.length()) throw error("bad hex escape");
        try {
            int v = Integer.parseInt(src.substring(pos, pos + n), 16);
            pos += n;
            return v;
        } catch (NumberFormatException x) {
            throw error("bad hex escape");
        }
    }

    private static final int[] DIGIT = {'0', '9'};
    private static final int[] WORD = {'0', '9', 'A', 'Z', '_', '_', 'a', 'z'};
    private static final int[] SPACE = {0x09, 0x0D, ' ', ' ', 0xA0, 0xA0, 0x1680, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F, 0x202F,
            0x205F, 0x205F, 0x3000, 0x3000, 0xFEFF, 0xFEFF};

    private static int[] classEscape(char e) {
        return switch (e) {
            case 'd' -> DIGIT;
            case 'w' -> WORD;
            case 's' -> SPACE;
            case 'D' -> Utf8Ranges.complement(DIGIT);
            case 'W' -> Utf8Ranges.complement(WORD);
            case 'S' -> Utf8Ranges.complement(SPACE);
            default -> null;
        };
    }

    private String charClass() {
        pos++;
        boolean negated = pos < src.length() && src.charAt(pos) == '^';
        if (negated) pos++;
        List<int[]> ranges = new ArrayList<>();
        boolean first = true;
        while (true) {
            if (pos >= src.length()) throw error("unterminated character class");
            char c = src.charAt(pos);
            if (c == ']' && !first) {
                pos++;
                break;
            }
            first = false;
            int lo;
            if (c == '\\') {
                pos++;
                if (pos >= src.length()) throw error("dangling backslash");
                char e = src.charAt(pos++);
                int[] set = classEscape(e);
                if (set != null) {
                    for (int i = 0; i < set.length; i += 2) ranges.add(new int[]{set[i], set[i + 1]});
                    continue;
                }
                lo = e == 'b' ? 0x08 : escapeChar(e);
            } else {
                lo = src.codePointAt(pos);
                pos += Character.charCount(lo);
            }
            int hi = lo;
            if (pos + 1 < src.length() && src.charAt(pos) == '-' && src.charAt(pos + 1) != ']') {
                pos++;
                char d = src.charAt(pos);
                if (d == '\\') {
                    pos++;
                    char e = src.charAt(pos++);
                    if (classEscape(e) != null) throw error("a class escape cannot end a range");
                    hi = escapeChar(e);
                } else {
                    hi = src.codePointAt(pos);
                    pos += Character.charCount(hi);
                }
                if (hi < lo) throw error("range out of order");
            }
            ranges.add(new int[]{lo, hi});
        }
        int[] set = Utf8Ranges.normalize(ranges);
        return classExpr(negated ? Utf8Ranges.complement(set) : set);
    }

    /** A set of code points as GBNF for their JSON string spelling. */
    private String classExpr(int[] set) {
        List<String> alts = new ArrayList<>();
        StringBuilder plain = new StringBuilder();
        for (int i = 0; i < set.length; i += 2) {
            int lo = set[i], hi = set[i + 1];
            // the specials JSON escapes; other control characters are never generated
            for (int sp : new int[]{'\t', '\n', '\r', '"', '\\'}) if (sp >= lo && sp <= hi) alts.add(literal(sp));
            for (int[] r : minusControls(lo, hi)) {
                plain.append(JsonSchemaGrammar.classChar(r[0]));
                if (r[1] > r[0]) plain.append('-').append(JsonSchemaGrammar.classChar(r[1]));
            }
        }
        if (!plain.isEmpty()) alts.addFirst("[" + plain + "]");
        if (alts.isEmpty()) throw error("a character class matches only control characters");
        return alts.size() == 1 ? alts.getFirst() : "(" + String.join(" | ", alts) + ")";
    }

    /** [lo, hi] without controls (C0, DEL, C1), '"', '\\', surrogates and the line separators. */
    private static List<int[]> minusControls(int lo, int hi) {
        int[][] cut = {{0x00, 0x1F}, {'"', '"'}, {'\\', '\\'}, {0x7F, 0x9F}, {0xD800, 0xDFFF}, {0x2028, 0x2029}};
        List<int[]> out = new ArrayList<>();
        out.add(new int[]{lo, hi});
        for (int[] c : cut) {
            List<int[]> next = new ArrayList<>();
            for (int[] r : out) {
                if (c[1] < r[0] || c[0] > r[1]) {
                    next.add(r);
                    continue;
                }
                if (r[0] < c[0]) next.add(new int[]{r[0], c[0] - 1});
                if (r[1] > c[1]) next.add(new int[]{c[1] + 1, r[1]});
            }
            out = next;
        }
        return out;
    }

    /** One character as it is spelled inside a JSON string, as a GBNF literal. */
    private String literal(int cp) {
        return switch (cp) {
            case '"' -> "\"\\\\\\\"\"";
            case '\\' -> "\"\\\\\\\\\"";
            case '\n' -> "\"\\\\n\"";
            case '\r' -> "\"\\\\r\"";
            case '\t' -> "\"\\\\t\"";
            default -> {
                if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029) {
                    yield "\"\\\\u" + String.format("%04x", cp) + "\"";
                }
                if (cp >= 0xD800 && cp <= 0xDFFF) throw error("a lone surrogate");
                yield JsonSchemaGrammar.gbnfLiteral(new String(Character.toChars(cp)));
            }
        };
    }
}
