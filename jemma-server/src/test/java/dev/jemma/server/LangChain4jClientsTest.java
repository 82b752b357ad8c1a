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
                .temperature(1.0).seed(2).maxTokens(60).timeout(Duration.ofSeconds(60)).build();
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

    /**
     * The Ollama client (whose API has no tool_choice: auto) sends tools, an earlier call and its result; the answer is
     * text or calls that validate. (The tiny model's random weights choose text; forced calls through /api/chat are
     * in ToolCallingApiTest.)
     */
    @Test
    void ollamaClientTools() throws Exception {
        var call = dev.langchain4j.agent.tool.ToolExecutionRequest.builder().id("call_1").name("forecast")
                .arguments("{\"city\":\"Oslo\",\"days\":2}").build();
        for (int seed = 1; seed <= 3; seed++) {
            ChatModel chat = OllamaChatModel.builder().baseUrl(server.uri().toString()).modelName(TestServers.MODEL)
                    .temperature(1.0).seed(seed).numPredict(40).timeout(Duration.ofSeconds(60)).build();
            ChatResponse r = chat.chat(dev.langchain4j.model.chat.request.ChatRequest.builder()
                    .messages(dev.langchain4j.data.message.UserMessage.from("Weather in Oslo?"),
                            dev.langchain4j.data.message.AiMessage.from(call),
                            dev.langchain4j.data.message.ToolExecutionResultMessage.from(call, "sunny, 21 C"),
                            dev.langchain4j.data.message.UserMessage.from("And in Lima?"))
                    .toolSpecifications(FORECAST).build());
            if (r.aiMessage().hasToolExecutionRequests()) validCalls(r.aiMessage());
            else assertThat(r.aiMessage().text()).isNotNull().doesNotStartWith("[");
        }
    }

    interface Forecaster {
        String ask(String question);
    }

    static final class WeatherTools {
        final java.util.List<String> calls = new java.util.ArrayList<>();

        enum City { OSLO, LIMA }

        @dev.langchain4j.agent.tool.Tool("Weather forecast for a city")
        String forecast(@dev.langchain4j.agent.tool.P("city") City city, @dev.langchain4j.agent.tool.P("days ahead") int days) {
            calls.add(city + "/" + days);
            return "sunny for " + days + " days in " + city;
        }
    }

    /**
     * An AI Service with a {@code @Tool} method through the unmodified OpenAI client: the call arrives as tool_calls, the
     * method runs with typed arguments, its result goes back as a tool message and the model answers. The model must call
     * on the question (tool_choice required) and may answer after a result (auto); the tiny model's random weights would
     * never choose a call by themselves.
     */
    @Test
    void aiServiceToolRoundTripOverOpenAiClient() {
        ChatModel openAi = OpenAiChatModel.builder().baseUrl(server.uri() + "/v1").apiKey("unused").modelName(TestServers.MODEL)
                .temperature(1.0).seed(5).maxTokens(200).timeout(Duration.ofSeconds(60)).build();
        java.util.List<dev.langchain4j.model.chat.request.ChatRequest> seen = new java.util.ArrayList<>();
        ChatModel callsOnce = new ChatModel() {
            @Override
            public ChatResponse doChat(dev.langchain4j.model.chat.request.ChatRequest request) {
                seen.add(request);
                boolean answered = request.messages().getLast() instanceof dev.langchain4j.data.message.ToolExecutionResultMessage;
                var choice = answered ? dev.langchain4j.model.chat.request.ToolChoice.AUTO : dev.langchain4j.model.chat.request.ToolChoice.REQUIRED;
                return openAi.chat(dev.langchain4j.model.chat.request.ChatRequest.builder().messages(request.messages())
                        .parameters(request.parameters().overrideWith(dev.langchain4j.model.chat.request.ChatRequestParameters.builder()
                                .toolChoice(choice).build())).build());
            }
        };
        WeatherTools tools = new WeatherTools();
        Forecaster f = dev.langchain4j.service.AiServices.builder(Forecaster.class).chatModel(callsOnce).tools(tools)
                .maxSequentialToolsInvocations(4).build();
        String answer = f.ask("Weather in Oslo for 3 days?");
        assertThat(answer).isNotNull().doesNotStartWith("[");
        assertThat(tools.calls).isNotEmpty().allMatch(c -> c.matches("(OSLO|LIMA)/-?\\d+"));
        assertThat(seen.getLast().messages()).filteredOn(dev.langchain4j.data.message.ToolExecutionResultMessage.class::isInstance)
                .hasSize(tools.calls.size());
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
