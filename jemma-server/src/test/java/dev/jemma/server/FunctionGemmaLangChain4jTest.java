package dev.jemma.server;

import dev.jemma.langchain4j.JemmaChatModel;

import dev.langchain4j.agent.tool.P;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * LangChain4j tools on a FunctionGemma model in-process (JemmaChatModel on functiongemma-tiny.gguf, with Jinjava on the
 * class path as an application rendering FunctionGemma's template needs it; here because this module has it): its
 * template declares the ToolSpecifications, the calls it makes in its markup come back as ToolExecutionRequests with
 * typed arguments, and results go back as function responses.
 */
class FunctionGemmaLangChain4jTest {
    static JemmaChatModel model;

    @BeforeAll
    static void load() throws URISyntaxException {
        model = JemmaChatModel.builder().modelPath(FunctionGemmaApiTest.model()).contextLength(2048).threads(1).maxOutputTokens(300)
                .temperature(1.0).parallelToolCalls(false).build();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    interface Assistant {
        String chat(String question);
    }

    enum City { OSLO, LIMA, PERTH }

    static final class Tools {
        final List<String> calls = new ArrayList<>();

        @Tool("Adds two integers")
        long add(@P("the first addend") long a, @P("the second addend") long b) {
            calls.add("add(" + a + "," + b + ")");
            return a + b;
        }

        @Tool("Current temperature in a city")
        String temperature(@P("city") City city) {
            calls.add("temperature(" + city + ")");
            return "21 degrees";
        }
    }

    @Test
    void requiredCallsComeBackAsToolExecutionRequests() {
        ToolSpecification weather = ToolSpecification.builder().name("forecast").description("Weather forecast")
                .parameters(JsonObjectSchema.builder().addEnumProperty("city", List.of("Oslo", "Lima")).addIntegerProperty("days").required("city", "days").build()).build();
        for (int i = 0; i < 4; i++) {
            ChatResponse r = model.chat(ChatRequest.builder().messages(UserMessage.from("Weather in Oslo?"))
                    .parameters(ChatRequestParameters.builder().toolSpecifications(weather).toolChoice(ToolChoice.REQUIRED).build()).build());
            assertThat(r.finishReason()).isEqualTo(FinishReason.TOOL_EXECUTION);
            AiMessage ai = r.aiMessage();
            assertThat(ai.toolExecutionRequests()).isNotEmpty();
            for (ToolExecutionRequest call : ai.toolExecutionRequests()) {
                assertThat(call.name()).isEqualTo("forecast");
                assertThat(call.arguments()).matches("\\{\"city\":\"(Oslo|Lima)\",\"days\":-?\\d+}");
            }
            List<ChatMessage> back = new ArrayList<>(List.of(UserMessage.from("Weather in Oslo?"), ai));
            for (ToolExecutionRequest call : ai.toolExecutionRequests()) back.add(ToolExecutionResultMessage.from(call, "{\"sky\":\"clear\"}"));
            ChatResponse answer = model.chat(ChatRequest.builder().messages(back)
                    .parameters(ChatRequestParameters.builder().toolSpecifications(weather).toolChoice(ToolChoice.NONE).maxOutputTokens(20).build()).build());
            assertThat(answer.aiMessage().hasToolExecutionRequests()).isFalse();
            assertThat(answer.aiMessage().text()).isNotNull().doesNotContain("<start_function_call>");
        }
    }

    /** An AI Service whose model must call on a fresh question and answers in text once it has the results. */
    @Test
    void aiServiceToolMethodsRunOnFunctionGemma() {
        Tools tools = new Tools();
        List<ChatRequest> seen = new ArrayList<>();
        ChatModel callsOnce = new ChatModel() {
            @Override
            public ChatResponse doChat(ChatRequest request) {
                seen.add(request);
                List<ChatMessage> m = request.messages();
                ToolChoice choice = m.getLast() instanceof ToolExecutionResultMessage ? ToolChoice.NONE : ToolChoice.REQUIRED;
                return model.chat(ChatRequest.builder().messages(m)
                        .parameters(request.parameters().overrideWith(ChatRequestParameters.builder().toolChoice(choice).build())).build());
            }
        };
        Assistant assistant = AiServices.builder(Assistant.class).chatModel(callsOnce).tools(tools).maxSequentialToolsInvocations(4).build();
        String answer = assistant.chat("What is 2 + 3, and how warm is it in Oslo?");
        assertThat(answer).isNotNull().doesNotContain("<start_function_call>");
        assertThat(tools.calls).isNotEmpty();
        assertThat(tools.calls).allMatch(c -> c.matches("add\\(-?\\d+,-?\\d+\\)") || c.matches("temperature\\((OSLO|LIMA|PERTH)\\)"), "typed arguments");
        assertThat(seen.getLast().messages()).filteredOn(ToolExecutionResultMessage.class::isInstance).hasSize(tools.calls.size());
    }
}
