package dev.jemma.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jemma run --grammar FILE} and {@code --json-schema FILE}. */
class GrammarFlagsTest {
    static final String TINY = RunCommandTest.TINY;

    @Test
    void grammarFileConstrainsTheAnswer(@TempDir Path dir) throws Exception {
        Path g = dir.resolve("answer.gbnf");
        Files.writeString(g, "root ::= (\"yes\" | \"no\") \" \" [0-9]{2}\n");
        for (int seed = 1; seed <= 3; seed++) {
            var r = CliTestSupport.run(null, "run", TINY, "Answer", "--grammar", g.toString(), "--temp", "1", "--seed", String.valueOf(seed), "-n", "20");
            assertThat(r.exitCode()).as(r.err()).isZero();
            assertThat(r.out().strip()).matches("(yes|no) [0-9]{2}");
        }
    }

    @Test
    void jsonSchemaFileConstrainsTheAnswer(@TempDir Path dir) throws Exception {
        Path s = dir.resolve("schema.json");
        Files.writeString(s, "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":9}},"
                + "\"required\":[\"ok\",\"n\"],\"additionalProperties\":false}");
        for (String schemaArg : new String[]{s.toString(), Files.readString(s)}) {
            var r = CliTestSupport.run(null, "run", TINY, "Answer", "--json-schema", schemaArg, "--temp", "1", "--seed", "5", "-n", "60");
            assertThat(r.exitCode()).as(r.err()).isZero();
            JsonNode doc = new ObjectMapper().readTree(r.out());
            assertThat(doc.get("ok").isBoolean()).as(r.out()).isTrue();
            assertThat(doc.get("n").asInt()).isBetween(1, 9);
            assertThat(doc.size()).isEqualTo(2);
        }
    }

    @Test
    void badGrammarOrSchemaIsOneLineNamingTheFile(@TempDir Path dir) throws Exception {
        Path g = dir.resolve("bad.gbnf");
        Files.writeString(g, "root ::= \"a\" missing\n");
        var r = CliTestSupport.run(null, "run", TINY, "hi", "--grammar", g.toString());
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.err().strip()).startsWith("jemma: " + g).contains("rule 'missing' is used but not defined").doesNotContain("\n");
        Path s = dir.resolve("bad.json");
        Files.writeString(s, "{\"type\":\"array\",\"uniqueItems\":true}");
        var q = CliTestSupport.run(null, "run", TINY, "hi", "--json-schema", s.toString());
        assertThat(q.exitCode()).isNotZero();
        assertThat(q.err().strip()).startsWith("jemma: " + s).contains("'uniqueItems'").doesNotContain("\n");
        var none = CliTestSupport.run(null, "run", TINY, "hi", "--grammar", dir.resolve("nope.gbnf").toString());
        assertThat(none.err().strip()).isEqualTo("jemma: " + dir.resolve("nope.gbnf") + ": no such file");
    }
}
