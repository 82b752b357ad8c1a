package dev.jemma.core.constrain;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Schema;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.chat.Tool;
import dev.jemma.core.chat.ToolCall;
import dev.jemma.core.chat.ToolCalling;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.Generation;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.engine.StopReason;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Tool-call grammars: every call list they allow parses, names an offered function, and its parameters validate. */
class ToolCallGrammarTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<Tool> TOOLS;

    static {
        try {
            TOOLS = List.of(
                    new Tool("get_weather", "Current weather in a city", JSON.readTree("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\","
                            + "\"maxLength\":12},\"unit\":{\"enum\":[\"celsius\",\"fahrenheit\"]}},\"required\":[\"city\"]}")),
                    new Tool("add", "Adds two integers", JSON.readTree("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},\"b\":"
                            + "{\"type\":\"integer\",\"minimum\":0,\"maximum\":99}},\"required\":[\"a\",\"b\"],\"additionalProperties\":false}")),
                    new Tool("now", "The time", null));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, Schema> validators() throws Exception {
        Map<String, Schema> v = new HashMap<>();
        for (Tool t : TOOLS) {
            v.put(t.name(), JsonSchemaGrammarTest.REGISTRY.getSchema(t.parameters() == null ? "{\"type\":\"object\"}" : JSON.writeValueAsString(t.parameters())));
        }
        return v;
    }

    static void callsValidate(List<ToolCall> calls, String text, Map<String, Schema> validators) throws Exception {
        assertThat(calls).as(text).isNotNull().isNotEmpty();
        for (ToolCall c : calls) {
            assertThat(validators).as(text).containsKey(c.name());
            assertThat(validators.get(c.name()).validate(JSON.readTree(c.arguments()))).as(text).isEmpty();
            assertThat(c.id()).startsWith("call_");
        }
    }

    @Test
    void requiredCallsAlwaysParseAndValidate() throws Exception {
        Map<String, Schema> v = validators();
        for (boolean parallel : new boolean[]{true, false}) {
            Grammar g = ToolCalling.grammar(TOOLS, ToolCalling.Choice.REQUIRED, null, parallel);
            SplittableRandom r = new SplittableRandom(7);
            int finished = 0;
            for (int i = 0; i < 200; i++) {
                String text = JsonSchemaGrammarTest.walk(g, r, 4000);
                if (text == null) continue;
                finished++;
                List<ToolCall> calls = ToolCalling.parse(text);
                callsValidate(calls, text, v);
                if (!parallel) assertThat(calls).as(text).hasSize(1);
            }
            assertThat(finished).isGreaterThan(100);
        }
    }

    @Test
    void autoAllowsTextThatCannotBeMistakenForCalls() throws Exception {
        Grammar g = ToolCalling.grammar(TOOLS, ToolCalling.Choice.AUTO, null, true);
        assertThat(GrammarMatcher.matches(g, "It is sunny.")).isTrue();
        assertThat(GrammarMatcher.matches(g, "[{\"name\":\"now\",\"parameters\":{}}]")).isTrue();
        assertThat(GrammarMatcher.matches(g, "[not a call")).isFalse();
        assertThat(GrammarMatcher.matches(g, " leading space")).isFalse();
        assertThat(GrammarMatcher.matches(g, "[{\"name\":\"nope\",\"parameters\":{}}]")).isFalse();
        assertThat(GrammarMatcher.matches(g, "[{\"name\":\"add\",\"parameters\":{\"a\":1,\"b\":100}}]")).isFalse();
        Grammar named = ToolCalling.grammar(TOOLS, ToolCalling.Choice.REQUIRED, "add", true);
        assertThat(GrammarMatcher.matches(named, "[{\"name\":\"now\",\"parameters\":{}}]")).isFalse();
        assertThat(GrammarMatcher.matches(named, "[{\"name\":\"add\",\"parameters\":{\"a\":-4,\"b\":2}}]")).isTrue();
        assertThat(ToolCalling.grammar(TOOLS, ToolCalling.Choice.NONE, null, true)).isNull();
        assertThat(ToolCalling.parse("It is sunny.")).isNull();
        assertThat(ToolCalling.parse("[{\"name\":\"add\",\"parameters\":{\"a\":1")).isNull(); // cut short
    }

    @Test
    void unenforceableParametersNameTheTool() throws Exception {
        List<Tool> bad = List.of(new Tool("f", "", JSON.readTree("{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"array\",\"uniqueItems\":true}}}")));
        assertThatThrownBy(() -> ToolCalling.grammar(bad, ToolCalling.Choice.AUTO, null, true)).isInstanceOf(GrammarException.class)
                .hasMessageContaining("tool 'f'").hasMessageContaining("'uniqueItems'");
    }

    @Test
    void conversationKeepsRolesAlternating() {
        List<ChatMessage> c = ToolCalling.conversation(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Weather in Paris?"),
                ChatMessage.assistant(ToolCalling.callsText(List.of(new ToolCall("call_1", "get_weather", "{\"city\":\"Paris\"}")))),
                new ChatMessage("tool", ToolCalling.resultText("get_weather", "{\"temp\":21}")), ChatMessage.user("And tomorrow?")), TOOLS, true);
        assertThat(c).extracting(ChatMessage::role).containsExactly("system", "user", "assistant", "user");
        assertThat(c.getFirst().content()).startsWith("Be brief.").contains("You have access to functions").contains("\"get_weather\"");
        assertThat(c.get(2).content()).isEqualTo("[{\"name\":\"get_weather\",\"parameters\":{\"city\":\"Paris\"}}]");
        assertThat(c.get(3).content()).contains("```tool_output\nget_weather: {\"temp\":21}\n```").endsWith("And tomorrow?");
    }

    /** The tiny fixture model under the required-call grammar: every finished answer is a valid call list. */
    @Test
    void modelCallsParseAndValidate() throws Exception {
        Map<String, Schema> v = validators();
        Grammar g = ToolCalling.grammar(TOOLS, ToolCalling.Choice.REQUIRED, null, true);
        try (Engine e = Engine.load(Path.of(ToolCallGrammarTest.class.getResource("/models/gemma3-tiny-Q4_0.gguf").toURI()),
                EngineOptions.builder().threads(1).contextLength(1024).build()); Session s = e.newSession()) {
            List<ChatMessage> prompt = ToolCalling.conversation(List.of(ChatMessage.user("What is 2 + 3?")), TOOLS, true);
            int finished = 0;
            for (long seed = 1; seed <= 10; seed++) {
                Generation out = s.generate(prompt, GenerationOptions.builder().temperature(1f).seed(seed).maxTokens(200).grammar(g).build(), null);
                if (out.stopReason() != StopReason.END_OF_TURN) continue;
                finished++;
                callsValidate(ToolCalling.parse(out.text()), out.text(), v);
            }
            assertThat(finished).isGreaterThan(5);
        }
    }
}
