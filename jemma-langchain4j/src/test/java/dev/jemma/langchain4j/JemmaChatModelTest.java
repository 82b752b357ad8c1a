package dev.jemma.langchain4j;

import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.JemmaException;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.PartialResponse;
import dev.langchain4j.model.chat.response.PartialResponseContext;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** JemmaChatModel on the bundled 1 MB demo model (a KJV-trained Gemma 3): real generation, no mocks. */
class JemmaChatModelTest {
    static JemmaChatModel model;

    static Path demoModel() {
        return Fixtures.demoModel();
    }

    @BeforeAll
    static void load() {
        model = JemmaChatModel.builder().modelPath(demoModel()).contextLength(512).threads(2)
                .temperature(0.0).maxOutputTokens(40).build();
    }

    @AfterAll
    static void close() {
        model.close();
    }

    static ChatRequest ask(String text) {
        return ChatRequest.builder().messages(UserMessage.from(text)).build();
    }

    @Test
    void blockingChatAnswersWithUsageAndFinishReason() {
        ChatResponse r = model.chat(ask("In the beginning"));
        assertThat(r.aiMessage().text()).isNotBlank();
        assertThat(r.tokenUsage().inputTokenCount()).isGreaterThan(3);
        assertThat(r.tokenUsage().outputTokenCount()).isBetween(1, 40);
        assertThat(r.tokenUsage().totalTokenCount())
                .isEqualTo(r.tokenUsage().inputTokenCount() + r.tokenUsage().outputTokenCount());
        assertThat(r.finishReason()).isIn(FinishReason.STOP, FinishReason.LENGTH);
        assertThat(r.metadata()).isInstanceOf(JemmaChatResponseMetadata.class);
        // the prompt tokens are the rendered chat template's: the engine tokenizes the same text
        String rendered = model.engine().renderChat(List.of(dev.jemma.core.chat.ChatMessage.user("In the beginning")), true);
        assertThat(r.tokenUsage().inputTokenCount()).isEqualTo(model.engine().tokenizer().encode(rendered, false).length);
    }

    @Test
    void greedyIsDeterministic() {
        ChatRequest req = ChatRequest.builder().messages(UserMessage.from("And God said")).temperature(0.0).maxOutputTokens(24).build();
        String a = model.chat(req).aiMessage().text();
        // another conversation in between, so the second answer does not just replay a cached state
        model.chat(ask("The LORD is my shepherd"));
        String b = model.chat(req).aiMessage().text();
        assertThat(a).isNotEmpty().isEqualTo(b);
    }

    @Test
    void maxOutputTokensGivesLength() {
        ChatResponse r = model.chat(ChatRequest.builder().messages(UserMessage.from("And God said"))
                .maxOutputTokens(3).build());
        assertThat(r.finishReason()).isEqualTo(FinishReason.LENGTH);
        assertThat(r.tokenUsage().outputTokenCount()).isEqualTo(3);
    }

    @Test
    void stopSequencesCutTheAnswer() {
        ChatRequest free = ChatRequest.builder().messages(UserMessage.from("And God said")).maxOutputTokens(40).build();
        String full = model.chat(free).aiMessage().text();
        // stop at a word from the middle of the greedy answer: the answer must end right before it
        String[] words = full.strip().split("\\s+");
        assertThat(words.length).as("answer '%s' too short for this test", full).isGreaterThanOrEqualTo(3);
        String stop = words[2];
        ChatResponse r = model.chat(ChatRequest.builder().messages(UserMessage.from("And God said")).maxOutputTokens(40)
                .stopSequences(List.of(stop)).build());
        assertThat(r.finishReason()).isEqualTo(FinishReason.STOP);
        assertThat(r.aiMessage().text()).doesNotContain(stop);
        assertThat(full).startsWith(r.aiMessage().text());
        assertThat(r.aiMessage().text().length()).isLessThan(full.length());
    }

    @Test
    void streamingConcatenatesToTheBlockingAnswer() throws Exception {
        ChatRequest req = ChatRequest.builder().messages(UserMessage.from("In the beginning")).maxOutputTokens(30).build();
        String blocking = model.chat(req).aiMessage().text();
        StringBuilder parts = new StringBuilder();
        AtomicInteger partials = new AtomicInteger(), completes = new AtomicInteger();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        model.chat(req, new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                partials.incrementAndGet();
                parts.append(partial);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                completes.incrementAndGet();
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(30, TimeUnit.SECONDS);
        Thread.sleep(50); // a second onCompleteResponse would arrive right after the first
        assertThat(completes).hasValue(1);
        assertThat(partials.get()).isGreaterThan(1);
        assertThat(parts.toString()).isEqualTo(r.aiMessage().text()).isEqualTo(blocking);
        assertThat(r.tokenUsage().outputTokenCount()).isPositive();
    }

    @Test
    void streamingCancelStopsCallbacks() throws Exception {
        CompletableFuture<Void> cancelled = new CompletableFuture<>();
        AtomicInteger after = new AtomicInteger();
        model.chat(ChatRequest.builder().messages(UserMessage.from("In the beginning")).maxOutputTokens(200).build(),
                new StreamingChatResponseHandler() {
                    @Override
                    public void onPartialResponse(PartialResponse partial, PartialResponseContext context) {
                        if (context.streamingHandle().isCancelled()) after.incrementAndGet();
                        context.streamingHandle().cancel();
                        cancelled.complete(null);
                    }

                    @Override
                    public void onCompleteResponse(ChatResponse response) {
                        after.incrementAndGet();
                    }

                    @Override
                    public void onError(Throwable error) {
                        after.incrementAndGet();
                    }
                });
        cancelled.get(30, TimeUnit.SECONDS);
        // the model is free again once the cancelled generation ends; a blocking call proves it and gives it time
        assertThat(model.chat(ask("In the beginning")).aiMessage().text()).isNotEmpty();
        assertThat(after).hasValue(0);
    }

    @Test
    void streamingReportsErrors() throws Exception {
        CompletableFuture<Throwable> error = new CompletableFuture<>();
        model.chat(ChatRequest.builder().messages(UserMessage.from(ImageContent.from("aGVsbG8=", "image/png"))).build(),
                new StreamingChatResponseHandler() {
                    @Override
                    public void onCompleteResponse(ChatResponse response) {
                        error.complete(null);
                    }

                    @Override
                    public void onError(Throwable e) {
                        error.complete(e);
                    }
                });
        assertThat(error.get(30, TimeUnit.SECONDS)).isInstanceOf(UnsupportedFeatureException.class);
    }

    @Test
    void multiTurnConversationReusesTheKvCache() {
        List<dev.langchain4j.data.message.ChatMessage> conversation = new ArrayList<>();
        conversation.add(SystemMessage.from("Answer in the words of the King James Bible."));
        conversation.add(UserMessage.from("In the beginning"));
        ChatResponse first = model.chat(conversation);
        conversation.add(first.aiMessage());
        conversation.add(UserMessage.from(TextContent.from("And the earth"), TextContent.from("was without form")));
        ChatResponse second = model.chat(conversation);
        JemmaChatResponseMetadata meta = (JemmaChatResponseMetadata) second.metadata();
        // everything before the new user turn was already in the cache
        assertThat(meta.reusedTokens()).isGreaterThanOrEqualTo(first.tokenUsage().inputTokenCount());
        assertThat(meta.reusedTokens()).isLessThan(second.tokenUsage().inputTokenCount());
        assertThat(second.aiMessage().text()).isNotEmpty();
    }

    @Test
    void unsupportedInputsFailClearly() {
        assertThatThrownBy(() -> model.chat(ChatRequest.builder().messages(UserMessage.from(ImageContent.from("aGVsbG8=", "image/png"))).build()))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("no vision tower");
        assertThatThrownBy(() -> model.chat(ChatRequest.builder().messages(UserMessage.from("hi"))
                .responseFormat(dev.langchain4j.model.chat.request.ResponseFormat.builder()
                        .type(dev.langchain4j.model.chat.request.ResponseFormatType.JSON)
                        .jsonSchema(dev.langchain4j.model.chat.request.json.JsonSchema.builder().name("answer")
                                .rootElement(dev.langchain4j.model.chat.request.json.JsonRawSchema.from("{\"type\":\"array\",\"uniqueItems\":true}"))
                                .build())
                        .build()).build()))
                .isInstanceOf(UnsupportedFeatureException.class).hasMessageContaining("'uniqueItems'");
        assertThatThrownBy(() -> model.chat(ChatRequest.builder().messages(UserMessage.from("hi")).topP(2.0).build()))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /** A JSON response format constrains decoding with core's JsonConstraint: the answer is a JSON object (prefix). */
    @Test
    void jsonResponseFormatConstrainsTheAnswer() {
        ChatResponse r = model.chat(ChatRequest.builder().messages(UserMessage.from("Give me a JSON object"))
                .responseFormat(dev.langchain4j.model.chat.request.ResponseFormat.JSON).maxOutputTokens(40).build());
        String text = r.aiMessage().text();
        assertThat(dev.jemma.core.constrain.JsonConstraint.firstError(text)).as(text).isEqualTo(-1);
        assertThat(text.strip()).startsWith("{");
        if (r.finishReason() == FinishReason.STOP) assertThat(dev.jemma.core.constrain.JsonConstraint.isCompleteObject(text)).as(text).isTrue();
        // the session goes back to the pool without the filter: a plain request is unconstrained again
        assertThat(model.chat(ChatRequest.builder().messages(UserMessage.from("hi")).maxOutputTokens(4).build()).aiMessage().text()).isNotNull();
    }

    /**
     * A JSON schema response format is enforced: every finished answer has the schema's shape (bounded fields: the demo
     * model, trained on scripture, never closes a free string).
     */
    @Test
    void jsonSchemaResponseFormatIsEnforced() throws Exception {
        var schema = dev.langchain4j.model.chat.request.json.JsonSchema.builder().name("answer")
                .rootElement(dev.langchain4j.model.chat.request.json.JsonObjectSchema.builder()
                        .addBooleanProperty("capital").addIntegerProperty("population")
                        .addEnumProperty("size", List.of("small", "big")).required("capital", "population", "size").build())
                .build();
        int finished = 0;
        for (int seed = 1; seed <= 4; seed++) {
            ChatResponse r = model.chat(ChatRequest.builder().messages(UserMessage.from("A city as JSON"))
                    .responseFormat(dev.langchain4j.model.chat.request.ResponseFormat.builder()
                            .type(dev.langchain4j.model.chat.request.ResponseFormatType.JSON).jsonSchema(schema).build())
                    .temperature(1.0).maxOutputTokens(300).build());
            if (r.finishReason() != FinishReason.STOP) continue;
            finished++;
            var doc = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.aiMessage().text());
            assertThat(doc.get("capital").isBoolean()).as(r.aiMessage().text()).isTrue();
            assertThat(doc.get("population").isIntegralNumber()).as(r.aiMessage().text()).isTrue();
            assertThat(doc.get("size").asText()).isIn("small", "big");
        }
        assertThat(finished).isPositive();
    }

    @Test
    void concurrentRequestsGetTheirOwnSessions() throws Exception {
        ChatRequest a = ChatRequest.builder().messages(UserMessage.from("In the beginning")).maxOutputTokens(16).build();
        ChatRequest b = ChatRequest.builder().messages(UserMessage.from("And God said")).maxOutputTokens(16).build();
        String expectA = model.chat(a).aiMessage().text(), expectB = model.chat(b).aiMessage().text();
        List<CompletableFuture<String>> runs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            ChatRequest req = i % 2 == 0 ? a : b;
            runs.add(CompletableFuture.supplyAsync(() -> model.chat(req).aiMessage().text()));
        }
        for (int i = 0; i < 4; i++) {
            assertThat(runs.get(i).get(60, TimeUnit.SECONDS)).isEqualTo(i % 2 == 0 ? expectA : expectB);
        }
    }

    @Test
    void builderSeedMakesSamplingRepeatable() {
        try (JemmaChatModel seeded = JemmaChatModel.builder().modelPath(demoModel()).contextLength(128).threads(2)
                .temperature(1.0).topK(40).seed(7L).maxOutputTokens(24).build()) {
            String first = seeded.chat("In the beginning");
            seeded.chat("And God said"); // another request between: the seed applies per request
            assertThat(seeded.chat("In the beginning")).isNotEmpty().isEqualTo(first);
        }
    }

    @Test
    void missingModelFileIsAJemmaException() {
        assertThatThrownBy(() -> JemmaChatModel.builder().modelPath(Path.of("no-such-model.gguf")).build())
                .isInstanceOf(JemmaException.class).hasMessageContaining("no-such-model.gguf");
    }

    @Test
    void closeReleasesTheModel() {
        JemmaChatModel m = JemmaChatModel.builder().modelPath(demoModel()).contextLength(128).threads(1).maxOutputTokens(4).build();
        assertThat(m.chat("In the beginning")).isNotNull();
        m.close();
        assertThat(m.engine().isClosed()).isTrue();
        m.close(); // idempotent
        assertThatThrownBy(() -> m.chat("In the beginning")).isInstanceOf(IllegalStateException.class);
    }
}
