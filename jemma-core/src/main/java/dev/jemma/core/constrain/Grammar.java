package dev.jemma.core.constrain;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A GBNF grammar compiled to byte level: every rule is a list of alternatives, each a sequence of byte classes and
 * rule references. Character classes over code points become alternatives of UTF-8 byte-class sequences
 * ({@link Utf8Ranges}), literals their UTF-8 bytes, groups and the repetitions {@code * + ?} extra rules (llama.cpp's
 * rewriting: {@code x*} is {@code r ::= x r | ε}). A counted repetition {@code x{m,n}} (n > 1, or m > 1) is one
 * {@link #REP} element over a rule for x: the matcher keeps the count on its stack, where llama.cpp writes m copies and
 * n−m nested optionals — so {@code x{0,5000}} is one element, not 5000 rules, and the matcher can see that two counts
 * far from both bounds behave alike ({@link GrammarMatcher#maskState}). Matching walks bytes, which is what a token is,
 * and a token that ends inside a character needs no special case. Immutable and thread-safe; {@link GrammarMatcher}
 * runs it.
 */
public final class Grammar {
    static final int TERM = 0, REF = 1, END = 2, REP = 3;

    /**
     * Element kinds and values (byte-class index for TERM, rule index for REF, repetition index for REP); alternatives
     * end with END.
     */
    final int[] kind;
    final int[] value;
    /** Per counted repetition: the rule repeated, the bounds (max −1: unbounded). */
    final int[] repBody, repMin, repMax;
    /**
     * Per counted repetition, whether its rule always consumes a byte: then within h bytes at most h more iterations
     * end, and counts far from both bounds are interchangeable for h bytes.
     */
    final boolean[] repConsumes;
    /** Per rule, the element index where each alternative starts. */
    final int[][] alternatives;
    /** Byte classes: 4 longs (256 bits) each. */
    final long[] classes;
    final int root;
    private final String source;
    private final Set<String> tokens;

    /**
     * The byte that brackets a special token's text in the grammar and in the vocabulary's token trie: 0xFF never
     * occurs in UTF-8, so {@code 0xFF <escape> 0xFF} can only be spelled by the {@code <escape>} token itself, never by
     * text that happens to read "&lt;escape&gt;".
     */
    public static final int TOKEN_MARK = 0xFF;

    private Grammar(int[] kind, int[] value, int[][] alternatives, long[] classes, int root, String source, Set<String> tokens,
                    int[][] reps, boolean[] consumes) {
        this.kind = kind;
        this.value = value;
        repBody = new int[reps.length];
        repMin = new int[reps.length];
        repMax = new int[reps.length];
        repConsumes = consumes;
        for (int i = 0; i < reps.length; i++) {
            repBody[i] = reps[i][0];
            repMin[i] = reps[i][1];
            repMax[i] = reps[i][2];
        }
        this.alternatives = alternatives;
        this.classes = classes;
        this.root = root;
        this.source = source;
        this.tokens = Set.copyOf(tokens);
    }

    /** The special tokens the grammar names ({@code <escape>}…), by their text. */
    public Set<String> tokens() {
        return tokens;
    }

    /** How a special token is spelled at byte level: its UTF-8 text between two {@link #TOKEN_MARK} bytes. */
    public static byte[] tokenSpelling(String text) {
        byte[] t = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] b = new byte[t.length + 2];
        b[0] = (byte) TOKEN_MARK;
        System.arraycopy(t, 0, b, 1, t.length);
        b[b.length - 1] = (byte) TOKEN_MARK;
        return b;
    }

    /**
     * Parses and compiles GBNF text (start rule {@code root}).
     *
     * @throws GrammarException naming the rule, line and column of the first problem
     */
    public static Grammar parse(String gbnf) {
        return new Compiler(GbnfParser.parse(gbnf), gbnf).compile();
    }

    /** The GBNF text this grammar was compiled from. */
    public String gbnf() {
        return source;
    }

    @Override
    public String toString() {
        return source;
    }

    boolean classHas(int cls, int b) {
        return (classes[cls * 4 + (b >>> 6)] >>> (b & 63) & 1) != 0;
    }

    /** Lowers the syntax tree of every rule to the flat byte-level form. */
    private static final class Compiler {
        /** Symbols from here up are counted repetitions (sym − REP_SYM indexes {@link #reps}). */
        private static final int REP_SYM = 1 << 30;
        private final Map<String, GbnfParser.Node> defs;
        private final String source;
        private final Map<String, Integer> ruleIds = new HashMap<>();
        private final List<String> names = new ArrayList<>();
        /**
         * Per rule, its alternatives as symbol lists: 0 <= sym < REP_SYM byte class, sym >= REP_SYM counted repetition,
         * sym < 0 rule -(sym+1).
         */
        private final List<List<int[]>> rules = new ArrayList<>();
        /** Counted repetitions: {rule, min, max}. */
        private final List<int[]> reps = new ArrayList<>();
        private boolean[] nullable;
        private final List<long[]> classList = new ArrayList<>();
        private final Map<String, Integer> classIds = new HashMap<>();
        private final Map<String, int[]> firstUse = new HashMap<>();
        private final Set<String> tokens = new LinkedHashSet<>();
        private String current;

        Compiler(Map<String, GbnfParser.Node> defs, String source) {
            this.defs = defs;
            this.source = source;
        }

        Grammar compile() {
            if (!defs.containsKey("root")) throw new GrammarException("grammar: there is no 'root' rule (the start rule must be called root)");
            for (String name : defs.keySet()) rule(name);
            for (var e : defs.entrySet()) {
                current = e.getKey();
                int id = rule(current);
                rules.set(id, alternatives(e.getValue()));
            }
            for (var e : firstUse.entrySet()) {
                if (!defs.containsKey(e.getKey())) {
                    int[] at = e.getValue();
                    throw new GrammarException("grammar: rule '" + names.get(at[2]) + "', line " + at[0] + ", column " + at[1]
                            + ": rule '" + e.getKey() + "' is used but not defined");
                }
            }
            checkLeftRecursion();
            // flatten
            int size = 0;
            for (List<int[]> alts : rules) for (int[] a : alts) size += a.length + 1;
            int[] kind = new int[size], value = new int[size];
            int[][] starts = new int[rules.size()][];
            int p = 0;
            for (int r = 0; r < rules.size(); r++) {
                List<int[]> alts = rules.get(r);
                starts[r] = new int[alts.size()];
                for (int a = 0; a < alts.size(); a++) {
                    starts[r][a] = p;
                    for (int sym : alts.get(a)) {
                        kind[p] = sym >= REP_SYM ? REP : sym >= 0 ? TERM : REF;
                        value[p++] = sym >= REP_SYM ? sym - REP_SYM : sym >= 0 ? sym : -(sym + 1);
                    }
                    kind[p++] = END;
                }
            }
            long[] classes = new long[classList.size() * 4];
            for (int i = 0; i < classList.size(); i++) System.arraycopy(classList.get(i), 0, classes, i * 4, 4);
            boolean[] consumes = new boolean[reps.size()];
            for (int i = 0; i < consumes.length; i++) consumes[i] = !nullable[reps.get(i)[0]];
            return new Grammar(kind, value, starts, classes, ruleIds.get("root"), source, tokens, reps.toArray(new int[0][]), consumes);
        }

        private int rule(String name) {
            Integer id = ruleIds.get(name);
            if (id != null) return id;
            id = rules.size();
            ruleIds.put(name, id);
            names.add(name);
            rules.add(null);
            return id;
        }

        /** A fresh rule for a group or repetition inside the rule being compiled. */
        private int helper(List<int[]> alts) {
            int id = rules.size();
            String name = current + "#" + id;
            ruleIds.put(name, id);
            names.add(name);
            rules.add(alts);
            return id;
        }

        private List<int[]> alternatives(GbnfParser.Node n) {
            List<int[]> alts = new ArrayList<>();
            if (n instanceof GbnfParser.Alt a) {
                for (GbnfParser.Node o : a.options()) alts.add(symbols(o));
            } else {
                alts.add(symbols(n));
            }
            return alts;
        }

        private int[] symbols(GbnfParser.Node n) {
            List<Integer> out = new ArrayList<>();
            lower(n, out);
            return out.stream().mapToInt(Integer::intValue).toArray();
        }

        private void lower(GbnfParser.Node n, List<Integer> out) {
            switch (n) {
                case GbnfParser.Seq s -> {
                    for (GbnfParser.Node i : s.items()) lower(i, out);
                }
                case GbnfParser.Alt a -> out.add(ref(helper(alternatives(a))));
                case GbnfParser.Lit l -> {
                    for (int cp : l.codePoints()) for (byte b : Utf8Ranges.encode(cp)) out.add(byteClass(b & 0xff, b & 0xff));
                }
                case GbnfParser.Cls c -> lowerClass(c.ranges(), out);
                case GbnfParser.Ref r -> {
                    firstUse.putIfAbsent(r.name(), new int[]{r.line(), r.col(), ruleIds.get(current)});
                    out.add(ref(rule(r.name())));
                }
                case GbnfParser.Rep r -> lowerRepeat(r, out);
                case GbnfParser.Tok t -> {
                    tokens.add(t.text());
                    for (byte b : tokenSpelling(t.text())) out.add(byteClass(b & 0xff, b & 0xff));
                }
            }
        }

        private void lowerClass(int[] ranges, List<Integer> out) {
            if (ranges.length == 0) throw new GrammarException("grammar: rule '" + current + "': a character class matches nothing");
            List<int[]> seqs = Utf8Ranges.sequences(ranges);
            long[] ascii = new long[4];
            boolean anyAscii = false;
            List<int[]> alts = new ArrayList<>();
            for (int[] s : seqs) {
                if (s.length == 2) {
                    for (int b = s[0]; b <= s[1]; b++) ascii[b >>> 6] |= 1L << (b & 63);
                    anyAscii = true;
                } else {
                    int[] syms = new int[s.length / 2];
                    for (int k = 0; k < syms.length; k++) syms[k] = byteClass(s[2 * k], s[2 * k + 1]);
                    alts.add(syms);
                }
            }
            if (anyAscii && alts.isEmpty()) {
                out.add(classId(ascii));
                return;
            }
            if (anyAscii) alts.addFirst(new int[]{classId(ascii)});
            out.add(ref(helper(alts)));
        }

        private void lowerRepeat(GbnfParser.Rep r, List<Integer> out) {
            if (r.max() > 1 || r.min() > 1) {
                // counted on the matcher's stack: one element whatever the bounds
                reps.add(new int[]{helper(alternatives(r.node())), r.min(), r.max()});
                out.add(REP_SYM + reps.size() - 1);
                return;
            }
            int[] x = symbols(r.node());
            for (int i = 0; i < r.min(); i++) for (int s : x) out.add(s);
            if (r.max() == -1) {
                int id = helper(null);
                int[] loop = Arrays.copyOf(x, x.length + 1);
                loop[x.length] = ref(id);
                rules.set(id, List.of(loop, new int[0]));
                out.add(ref(id));
            } else if (r.max() > r.min()) {
                // (x (x (x)?)?)? — nested, so "x x" has one parse, not one per split
                int inner = -1;
                for (int k = 0; k < r.max() - r.min(); k++) {
                    int[] body = inner < 0 ? x : Arrays.copyOf(x, x.length + 1);
                    if (inner >= 0) body[x.length] = ref(inner);
                    inner = helper(List.of(body, new int[0]));
                }
                out.add(ref(inner));
            }
        }

        private static int ref(int rule) {
            return -(rule + 1);
        }

        private int byteClass(int lo, int hi) {
            long[] set = new long[4];
            for (int b = lo; b <= hi; b++) set[b >>> 6] |= 1L << (b & 63);
            return classId(set);
        }

        private int classId(long[] set) {
            return classIds.computeIfAbsent(Arrays.toString(set), k -> {
                classList.add(set);
                return classList.size() - 1;
            });
        }

        /**
         * A rule that can reach itself without consuming a byte would make the matcher expand forever; llama.cpp
         * refuses such grammars too. Nullable rules are found first (a fixpoint), then a cycle among "may start with"
         * edges is searched.
         */
        private void checkLeftRecursion() {
            int n = rules.size();
            nullable = new boolean[n];
            boolean changed = true;
            while (changed) {
                changed = false;
                for (int r = 0; r < n; r++) {
                    if (nullable[r]) continue;
                    for (int[] alt : rules.get(r)) {
                        boolean all = true;
                        for (int s : alt) {
                            if (!symbolNullable(s)) {
                                all = false;
                                break;
                            }
                        }
                        if (all) {
                            nullable[r] = true;
                            changed = true;
                            break;
                        }
                    }
                }
            }
            for (int[] rep : reps) {
                if (rep[2] == -1 && nullable[rep[0]]) {
                    // as x* over an x that can be empty: llama.cpp's expansion of it would be left-recursive
                    throw new GrammarException("grammar: rule '" + userName(rep[0]) + "' is left-recursive (it can reach itself without"
                            + " consuming input, e.g. a repetition of something that can be empty); rewrite it with repetition or right recursion");
                }
            }
            int[] color = new int[n];
            for (int r = 0; r < n; r++) if (color[r] == 0) visit(r, color);
        }

        private boolean symbolNullable(int s) {
            if (s >= REP_SYM) {
                int[] rep = reps.get(s - REP_SYM);
                return rep[1] == 0 || nullable[rep[0]];
            }
            return s < 0 && nullable[-(s + 1)];
        }

        private void visit(int r, int[] color) {
            color[r] = 1;
            for (int[] alt : rules.get(r)) {
                for (int s : alt) {
                    if (s >= 0 && s < REP_SYM) break;
                    int t = s >= REP_SYM ? reps.get(s - REP_SYM)[0] : -(s + 1);
                    if (color[t] == 1) {
                        throw new GrammarException("grammar: rule '" + userName(t) + "' is left-recursive (it can reach itself without"
                                + " consuming input" + (names.get(t).contains("#") ? ", e.g. a repetition of something that can be empty" : "")
                                + "); rewrite it with repetition or right recursion");
                    }
                    if (color[t] == 0) visit(t, color);
                    if (!symbolNullable(s)) break;
                }
            }
            color[r] = 2;
        }

        private String userName(int rule) {
            String s = names.get(rule);
            int h = s.indexOf('#');
            return h < 0 ? s : s.substring(0, h);
        }
    }
}
