package dev.jemma.core.constrain;

import dev.jemma.core.testing.Fixtures;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.Generation;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.engine.StopReason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Constrained generation on real models at temperature 1 over many seeds: every answer must be accepted by a checker
 * written independently of the grammar engine (a regex, a recursive-descent parser, Jackson). The grammars are bounded,
 * so every answer ends with an end of turn well before the token limit and is checked whole.
 */
class GrammarGenerationTest {
    static final int SEEDS = 12;
    static List<Engine> engines = new ArrayList<>();

    @BeforeAll
    static void load() throws Exception {
        EngineOptions o = EngineOptions.builder().threads(1).contextLength(1024).build();
        engines.add(Engine.load(Path.of(GrammarGenerationTest.class.getResource("/models/gemma3-tiny-Q4_0.gguf").toURI()), o));
        Path demo = Fixtures.demoModel();
        if (Files.exists(demo)) engines.add(Engine.load(demo, o));
    }

    @AfterAll
    static void close() {
        for (Engine e : engines) e.close();
    }

    private static void generatesOnly(String gbnf, Predicate<String> check) {
        Grammar g = Grammar.parse(gbnf);
        for (Engine e : engines) {
            try (Session s = e.newSession()) {
                for (long seed = 1; seed <= SEEDS; seed++) {
                    GenerationOptions opts = GenerationOptions.builder().temperature(1f).topK(0).topP(1f).seed(seed)
                            .maxTokens(600).grammar(g).build();
                    Generation out = s.generate(List.of(ChatMessage.user("Write something.")), opts, null);
                    assertThat(out.stopReason()).as("seed %d: %s", seed, out.text()).isEqualTo(StopReason.END_OF_TURN);
                    assertThat(check.test(out.text())).as("seed %d on %s: %s", seed, e.path().getFileName(), out.text()).isTrue();
                }
            }
        }
    }

    @Test
    void lists() {
        Pattern p = Pattern.compile("- [a-z]{1,8}(\\n- [a-z]{1,8}){0,4}");
        generatesOnly("root ::= \"- \" item (\"\\n- \" item){0,4}\nitem ::= [a-z]{1,8}", t -> p.matcher(t).matches());
    }

    @Test
    void arithmetic() {
        String gbnf = """
                root    ::= expr1
                expr1   ::= term1 ([-+*/] term1){0,2}
                term1   ::= num | "(" expr2 ")"
                expr2   ::= term2 ([-+*/] term2){0,2}
                term2   ::= num | "(" expr3 ")"
                expr3   ::= num ([-+*/] num){0,2}
                num     ::= "-"? [1-9] [0-9]{0,2} | "0"
                """;
        generatesOnly(gbnf, t -> new Arithmetic(t).parses());
    }

    @Test
    void smallProgrammingLanguage() {
        String gbnf = """
                root  ::= stmt{1,3}
                stmt  ::= "let " ident " = " value ";\\n" | "print(" value ");\\n" | "if (" ident " < " value ") {\\n" inner "}\\n"
                inner ::= ("  let " ident " = " value ";\\n" | "  print(" value ");\\n"){1,2}
                value ::= ident | [0-9]{1,4} | "\\"" [a-zA-Z ]{0,10} "\\""
                ident ::= [a-z] [a-z0-9_]{0,6}
                """;
        generatesOnly(gbnf, t -> new Program(t).parses());
    }

    @Test
    void unicodeText() {
        Pattern p = Pattern.compile("«[\\p{IsCyrillic}é ]{1,12}»");
        generatesOnly("root ::= \"«\" [а-яА-Яé ]{1,12} \"»\"", t -> p.matcher(t).matches());
    }

    /**
     * Counted repetitions with large bounds, under the models' masks: at least 300 and at most 400 letters, so both
     * bounds are met in generation (the period is allowed only from the 300th letter and forced after the 400th; every letter may be its own token).
     */
    @Test
    void largeCountedRepetitions() {
        Pattern p = Pattern.compile("[a-z]{300,400}\\.");
        Grammar g = Grammar.parse("root ::= [a-z]{300,400} \".\"");
        for (Engine e : engines) {
            try (Session s = e.newSession()) {
                for (long seed = 1; seed <= 4; seed++) {
                    GenerationOptions opts = GenerationOptions.builder().temperature(1f).topK(0).topP(1f).seed(seed)
                            .maxTokens(900).grammar(g).build();
                    Generation out = s.generate(List.of(ChatMessage.user("Write letters.")), opts, null);
                    assertThat(out.stopReason()).as("seed %d: %s", seed, out.text()).isEqualTo(StopReason.END_OF_TURN);
                    assertThat(p.matcher(out.text()).matches()).as("seed %d on %s: %s", seed, e.path().getFileName(), out.text()).isTrue();
                }
            }
        }
    }

    @Test
    void jsonMode() {
        ObjectMapper json = new ObjectMapper();
        Grammar g = JsonConstraint.grammar();
        for (Engine e : engines) {
            try (Session s = e.newSession()) {
                for (long seed = 1; seed <= SEEDS; seed++) {
                    GenerationOptions opts = GenerationOptions.builder().temperature(1f).seed(seed).maxTokens(120).grammar(g).build();
                    Generation out = s.generate(List.of(ChatMessage.user("JSON please")), opts, null);
                    assertThat(JsonConstraint.firstError(out.text())).as(out.text()).isEqualTo(-1);
                    if (out.stopReason() == StopReason.END_OF_TURN) {
                        try {
                            assertThat(json.readTree(out.text()).isObject()).isTrue();
                        } catch (Exception x) {
                            throw new AssertionError("not JSON: " + out.text(), x);
                        }
                    }
                }
            }
        }
    }

    /**
     * Every schema of the corpus, on every model, at temperature 1 over several seeds: each finished answer parses and
     * validates with the networknt validator; answers cut by the token limit are still valid prefixes.
     */
    @Test
    void schemaCorpus() throws Exception {
        ObjectMapper json = new ObjectMapper();
        int finished = 0, total = 0;
        for (com.fasterxml.jackson.databind.JsonNode c : JsonSchemaGrammarTest.resource("schema-corpus.json")) {
            String name = c.get("name").asText();
            Grammar g = JsonSchemaGrammar.fromSchema(c.get("schema"));
            com.networknt.schema.Schema validator = JsonSchemaGrammarTest.REGISTRY.getSchema(json.writeValueAsString(c.get("schema")));
            for (Engine e : engines) {
                try (Session s = e.newSession()) {
                    for (long seed = 1; seed <= 6; seed++) {
                        GenerationOptions opts = GenerationOptions.builder().temperature(1f).seed(seed).maxTokens(300).grammar(g).build();
                        Generation out = s.generate(List.of(ChatMessage.user("Answer in JSON.")), opts, null);
                        total++;
                        assertThat(GrammarMatcher.firstError(g, out.text())).as("%s seed %d: %s", name, seed, out.text()).isEqualTo(-1);
                        if (out.stopReason() != StopReason.END_OF_TURN) continue;
                        finished++;
                        com.fasterxml.jackson.databind.JsonNode doc;
                        try {
                            doc = json.readTree(out.text());
                        } catch (Exception x) {
                            throw new AssertionError(name + ": not JSON: " + out.text(), x);
                        }
                        assertThat(validator.validate(doc)).as("%s seed %d on %s: %s", name, seed, e.path().getFileName(), out.text()).isEmpty();
                    }
                }
            }
        }
        System.out.printf("schema corpus on the models: %d of %d answers finished, all valid%n", finished, total);
        assertThat(finished).isGreaterThan(total / 2);
    }

    /** An independent recursive-descent check of the arithmetic answers (depth at most 3). */
    private static final class Arithmetic {
        private final String s;
        private int i;

        Arithmetic(String s) {
            this.s = s;
        }

        boolean parses() {
            return expr(1) && i == s.length();
        }

        private boolean expr(int depth) {
            if (!term(depth)) return false;
            for (int k = 0; k < 2 && i < s.length() && "+-*/".indexOf(s.charAt(i)) >= 0; k++) {
                i++;
                if (!term(depth)) return false;
            }
            return true;
        }

        private boolean term(int depth) {
            if (i < s.length() && s.charAt(i) == '(' && depth < 3) {
                i++;
                if (!expr(depth + 1)) return false;
                return i < s.length() && s.charAt(i++) == ')';
            }
            int start = i;
            if (i < s.length() && s.charAt(i) == '-') i++;
            int digits = i;
            while (i < s.length() && Character.isDigit(s.charAt(i))) i++;
            int n = i - digits;
            if (n == 0 || n > 3) return false;
            return !(s.charAt(digits) == '0' && (n > 1 || digits > start));
        }
    }

    /** An independent line-based check of the small language. */
    private static final class Program {
        private static final String IDENT = "[a-z][a-z0-9_]{0,6}";
        private static final String VALUE = "(" + IDENT + "|[0-9]{1,4}|\"[a-zA-Z ]{0,10}\")";
        private static final Pattern LET = Pattern.compile("let " + IDENT + " = " + VALUE + ";");
        private static final Pattern PRINT = Pattern.compile("print\\(" + VALUE + "\\);");
        private static final Pattern IF = Pattern.compile("if \\(" + IDENT + " < " + VALUE + "\\) \\{");
        private final String[] lines;

        Program(String text) {
            this.lines = text.split("\n", -1);
        }

        boolean parses() {
            if (lines.length < 2 || !lines[lines.length - 1].isEmpty()) return false; // ends with a newline
            int i = 0, stmts = 0;
            while (i < lines.length - 1) {
                String l = lines[i];
                if (LET.matcher(l).matches() || PRINT.matcher(l).matches()) {
                    i++;
                } else if (IF.matcher(l).matches()) {
                    int inner = 0;
                    i++;
                    while (i < lines.length - 1 && lines[i].startsWith("  ")) {
                        String b = lines[i].substring(2);
                        if (!LET.matcher(b).matches() && !PRINT.matcher(b).matches()) return false;
                        inner++;
                        i++;
                    }
                    if (inner < 1 || inner > 2 || i >= lines.length - 1 || !lines[i].equals("}")) return false;
                    i++;
                } else {
                    return false;
                }
                stmts++;
            }
            return stmts >= 1 && stmts <= 3;
        }
    }
}
