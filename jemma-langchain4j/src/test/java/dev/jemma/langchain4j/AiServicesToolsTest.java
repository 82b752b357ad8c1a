package dev.jemma.langchain4j;

import dev.langchain4j.agent.tool.P;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.service.AiServices;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An AI Service with {@code @Tool} methods on the demo model in-process: the model's call is parsed into the method's
 * typed arguments, the method runs, its result goes back into the conversation and the model answers.
 */
class AiServicesToolsTest {
    static JemmaChatModel model;

    @BeforeAll
    static void load() {
        model = JemmaChatModel.builder().modelPath(JemmaChatModelTest.demoModel()).contextLength(2048).threads(2).maxOutputTokens(400).parallelToolCalls(false)
                .temperature(1.0).build();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    interface Assistant {
        String chat(String question);
    }

    enum Unit { CELSIUS, FAHRENHEIT }

    enum City { OSLO, LIMA, PERTH }

    static final class Tools {
        final List<String> calls = new ArrayList<>();

        @Tool("Adds two integers")
        long add(@P("the first addend") long a, @P("the second addend") long b) {
            calls.add("add(" + a + "," + b + ")");
            return a + b;
        }

        @Tool("Current temperature in a city")
        String temperature(@P("city") City city, @P("unit") Unit unit) {
            calls.add("temperature(" + city + "," + unit + ")");
            return "21 degrees " + unit;
        }
    }

    /**
     * A model that must call a tool on a fresh question and may answer once it has a tool result: Jemma under
     * tool_choice required, then auto. (The demo model's random weights never choose a call by themselves; a trained
     * model decides this on its own.)
     */
    static ChatModel callsOnce(ChatModel inner, List<ChatRequest> seen) {
        return new ChatModel() {
            @Override
            public ChatResponse doChat(ChatRequest request) {
                seen.add(request);
                List<ChatMessage> m = request.messages();
                ToolChoice choice = m.getLast() instanceof ToolExecutionResultMessage ? ToolChoice.AUTO : ToolChoice.REQUIRED;
                return inner.chat(ChatRequest.builder().messages(m)
                        .parameters(request.parameters().overrideWith(ChatRequestParameters.builder().toolChoice(choice).build())).build());
            }
        };
    }

    @Test
    void toolMethodsAreCalledAndTheirResultsAnswered() {
        Tools tools = new Tools();
        List<ChatRequest> seen = new ArrayList<>();
        Assistant assistant = AiServices.builder(Assistant.class).chatModel(callsOnce(model, seen)).tools(tools)
                .maxSequentialToolsInvocations(4).build();
        String answer = assistant.chat("What is 2 + 3, and how warm is it in Oslo?");
        assertThat(answer).isNotNull().doesNotStartWith("[");
        assertThat(tools.calls).isNotEmpty();
        assertThat(tools.calls).allMatch(c -> c.matches("add\\(-?\\d+,-?\\d+\\)") || c.matches("temperature\\((OSLO|LIMA|PERTH),(CELSIUS|FAHRENHEIT)\\)"), "typed arguments");
        // the service sent every result back before the model's answer
        ChatRequest last = seen.getLast();
        assertThat(last.messages()).filteredOn(ToolExecutionResultMessage.class::isInstance).hasSize(tools.calls.size());
        assertThat(last.toolSpecifications()).extracting(t -> t.name()).containsExactlyInAnyOrder("add", "temperature");
    }
}
