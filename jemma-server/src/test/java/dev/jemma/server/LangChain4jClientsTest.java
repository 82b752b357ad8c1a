package dev.jemma.server;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.ollama.OllamaChatModel;
import dev.langchain4j.model.ollama.OllamaStreamingChatModel;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Unmodified LangChain4j Ollama and OpenAI clients chat (blocking and streaming) with a loopback server. */
class LangChain4jClientsTest {
    @TempDir
    static Path home;
    static JemmaServer server;

    @BeforeAll
    static void start() {
        server = TestServers.start(TestServers.config(), home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @Test
    void ollamaClient() throws Exception {
        ChatModel chat = OllamaChatModel.builder().baseUrl(server.uri().toString()).modelName(TestServers.MODEL)
                .temperature(0.0).numPredict(6).timeout(Duration.ofSeconds(60)).build();
        ChatResponse r = chat.chat(dev.langchain4j.data.message.UserMessage.from("Hello"));
        assertThat(r.aiMessage().text()).isNotNull();
        assertThat(r.tokenUsage().outputTokenCount()).isBetween(1, 6);
        assertThat(r.tokenUsage().inputTokenCount()).isPositive();

        StreamingChatModel streaming = OllamaStreamingChatModel.builder().baseUrl(server.uri().toString())
                .modelName(TestServers.MODEL).temperature(0.0).numPredict(6).timeout(Duration.ofSeconds(60)).build();
        assertThat(stream(streaming)).isNotNull();
    }

    @Test
    void openAiClient() throws Exception {
        ChatModel chat = OpenAiChatModel.builder().baseUrl(server.uri() + "/v1").apiKey("unused")
                .modelName(TestServers.MODEL).temperature(0.0).maxTokens(6).timeout(Duration.ofSeconds(60)).build();
        ChatResponse r = chat.chat(dev.langchain4j.data.message.UserMessage.from("Hello"));
        assertThat(r.aiMessage().text()).isNotNull();
        assertThat(r.tokenUsage().outputTokenCount()).isBetween(1, 6);

        StreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(server.uri() + "/v1").apiKey("unused")
                .modelName(TestServers.MODEL).temperature(0.0).maxTokens(6).timeout(Duration.ofSeconds(60)).build();
        assertThat(stream(streaming)).isNotNull();
    }

    static final dev.langchain4j.agent.tool.ToolSpecification FORECAST = dev.langchain4j.agent.tool.ToolSpecification.builder()
            .name("forecast").description("Weather forecast for a city")
            .parameters(dev.langchain4j.model.chat.request.json.JsonObjectSchema.builder()
                    .addEnumProperty("city", java.util.List.of("Oslo", "Lima")).addIntegerProperty("days").required("city", "days").build())
            .build();

    private static void validCalls(dev.langchain4j.data.message.AiMessage m) throws Exception {
        assertThat(m.hasToolExecutionRequests()).isTrue();
        for (var r : m.toolExecutionRequests()) {
            assertThat(r.name()).isEqualTo("forecast");
            assertThat(r.id()).isNotBlank();
            var args = Exchange.JSON.readTree(r.arguments());
            assertThat(args.get("city").asText()).isIn("Oslo", "Lima");
            assertThat(args.get("days").isIntegralNumber()).isTrue();
        }
    }

    /** The OpenAI client sends tools and tool_choice required, reads tool_calls (blocking and streamed), sends results back. */
    @Test
    void openAiClientToolCalls() throws Exception {
        ChatModel chat = OpenAiChatModel.builder().baseUrl(server.uri() + "/v1").apiKey("unused").modelName(TestServers.MODEL)
                .temperature(1.0).maxTokens(60).timeout(Duration.ofSeconds(60)).build();
        var request = dev.langchain4j.model.chat.request.ChatRequest.builder()
                .messages(dev.langchain4j.data.message.UserMessage.from("Weather in Oslo?")).toolSpecifications(FORECAST)
                .toolChoice(dev.langchain4j.model.chat.request.ToolChoice.REQUIRED).build();
        ChatResponse r = chat.chat(request);
        if (r.finishReason() == dev.langchain4j.model.output.FinishReason.TOOL_EXECUTION) {
            validCalls(r.aiMessage());
            var call = r.aiMessage().toolExecutionRequests().getFirst();
            ChatResponse after = chat.chat(dev.langchain4j.model.chat.request.ChatRequest.builder().messages(
                    dev.langchain4j.data.message.UserMessage.from("Weather in Oslo?"), r.aiMessage(),
                    dev.langchain4j.data.message.ToolExecutionResultMessage.from(call, "sunny, 21 C")).toolSpecifications(FORECAST).build());
            assertThat(after.aiMessage()).isNotNull();
        } else {
            assertThat(r.finishReason()).isEqualTo(dev.langchain4j.model.output.FinishReason.LENGTH);
        }
        StreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(server.uri() + "/v1").apiKey("unused")
                .modelName(TestServers.MODEL).temperature(1.0).maxTokens(60).timeout(Duration.ofSeconds(60)).build();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(request, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String token) {
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse s = done.get(120, java.util.concurrent.TimeUnit.SECONDS);
        if (s.aiMessage().hasToolExecutionRequests()) validCalls(s.aiMessage());
    }

    /** The Ollama client sends tools (choice auto); over a few seeds the tiny model calls, and the client reads the calls. */
    @Test
    void ollamaClientToolCalls() throws Exception {
        int calls = 0;
        for (int seed = 1; seed <= 8 && calls == 0; seed++) {
            ChatModel chat = OllamaChatModel.builder().baseUrl(server.uri().toString()).modelName(TestServers.MODEL)
                    .temperature(1.0).seed(seed).numPredict(60).timeout(Duration.ofSeconds(60)).build();
            ChatResponse r = chat.chat(dev.langchain4j.model.chat.request.ChatRequest.builder()
                    .messages(dev.langchain4j.data.message.UserMessage.from("Weather in Oslo?")).toolSpecifications(FORECAST).build());
            if (r.aiMessage().hasToolExecutionRequests()) {
                validCalls(r.aiMessage());
                calls++;
            }
        }
        assertThat(calls).isPositive();
    }

    private static String stream(StreamingChatModel model) throws Exception {
        StringBuilder partial = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        model.chat("Hello", new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String token) {
                partial.append(token);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(60, TimeUnit.SECONDS);
        assertThat(r.aiMessage().text()).isEqualTo(partial.toString());
        return partial.toString();
    }
}
