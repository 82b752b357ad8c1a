package dev.jemma.core.constrain;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** GBNF parsing and byte-level matching of whole texts. */
class GrammarTest {
    private static void accepts(String gbnf, String... texts) {
        Grammar g = Grammar.parse(gbnf);
        for (String t : texts) assertThat(GrammarMatcher.matches(g, t)).as("%s should match %s", t, gbnf).isTrue();
    }

    private static void rejects(String gbnf, String... texts) {
        Grammar g = Grammar.parse(gbnf);
        for (String t : texts) assertThat(GrammarMatcher.matches(g, t)).as("%s should not match %s", t, gbnf).isFalse();
    }

    @Test
    void literalsAlternationGroupsAndComments() {
        String g = """
                # a comment
                root ::= greeting ("," | "!")? " " name   # trailing comment
                greeting ::= "hello" | "hi"
                name ::=
                    "world" |
                    "jemma"
                """;
        accepts(g, "hello world", "hi, jemma", "hello! world");
        rejects(g, "hello", "hey world", "hello  world", "hi,! jemma");
    }

    @Test
    void repetitions() {
        accepts("root ::= \"a\"* \"b\"+ \"c\"?", "b", "aab", "abbbc", "bc");
        rejects("root ::= \"a\"* \"b\"+ \"c\"?", "", "a", "acc", "ba");
        String counted = "root ::= [0-9]{2} \"-\" [a-z]{1,3} \"-\" \"x\"{2,} \"-\" \"y\"{0,2} \"|\" \"z\"{0}";
        accepts(counted, "12-a-xx-|", "99-abc-xxxxx-yy|");
        rejects(counted, "1-a-xx-|", "12--xx-|", "12-abcd-xx-|", "12-a-x-|", "12-a-xx-yyy|", "12-a-xx-|z");
    }

    /**
     * Counted repetitions at large bounds: exactly the lengths allowed, nested counts, a repeated group and rule, an
     * item that can be empty, and a grammar no bigger for {0,5000} than for {0,5}.
     */
    @Test
    void largeCountedRepetitions() {
        String letters = "root ::= [a-z]{2,4000}";
        accepts(letters, "ab", "a".repeat(4000), "xyz".repeat(1333));
        rejects(letters, "", "a", "a".repeat(4001), "ab1");
        accepts("root ::= \"ab\"{3,5} \".\"", "ababab.", "ababababab.");
        rejects("root ::= \"ab\"{3,5} \".\"", "abab.", "abababababab.", "ababa.");
        String nested = "root ::= (\"x\" [0-9]{1,3} \";\"){2,1000}";
        accepts(nested, "x1;x22;", "x123;".repeat(1000), "x0;x9;x99;");
        rejects(nested, "x1;", "x1234;x1;", "x1;x;", "x1;".repeat(1001));
        accepts("root ::= item{1000}\nitem ::= \"a\" | \"bc\"", "a".repeat(1000), "bc".repeat(1000), "abc".repeat(500));
        rejects("root ::= item{1000}\nitem ::= \"a\" | \"bc\"", "a".repeat(999), "a".repeat(1001));
        accepts("root ::= \"x\"{3,} \"!\"", "xxx!", "x".repeat(9000) + "!");
        rejects("root ::= \"x\"{3,} \"!\"", "xx!", "!");
        // an item that can be empty: {2,3} of "a"? is zero to three a's
        accepts("root ::= (\"a\"?){2,3} \"b\"", "b", "ab", "aab", "aaab");
        rejects("root ::= (\"a\"?){2,3} \"b\"", "aaaab");
        assertThat(Grammar.parse("root ::= [a-z]{0,5000}").kind.length).isEqualTo(Grammar.parse("root ::= [a-z]{0,5}").kind.length);
    }

    @Test
    void characterClassesRangesNegationAndUtf8() {
        accepts("root ::= [a-zA-Z_] [a-zA-Z0-9_]*", "x", "_foo9", "Bar");
        rejects("root ::= [a-zA-Z_] [a-zA-Z0-9_]*", "9x", "a-b", "");
        accepts("root ::= [^\"\\\\]+", "plain", "ünïcödé €", "😀 emoji", "a\tb");
        rejects("root ::= [^\"\\\\]+", "a\"b", "a\\b");
        accepts("root ::= [à-ü]+ [\\u4e00-\\u9fff]", "éü中", "à文");
        rejects("root ::= [à-ü]+ [\\u4e00-\\u9fff]", "ý中", "é");
        accepts("root ::= .+", "any thing ∀ 😀");
        accepts("root ::= \"\\x41\\u00e9\\U0001F600\\n\\t\\\"\\\\\"", "Aé😀\n\t\"\\");
        accepts("root ::= [\\[\\]-]+", "[]-", "-");
        accepts("root ::= [-a]+", "-a");
    }

    @Test
    void utf8IsCheckedByteByByte() {
        Grammar g = Grammar.parse("root ::= [é]");
        byte[] e = "é".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        GrammarMatcher m = new GrammarMatcher(g);
        assertThat(m.feed(e[0])).isTrue();   // a token may end inside a character
        assertThat(m.canEnd()).isFalse();
        assertThat(m.accepts(new byte[]{(byte) 0xA8})).isFalse(); // "è" shares the first byte
        assertThat(m.feed(e[1])).isTrue();
        assertThat(m.canEnd()).isTrue();
        // never invalid UTF-8: an encoded surrogate, an overlong form, a stray continuation byte
        GrammarMatcher any = new GrammarMatcher(Grammar.parse("root ::= [^a]*"));
        for (byte[] bad : List.of(new byte[]{(byte) 0xED, (byte) 0xA0, (byte) 0x80}, new byte[]{(byte) 0xC0, (byte) 0x80}, new byte[]{(byte) 0x80})) {
            assertThat(any.accepts(bad)).isFalse();
        }
    }

    @Test
    void recursionNestsAndEndsOnlyWhenBalanced() {
        String g = "root ::= expr\nexpr ::= term ([-+] term)*\nterm ::= [0-9]+ | \"(\" expr \")\"";
        accepts(g, "1", "1+2", "(1+2)-((3))", "((((((((((1))))))))))");
        rejects(g, "(1", "1+", "()", "1)", "+1");
        assertThat(GrammarMatcher.firstError(Grammar.parse(g), "(1+(2")).isEqualTo(-1);
        assertThat(GrammarMatcher.firstError(Grammar.parse(g), "(1+)")).isEqualTo(3);
    }

    @Test
    void deepRepetitionDoesNotGrowTheStack() {
        Grammar g = Grammar.parse("root ::= (\"ab\" | \"c\")*");
        GrammarMatcher m = new GrammarMatcher(g);
        for (int i = 0; i < 100_000; i++) assertThat(m.feed(i % 3 == 0 ? (byte) 'c' : (i % 3 == 1 ? (byte) 'a' : (byte) 'b'))).isTrue();
        assertThat(m.canEnd()).isTrue();
    }

    @Test
    void malformedGrammarsGiveOneLineErrorsWithRuleAndPosition() {
        record Bad(String gbnf, String message) {
        }
        for (Bad b : List.of(
                new Bad("", "the grammar is empty"),
                new Bad("root ::= \"a\" foo", "rule 'root', line 1, column 14: rule 'foo' is used but not defined"),
                new Bad("item ::= \"a\"", "there is no 'root' rule"),
                new Bad("root ::= \"abc", "rule 'root', line 1, column 14: unterminated string literal"),
                new Bad("root ::= [a-", "rule 'root', line 1, column 10: unterminated character class"),
                new Bad("root ::= [z-a]", "rule 'root', line 1, column 14: character range is backwards"),
                new Bad("root ::= x\nx ::= (\"a\" | \"b\"\ny ::= \"c\"", "rule 'x', line 3, column 1: expected ')' to close the group opened at line 2, column 7"),
                new Bad("root ::= \"a\"{3,1}", "the maximum is below the minimum"),
                new Bad("root ::= * \"a\"", "rule 'root', line 1, column 10: '*' has nothing before it to repeat"),
                new Bad("root = \"a\"", "line 1, column 6: expected '::=' after rule name 'root'"),
                new Bad("root ::= \"a\"\nroot ::= \"b\"", "rule 'root' is defined twice"),
                new Bad("root ::= \"\\q\"", "unknown escape '\\q'"),
                new Bad("root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\"", "rule 'expr' is left-recursive"),
                new Bad("root ::= (\"a\"?)*", "rule 'root' is left-recursive"),
                new Bad("root ::= (\"a\"?){2,}", "rule 'root' is left-recursive"),
                new Bad("root ::= \"a\" @", "unexpected character '@'"),
                new Bad("root ::= <[105]> \"a\"", "token ids (<[105]>) are not supported"),
                new Bad("root ::= !<escape>", "negated token references (!<...>) are not supported"),
                new Bad("root ::= <escape \"a\">", "is not a token reference"),
                new Bad("root ::= \"a\" <escape", "expected '>' to close the token reference"))) {
            assertThatThrownBy(() -> Grammar.parse(b.gbnf())).as(b.gbnf()).isInstanceOf(GrammarException.class)
                    .hasMessageContaining(b.message()).hasMessageNotContaining("\n").hasMessageStartingWith("grammar: ");
        }
    }

    /** A token reference is the token's text between two 0xFF bytes: text reading "<escape>" does not match it. */
    @Test
    void tokenReferencesMatchOnlyTheMarkedSpelling() {
        Grammar g = Grammar.parse("root ::= <escape> [a-z]* <escape>");
        assertThat(g.tokens()).containsExactly("<escape>");
        GrammarMatcher m = new GrammarMatcher(g);
        assertThat(m.feed("<escape>".getBytes(java.nio.charset.StandardCharsets.UTF_8))).isFalse();
        assertThat(m.feed(Grammar.tokenSpelling("<escape>"))).isTrue();
        assertThat(m.feed("abc".getBytes(java.nio.charset.StandardCharsets.UTF_8))).isTrue();
        assertThat(m.canEnd()).isFalse();
        assertThat(m.feed(Grammar.tokenSpelling("<escape>"))).isTrue();
        assertThat(m.canEnd()).isTrue();
    }

    @Test
    void jsonModeIsAGrammar() {
        for (String ok : List.of("{}", " {\"a\": 1}", "{\"a\":[1,-2.5e+3,0.0,true,false,null,\"x\\\"y\\u00e9\"],\"b\":{\"c\":{}}}",
                "{\n  \"key\": \"value with spaces and ünïcödé\"\n}")) {
            assertThat(JsonConstraint.isCompleteObject(ok)).as(ok).isTrue();
        }
        for (String bad : List.of("[]", "x", "{a:1}", "{\"a\" 1}", "{\"a\":01}", "{\"a\":1,}", "{\"a\":tru}", "{\"a\":\"\\x\"}",
                "{\"a\":1}}", "{\"a\":-}", "{\"a\":\"line\nbreak\"}", "{} {}")) {
            assertThat(JsonConstraint.isCompleteObject(bad)).as(bad).isFalse();
        }
    }
}
