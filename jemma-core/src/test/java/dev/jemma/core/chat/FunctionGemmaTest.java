package dev.jemma.core.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.dialect.Dialects;
import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.constrain.GrammarException;
import dev.jemma.core.constrain.GrammarMatcher;
import dev.jemma.core.constrain.ToolCallGrammar;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.Generation;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.engine.StopReason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * FunctionGemma's format end to end on a tiny model with its special tokens and template: the template declares the
 * tools, the answer is decoded in its markup under the tools' grammar (at temperature 1, many seeds: every call parses
 * and its arguments validate, networknt), results go back as function responses.
 */
class FunctionGemmaTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String PARAMS = "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"maxLength\":12},"
            + "\"days\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":7},\"unit\":{\"enum\":[\"C\",\"F\"]},"
            + "\"note\":{\"type\":\"string\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"boolean\"},\"maxItems\":3}},"
            + "\"required\":[\"city\",\"days\"],\"additionalProperties\":false}";
    static final Schema FORECAST = SchemaRegistry.withDefaultDialect(Dialects.getDraft202012()).getSchema(PARAMS);
    static List<Tool> tools;
    @TempDir
    static Path dir;
    static Engine engine;

    @BeforeAll
    static void load() throws Exception {
        tools = List.of(new Tool("forecast", "Weather forecast", JSON.readTree(PARAMS)),
                new Tool("now", "The time", JSON.readTree("{\"type\":\"object\",\"properties\":{}}")));
        Path model = dir.resolve("functiongemma-tiny.gguf");
        FunctionGemmaTestModel.write(Path.of(FunctionGemmaTest.class.getResource("/fixtures/gemma3-tiny/gemma3-tiny-Q8_0.gguf").toURI()), model);
        engine = Engine.load(model, EngineOptions.builder().threads(1).contextLength(1024).build());
    }

    @AfterAll
    static void close() {
        if (engine != null) engine.close();
    }

    private static ChatTemplate template() throws Exception {
        return ChatTemplate.jinja(FunctionGemmaTestModel.template(), "<bos>", "<eos>");
    }

    @Test
    void detectedByTheTemplateNotTheFileName() throws Exception {
        assertThat(ToolCalling.Format.of(engine.chatTemplate().source())).isEqualTo(ToolCalling.Format.FUNCTION_GEMMA);
        assertThat(ToolCalling.Format.of(FunctionGemmaTestModel.template())).isEqualTo(ToolCalling.Format.FUNCTION_GEMMA);
        assertThat(ToolCalling.Format.of("{{ bos_token }}<start_of_turn>user\n{{ messages[0]['content'] }}<end_of_turn>\n"))
                .isEqualTo(ToolCalling.Format.GEMMA_PROMPT);
        assertThat(ToolCalling.Format.of(null)).isEqualTo(ToolCalling.Format.GEMMA_PROMPT);
    }

    /** The declarations, a call and its response, written by the template as FunctionGemma reads them. */
    @Test
    void templateRendersDeclarationsCallsAndResponses() throws Exception {
        List<ChatMessage> first = FunctionGemma.conversation(List.of(ChatMessage.user("Weather in Oslo?")), tools);
        assertThat(template().render(first, true)).isEqualTo("<bos><start_of_turn>developer\n" + FunctionGemma.DEVELOPER_PROMPT
                + "<start_function_declaration>declaration:forecast{description:<escape>Weather forecast<escape>,parameters:{properties:{"
                + "city:{description:<escape><escape>,type:<escape>STRING<escape>},"
                + "days:{description:<escape><escape>,type:<escape>INTEGER<escape>},"
                + "note:{description:<escape><escape>,type:<escape>STRING<escape>},"
                + "tags:{description:<escape><escape>,items:{type:<escape>BOOLEAN<escape>},type:<escape>ARRAY<escape>},"
                + "unit:{description:<escape><escape>,enum:[<escape>C<escape>,<escape>F<escape>],type:<escape><escape>}},"
                + "required:[<escape>city<escape>,<escape>days<escape>],type:<escape>OBJECT<escape>}}<end_function_declaration>"
                + "<start_function_declaration>declaration:now{description:<escape>The time<escape>,parameters:{type:<escape>OBJECT<escape>}}"
                + "<end_function_declaration><end_of_turn>\n<start_of_turn>user\nWeather in Oslo?<end_of_turn>\n<start_of_turn>model\n");
        List<ChatMessage> msgs = new ArrayList<>(List.of(ChatMessage.system("Be brief."), ChatMessage.user("Weather in Oslo?"),
                ChatMessage.assistantCalls("", List.of(new ToolCall("call_1", "forecast", "{\"city\":\"Oslo\",\"days\":2,\"tags\":[true]}"))),
                ChatMessage.toolResult("forecast", "{\"sky\":\"clear\",\"wind\":3}")));
        String rendered = template().render(FunctionGemma.conversation(msgs, tools), true);
        assertThat(rendered).startsWith("<bos><start_of_turn>developer\nBe brief.<start_function_declaration>declaration:forecast{")
                .endsWith("<end_of_turn>\n<start_of_turn>user\nWeather in Oslo?<end_of_turn>\n<start_of_turn>model\n"
                        + "<start_function_call>call:forecast{city:<escape>Oslo<escape>,days:2,tags:[true]}<end_function_call>"
                        + "<start_function_response>response:forecast{sky:<escape>clear<escape>,wind:3}<end_function_response>");
        msgs.add(ChatMessage.assistant("Clear."));
        msgs.add(ChatMessage.user("And Bergen?"));
        assertThat(template().render(FunctionGemma.conversation(msgs, tools), true)).endsWith("<end_function_response>Clear.<end_of_turn>\n"
                + "<start_of_turn>user\nAnd Bergen?<end_of_turn>\n<start_of_turn>model\n");
        // a plain-text result is a value
        assertThat(template().render(List.of(ChatMessage.user("x"), ChatMessage.assistantCalls("", List.of(new ToolCall("c", "now", "{}"))),
                ChatMessage.toolResult("now", "12:00")), true)).endsWith("<start_of_turn>model\n<start_function_call>call:now{}<end_function_call>"
                + "<start_function_response>response:now{value:<escape>12:00<escape>}<end_function_response>");
    }

    /** Hugging Face's templates (FunctionGemma's among them) use {{- … -}}: it strips white space as in Jinja2. */
    @Test
    void expressionWhitespaceControlWorksAsInJinja2() {
        ChatTemplate t = ChatTemplate.jinja("{{ bos_token }}a\n{{- 'b' -}}\n c { {{- messages[0]['content'] }} }", "<bos>", "<eos>");
        assertThat(t.render(List.of(ChatMessage.user("x")), false)).isEqualTo("<bos>abc {x }");
    }

    private static byte[] spell(String markup) {
        // special tokens as the grammar spells them; the rest as UTF-8
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        while (i < markup.length()) {
            String tok = null;
            for (String t : FunctionGemmaTestModel.TOKENS) if (markup.startsWith(t, i)) tok = t;
            if (tok != null) {
                out.writeBytes(Grammar.tokenSpelling(tok));
                i += tok.length();
            } else {
                out.writeBytes(String.valueOf(markup.charAt(i)).getBytes(StandardCharsets.UTF_8));
                i++;
            }
        }
        return out.toByteArray();
    }

    private static boolean accepts(Grammar g, String markup) {
        GrammarMatcher m = new GrammarMatcher(g);
        return m.feed(spell(markup)) && m.canEnd();
    }

    @Test
    void grammarAcceptsValidCallsOnly() {
        Grammar g = FunctionGemma.grammar(tools, ToolCalling.Choice.REQUIRED, null, true);
        assertThat(g.tokens()).contains("<start_function_call>", "<end_function_call>", "<escape>");
        String ok = "<start_function_call>call:forecast{city:<escape>Oslo<escape>,days:3,unit:<escape>F<escape>,tags:[true,false]}<end_function_call>";
        assertThat(accepts(g, ok)).isTrue();
        assertThat(accepts(g, ok + "<start_function_call>call:now{}<end_function_call>")).isTrue();
        assertThat(accepts(g, "<start_function_call>call:forecast{city:<escape>a<b<escape>,days:1}<end_function_call>")).as("maxLength: no '<'").isFalse();
        assertThat(accepts(g, "<start_function_call>call:forecast{city:<escape>Oslo<escape>,days:8}<end_function_call>")).as("maximum").isFalse();
        assertThat(accepts(g, "<start_function_call>call:forecast{days:3}<end_function_call>")).as("required city").isFalse();
        assertThat(accepts(g, "<start_function_call>call:forecast{city:<escape>Oslo<escape>,days:3,x:1}<end_function_call>")).isFalse();
        assertThat(accepts(g, "<start_function_call>call:nope{}<end_function_call>")).isFalse();
        assertThat(accepts(g, "hello")).as("required: no text").isFalse();
        assertThat(accepts(g, "")).isFalse();
        // the text <escape> inside a free string would end it early: the grammar never writes it
        String note = "<start_function_call>call:forecast{city:<escape>O<escape>,days:1,note:<escape>%s<escape>}<end_function_call>";
        assertThat(accepts(g, note.formatted("a < b, <esc <escap"))).isTrue();
        GrammarMatcher m = new GrammarMatcher(g);
        assertThat(m.feed(spell(note.formatted("x").substring(0, 0)))).isTrue();
        assertThat(m.feed(spell("<start_function_call>call:forecast{city:<escape>O<escape>,days:1,note:<escape>"))).isTrue();
        assertThat(m.feed("<escape>".getBytes(StandardCharsets.UTF_8))).as("the text <escape>").isFalse();
        Grammar single = FunctionGemma.grammar(tools, ToolCalling.Choice.REQUIRED, "now", false);
        assertThat(accepts(single, "<start_function_call>call:now{}<end_function_call>")).isTrue();
        assertThat(accepts(single, "<start_function_call>call:now{}<end_function_call><start_function_call>call:now{}<end_function_call>")).isFalse();
        Grammar auto = FunctionGemma.grammar(tools, ToolCalling.Choice.AUTO, null, true);
        assertThat(accepts(auto, "Sunny, <b>really</b>.")).isTrue();
        assertThat(accepts(auto, ok)).isTrue();
        assertThat(FunctionGemma.grammar(tools, ToolCalling.Choice.NONE, null, true)).isNull();
    }

    @Test
    void unenforceableSchemasAreRefusedNamingTheKeyword() throws Exception {
        assertThatThrownBy(() -> FunctionGemma.grammar(List.of(new Tool("f", "", JSON.readTree("{\"type\":\"object\",\"additionalProperties\":true}"))),
                ToolCalling.Choice.REQUIRED, null, true)).isInstanceOf(GrammarException.class).hasMessageContaining("tool 'f'").hasMessageContaining("'additionalProperties'");
        assertThatThrownBy(() -> FunctionGemma.grammar(List.of(new Tool("f", "", JSON.readTree("{\"type\":\"object\",\"properties\":{\"a:b\":{}}}"))),
                ToolCalling.Choice.REQUIRED, null, true)).isInstanceOf(GrammarException.class).hasMessageContaining("'properties'").hasMessageContaining("a:b");
        assertThatThrownBy(() -> FunctionGemma.grammar(List.of(new Tool("f", "", JSON.readTree("{\"type\":\"object\",\"properties\":{\"x\":{\"not\":{}}}}"))),
                ToolCalling.Choice.REQUIRED, null, true)).isInstanceOf(GrammarException.class).hasMessageContaining("'not'");
    }

    @Test
    void parseReadsCallsBack() {
        List<ToolCall> calls = FunctionGemma.parse("<start_function_call>call:forecast{city:<escape>Oslo, {x}: [y]<escape>,days:3,o:{a:[1,2.5,null]},b:false}"
                + "<end_function_call><start_function_call>call:now{}<end_function_call>");
        assertThat(calls).hasSize(2);
        assertThat(calls.get(0).name()).isEqualTo("forecast");
        assertThat(calls.get(0).arguments()).isEqualTo("{\"city\":\"Oslo, {x}: [y]\",\"days\":3,\"o\":{\"a\":[1,2.5,null]},\"b\":false}");
        assertThat(calls.get(0).id()).startsWith("call_");
        assertThat(calls.get(1).arguments()).isEqualTo("{}");
        assertThat(FunctionGemma.parse("Sunny.")).isNull();
        assertThat(FunctionGemma.parse("<start_function_call>call:forecast{city:<escape>Os")).as("cut by the token limit").isNull();
        assertThat(FunctionGemma.parse("<start_function_call>call:now{}<end_function_call>trailing")).isNull();
    }

    private Generation answer(Session s, List<ChatMessage> conversation, ToolCalling.Choice choice, long seed) {
        Grammar g = FunctionGemma.grammar(tools, choice, null, true);
        GenerationOptions o = GenerationOptions.builder().temperature(1f).topK(0).topP(1f).seed(seed).maxTokens(400).grammar(g).build();
        return s.generate(ToolCalling.Format.FUNCTION_GEMMA.conversation(conversation, tools, true), o, null);
    }

    private static void valid(ToolCall c) throws Exception {
        JsonNode args = JSON.readTree(c.arguments());
        assertThat(c.name()).isIn("forecast", "now");
        if (c.name().equals("forecast")) assertThat(FORECAST.validate(args)).as(c.arguments()).isEmpty();
        else assertThat(args.isObject()).isTrue();
    }

    /**
     * Required calls at temperature 1 over many seeds: each answer is calls that parse and validate; the result then
     * goes back as a function response (the prompt holds FunctionGemma's response tokens) and the model answers.
     */
    @Test
    void callsRoundTripOnTheTestModel() throws Exception {
        int calls = 0;
        int responseId = engine.tokenizer().tokenId("<start_function_response>").getAsInt();
        for (long seed = 1; seed <= 10; seed++) {
            try (Session s = engine.newSession()) {
                List<ChatMessage> conv = new ArrayList<>(List.of(ChatMessage.user("Weather in Oslo for 3 days?")));
                Generation g = answer(s, conv, ToolCalling.Choice.REQUIRED, seed);
                assertThat(g.stopReason()).as("seed %d: %s", seed, g.text()).isEqualTo(StopReason.END_OF_TURN);
                List<ToolCall> made = FunctionGemma.parse(g.text());
                assertThat(made).as("seed %d: %s", seed, g.text()).isNotNull().isNotEmpty();
                for (ToolCall c : made) valid(c);
                calls += made.size();
                conv.add(ChatMessage.assistantCalls("", made));
                for (ToolCall c : made) conv.add(ChatMessage.toolResult(c.name(), "{\"sky\":\"clear\"}"));
                String prompt = engine.renderPrompt(ToolCalling.Format.FUNCTION_GEMMA.conversation(conv, tools, true), true);
                assertThat(prompt).endsWith("response:" + made.getLast().name() + "{sky:<escape>clear<escape>}<end_function_response>");
                assertThat(engine.tokenizer().encodePrompt(prompt)).as("the response marker is a token").contains(responseId);
                Generation next = answer(s, conv, ToolCalling.Choice.AUTO, seed);
                assertThat(next.stopReason()).as("seed %d: %s", seed, next.text()).isIn(StopReason.END_OF_TURN, StopReason.MAX_TOKENS);
                List<ToolCall> again = FunctionGemma.parse(next.text());
                if (again != null) for (ToolCall c : again) valid(c);
                else assertThat(next.text()).doesNotContain("<start_function_call>");
            }
        }
        assertThat(calls).isGreaterThanOrEqualTo(10);
    }

    @Test
    void autoGivesTextOrValidCalls() throws Exception {
        for (long seed = 1; seed <= 6; seed++) {
            try (Session s = engine.newSession()) {
                Generation g = answer(s, List.of(ChatMessage.user("Hi")), ToolCalling.Choice.AUTO, seed);
                List<ToolCall> made = FunctionGemma.parse(g.text());
                if (made != null) for (ToolCall c : made) valid(c);
                else assertThat(g.text()).doesNotContain("<start_function_call>").doesNotContain("<escape>");
            }
        }
    }

    @Test
    void gemmaPromptFormatStillWritesCallsAsText() {
        List<ChatMessage> conv = ToolCalling.Format.GEMMA_PROMPT.conversation(List.of(ChatMessage.user("x"),
                ChatMessage.assistantCalls("", List.of(new ToolCall("c", "now", "{}"))), ChatMessage.toolResult("now", "12:00")), tools, true);
        assertThat(conv.get(2).content()).isEqualTo("[{\"name\":\"now\",\"parameters\":{}}]");
        assertThat(conv.get(3).role()).isEqualTo("user");
        assertThat(conv.get(3).content()).contains("```tool_output\nnow: 12:00\n```");
        assertThat(Map.of()).isEmpty();
    }
}
