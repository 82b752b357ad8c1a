package dev.jemma.langchain4j;

import dev.langchain4j.agent.tool.ToolExecutionRequest;
import dev.langchain4j.agent.tool.ToolSpecification;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ToolExecutionResultMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ToolChoice;
import dev.langchain4j.model.chat.request.json.JsonObjectSchema;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** LangChain4j tool specifications in-process: calls parse, their arguments have the declared shape, results go back. */
class JemmaToolsTest {
    static JemmaChatModel model;
    static final ToolSpecification ADD = ToolSpecification.builder().name("add").description("Adds two numbers")
            .parameters(JsonObjectSchema.builder().addIntegerProperty("a").addIntegerProperty("b").required("a", "b").build()).build();
    static final ToolSpecification MODE = ToolSpecification.builder().name("set_mode").description("Sets the mode")
            .parameters(JsonObjectSchema.builder().addEnumProperty("mode", List.of("fast", "slow")).required("mode").build()).build();

    @BeforeAll
    static void load() {
        model = JemmaChatModel.builder().modelPath(JemmaChatModelTest.demoModel()).contextLength(2048).threads(2).maxOutputTokens(300).parallelToolCalls(false).build();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static void validCalls(AiMessage m) throws Exception {
        assertThat(m.hasToolExecutionRequests()).isTrue();
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (ToolExecutionRequest r : m.toolExecutionRequests()) {
            var args = json.readTree(r.arguments());
            if (r.name().equals("add")) {
                assertThat(args.get("a").isIntegralNumber()).as(r.arguments()).isTrue();
                assertThat(args.get("b").isIntegralNumber()).as(r.arguments()).isTrue();
            } else {
                assertThat(r.name()).isEqualTo("set_mode");
                assertThat(args.get("mode").asText()).isIn("fast", "slow");
            }
        }
    }

    @Test
    void requiredToolChoiceGivesToolExecutionRequests() throws Exception {
        int calls = 0;
        for (int i = 0; i < 4; i++) {
            ChatResponse r = model.chat(ChatRequest.builder().messages(UserMessage.from("What is 2 + 3?")).toolSpecifications(ADD, MODE)
                    .toolChoice(ToolChoice.REQUIRED).temperature(1.0).maxOutputTokens(300).build());
            if (r.finishReason() != FinishReason.TOOL_EXECUTION) continue;
            calls++;
            validCalls(r.aiMessage());
        }
        assertThat(calls).isPositive();
    }

    @Test
    void streamingDeliversCallsInTheCompleteResponse() throws Exception {
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        StringBuilder partial = new StringBuilder();
        model.chat(ChatRequest.builder().messages(UserMessage.from("Go fast")).toolSpecifications(MODE).toolChoice(ToolChoice.REQUIRED)
                .temperature(1.0).build(), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String s) {
                partial.append(s);
            }

            @Override
            public void onCompleteResponse(ChatResponse r) {
                done.complete(r);
            }

            @Override
            public void onError(Throwable t) {
                done.completeExceptionally(t);
            }
        });
        ChatResponse r = done.get(120, TimeUnit.SECONDS);
        if (r.finishReason() == FinishReason.TOOL_EXECUTION) {
            validCalls(r.aiMessage());
            assertThat(partial.toString()).as("calls are not streamed as text").isEmpty();
        }
    }

    @Test
    void toolResultsGoBackIntoTheConversation() {
        AiMessage call = AiMessage.from(ToolExecutionRequest.builder().id("call_1").name("add").arguments("{\"a\":2,\"b\":3}").build());
        ChatResponse r = model.chat(ChatRequest.builder().messages(UserMessage.from("What is 2 + 3?"), call,
                ToolExecutionResultMessage.from("call_1", "add", "5")).toolSpecifications(ADD).maxOutputTokens(16).build());
        assertThat(r.finishReason()).isIn(FinishReason.STOP, FinishReason.LENGTH, FinishReason.TOOL_EXECUTION);
    }
}
