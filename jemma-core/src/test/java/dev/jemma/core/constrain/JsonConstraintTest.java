package dev.jemma.core.constrain;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The JSON automaton on its own (constrained generations are tested through the server and LangChain4j). */
class JsonConstraintTest {
    @Test
    void automatonAcceptsJsonObjectsAndRejectsTheRest() {
        for (String ok : List.of("{}", " {\"a\": 1}", "{\"a\":[1,-2.5e+3,0.0,true,false,null,\"x\\\"y\\u00e9\"],\"b\":{\"c\":{}}}",
                "{\n  \"key\": \"value with spaces and ünïcödé\"\n}")) {
            assertThat(JsonConstraint.isCompleteObject(ok)).as(ok).isTrue();
        }
        for (String partial : List.of("{", "{\"a\"", "{\"a\":", "{\"a\":[1,", "{\"a\":\"unterminated")) {
            assertThat(JsonConstraint.firstError(partial)).as(partial).isEqualTo(-1);
            assertThat(JsonConstraint.isCompleteObject(partial)).as(partial).isFalse();
        }
        for (String bad : List.of("[]", "x", "{a:1}", "{\"a\" 1}", "{\"a\":01}", "{\"a\":1,}", "{\"a\":tru}", "{\"a\":\"\\x\"}",
                "{\"a\":1}}", "{\"a\":-}", "{\"a\":\"line\nbreak\"}", "{} {}")) {
            assertThat(JsonConstraint.isCompleteObject(bad)).as(bad).isFalse();
        }
    }

}
