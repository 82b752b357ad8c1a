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
