package dev.jemma.core.constrain;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads GBNF as llama.cpp defines it (grammars/README.md there): {@code name ::= alternatives}, alternatives separated
 * by {@code |}, sequences of string literals {@code "…"}, character classes {@code [a-z]} / {@code [^"\\]}, any
 * character {@code .}, rule references, groups {@code ( … )} and the repetitions {@code * + ? {m} {m,} {m,n}};
 * {@code #} starts a comment; escapes {@code \n \r \t \\ \" \[ \] \xHH}, backslash-u with 4 hex digits, \U with 8; a special
 * token by its text, {@code <start_function_call>} (llama.cpp's token syntax; its id form {@code <[N]>} and negation
 * {@code !<…>} are refused, ids differ between models). A rule may span lines: it
 * ends where the next {@code name ::=} begins (llama.cpp needs the continuation inside parentheses or after a
 * {@code |}; everything it accepts is accepted here). Errors name the rule and the line and column.
 */
final class GbnfParser {
    /** The syntax tree of one rule body. */
    sealed interface Node {
    }

    record Seq(List<Node> items) implements Node {
    }

    record Alt(List<Node> options) implements Node {
    }

    /** A literal, as code points. */
    record Lit(int[] codePoints) implements Node {
    }

    /** A character class: sorted, merged code point ranges (pairs), already complemented if negated. */
    record Cls(int[] ranges) implements Node {
    }

    record Ref(String name, int line, int col) implements Node {
    }

    /** A special token of the model, by its text (angle brackets included), e.g. {@code <escape>}. */
    record Tok(String text) implements Node {
    }

    /** {@code node{min,max}}; max -1 = unbounded. */
    record Rep(Node node, int min, int max) implements Node {
    }

    static final int MAX_REPEAT = 10_000;

    private final String src;
    private int pos;
    private String rule = null;
    private final Map<String, Node> rules = new LinkedHashMap<>();

    private GbnfParser(String src) {
        this.src = src;
    }

    /** The rules in definition order. */
    static Map<String, Node> parse(String gbnf) {
        GbnfParser p = new GbnfParser(gbnf);
        p.grammar();
        return p.rules;
    }

    private void grammar() {
        skipSpace();
        if (eof()) throw error("the grammar is empty");
        while (!eof()) {
            int start = pos;
            String name = name();
            if (name == null) throw error("expected a rule name");
            rule = name;
            skipSpace();
            if (!src.startsWith("::=", pos)) throw error("expected '::=' after rule name '" + name + "'");
            pos += 3;
            Node body = alternates(false, -1);
            if (rules.containsKey(name)) {
                pos = start;
                throw error("rule '" + name + "' is defined twice");
            }
            rules.put(name, body);
            skipSpace();
        }
    }

    private Node alternates(boolean nested, int openedAt) {
        List<Node> alts = new ArrayList<>();
        alts.add(sequence(nested));
        while (!eof() && src.charAt(pos) == '|') {
            pos++;
            alts.add(sequence(nested));
        }
        return alts.size() == 1 ? alts.getFirst() : new Alt(alts);
    }

    private Node sequence(boolean nested) {
        List<Node> items = new ArrayList<>();
        while (true) {
            skipSpace();
            if (eof()) break;
            char c = src.charAt(pos);
            if (c == '|' || c == ')') break;
            if (atRuleStart()) break;
            if (c == '"') {
                items.add(literal());
            } else if (c == '[') {
                items.add(charClass());
            } else if (c == '.') {
                pos++;
                items.add(new Cls(new int[]{0, Utf8Ranges.MAX}));
            } else if (c == '(') {
                int open = pos++;
                Node inner = alternates(true, open);
                skipSpace();
                if (eof() || src.charAt(pos) != ')') {
                    int here = pos;
                    pos = open;
                    String where = lineCol();
                    pos = here;
                    throw error("expected ')' to close the group opened at " + where);
                }
                pos++;
                items.add(inner);
            } else if (isNameChar(c)) {
                int line = line(), col = col();
                items.add(new Ref(name(), line, col));
            } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                if (items.isEmpty()) throw error("'" + c + "' has nothing before it to repeat");
                Node last = items.removeLast();
                items.add(repetition(last));
            } else if (c == '<') {
                items.add(token());
            } else if (c == '!' && pos + 1 < src.length() && src.charAt(pos + 1) == '<') {
                throw error("negated token references (!<...>) are not supported");
            } else {
                throw error("unexpected character '" + printable(c) + "'");
            }
        }
        return items.size() == 1 ? items.getFirst() : new Seq(items);
    }

    /** {@code <text>}: a special token named by its text. */
    private Node token() {
        int start = pos;
        int close = src.indexOf('>', pos + 1);
        int newline = src.indexOf('\n', pos);
        if (close < 0 || (newline >= 0 && newline < close)) throw error("expected '>' to close the token reference");
        String text = src.substring(start, close + 1);
        if (text.startsWith("<[")) throw error("token ids (" + text + ") are not supported: write the token's text, e.g. <start_function_call>");
        if (text.length() < 3 || text.substring(1, text.length() - 1).codePoints().anyMatch(ch -> Character.isWhitespace(ch) || ch == '<' || ch == '"')) {
            throw error("'" + text + "' is not a token reference (<token-text>)");
        }
        pos = close + 1;
        return new Tok(text);
    }

    private Node repetition(Node last) {
        char c = src.charAt(pos++);
        return switch (c) {
            case '*' -> new Rep(last, 0, -1);
            case '+' -> new Rep(last, 1, -1);
            case '?' -> new Rep(last, 0, 1);
            default -> {
                skipInline();
                int min = number();
                int max = min;
                skipInline();
                if (!eof() && src.charAt(pos) == ',') {
                    pos++;
                    skipInline();
                    max = !eof() && Character.isDigit(src.charAt(pos)) ? number() : -1;
                    skipInline();
                }
                if (eof() || src.charAt(pos) != '}') throw error("expected '}' to close the repetition");
                pos++;
                if (max != -1 && max < min) throw error("repetition {" + min + "," + max + "}: the maximum is below the minimum");
                if (min > MAX_REPEAT || max > MAX_REPEAT) throw error("repetition bound above " + MAX_REPEAT);
                yield new Rep(last, min, max);
            }
        };
    }

    private int number() {
        int start = pos;
        while (!eof() && Character.isDigit(src.charAt(pos))) pos++;
        if (start == pos) throw error("expected a number in the repetition");
        try {
            return Integer.parseInt(src.substring(start, pos));
        } catch (NumberFormatException e) {
            throw error("repetition bound too large");
        }
    }

    private Lit literal() {
        pos++; // opening quote
        List<Integer> cps = new ArrayList<>();
        while (true) {
            if (eof()) throw error("unterminated string literal");
            int c = src.codePointAt(pos);
            if (c == '"') {
                pos++;
                break;
            }
            if (c == '\n') throw error("unterminated string literal (end of line)");
            cps.add(character());
        }
        return new Lit(cps.stream().mapToInt(Integer::intValue).toArray());
    }

    private Cls charClass() {
        int open = pos++;
        boolean negated = !eof() && src.charAt(pos) == '^';
        if (negated) pos++;
        List<int[]> ranges = new ArrayList<>();
        while (true) {
            if (eof()) {
                pos = open;
                throw error("unterminated character class");
            }
            if (src.charAt(pos) == ']') {
                pos++;
                break;
            }
            int lo = character();
            int hi = lo;
            if (pos + 1 < src.length() && src.charAt(pos) == '-' && src.charAt(pos + 1) != ']') {
                pos++;
                hi = character();
                if (hi < lo) throw error("character range is backwards");
            }
            ranges.add(new int[]{lo, hi});
        }
        if (ranges.isEmpty()) throw error("empty character class");
        int[] r = Utf8Ranges.normalize(ranges);
        return new Cls(negated ? Utf8Ranges.complement(r) : r);
    }

    /** One (possibly escaped) character of a literal or class. */
    private int character() {
        int c = src.codePointAt(pos);
        if (c != '\\') {
            pos += Character.charCount(c);
            return c;
        }
        if (pos + 1 >= src.length()) throw error("dangling '\\' at the end of the grammar");
        char e = src.charAt(pos + 1);
        pos += 2;
        return switch (e) {
            case 'n' -> '\n';
            case 'r' -> '\r';
            case 't' -> '\t';
            case 'x' -> hex(2);
            case 'u' -> hex(4); // backslash-u HHHH
            case 'U' -> hex(8);
            default -> {
                if (Character.isLetterOrDigit(e)) {
                    pos -= 2;
                    throw error("unknown escape '\\" + e + "'");
                }
                yield e; // \\ \" \[ \] \- \^ …: the character itself
            }
        };
    }

    private int hex(int n) {
        if (pos + n > src.length()) throw error("expected " + n + " hex digits");
        int v = 0;
        for (int i = 0; i < n; i++) {
            int d = Character.digit(src.charAt(pos + i), 16);
            if (d < 0) throw error("expected " + n + " hex digits");
            v = v * 16 + d;
        }
        pos += n;
        if (v > Utf8Ranges.MAX || (v >= 0xD800 && v <= 0xDFFF)) throw error("escape is not a Unicode scalar value");
        return v;
    }

    private String name() {
        int start = pos;
        while (!eof() && isNameChar(src.charAt(pos))) pos++;
        return start == pos ? null : src.substring(start, pos);
    }

    private static boolean isNameChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    }

    /** Whether {@code name ::=} starts here (the end of the current rule). */
    private boolean atRuleStart() {
        int p = pos;
        while (p < src.length() && isNameChar(src.charAt(p))) p++;
        if (p == pos) return false;
        while (p < src.length() && (src.charAt(p) == ' ' || src.charAt(p) == '\t' || src.charAt(p) == '\r' || src.charAt(p) == '\n')) p++;
        return src.startsWith("::=", p);
    }

    private void skipSpace() {
        while (!eof()) {
            char c = src.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                pos++;
            } else if (c == '#') {
                while (!eof() && src.charAt(pos) != '\n') pos++;
            } else {
                break;
            }
        }
    }

    private void skipInline() {
        while (!eof() && (src.charAt(pos) == ' ' || src.charAt(pos) == '\t')) pos++;
    }

    private boolean eof() {
        return pos >= src.length();
    }

    private int line() {
        int l = 1;
        for (int i = 0; i < pos && i < src.length(); i++) if (src.charAt(i) == '\n') l++;
        return l;
    }

    private int col() {
        int nl = src.lastIndexOf('\n', pos - 1);
        return pos - nl;
    }

    private String lineCol() {
        return "line " + line() + ", column " + col();
    }

    private static String printable(char c) {
        return c < 0x20 ? String.format("\\x%02x", (int) c) : String.valueOf(c);
    }

    private GrammarException error(String what) {
        return new GrammarException("grammar: " + (rule != null ? "rule '" + rule + "', " : "") + lineCol() + ": " + what);
    }
}
