package dev.jemma.core.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.JemmaException;
import dev.jemma.core.chat.ChatImage;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.MultimodalFixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Images through the public API: a user message with an image part gives HF's greedy continuation (the prompt is
 * built, expanded and tokenized the way HF's processor does it), pan-and-scan included; images stay encoded across
 * turns; models without a vision tower refuse images.
 */
class EngineVisionTest {
    private static final GenerationOptions GREEDY = GenerationOptions.builder().temperature(0f).maxTokens(16).ignoreEos(true).build();

    private static Path file(String rel) {
        return MultimodalFixtures.file(rel);
    }

    /** The case's content without its image marker when the marker leads (a plain [image, text] message). */
    private static ChatMessage message(JsonNode c) {
        String content = c.get("prompt").get("content").asText();
        List<ChatImage> images = List.of(ChatImage.read(file(c.get("images").get(0).asText())));
        String leading = "<start_of_image>";
        return content.startsWith(leading) ? ChatMessage.user(content.substring(leading.length()), images) : ChatMessage.user(content, images);
    }

    @ParameterizedTest
    @ValueSource(strings = {"square", "wide", "wide_pas"})
    void anImageMessageGivesHfsGreedyIds(String caseName) {
        JsonNode c = MultimodalFixtures.model().get("cases").get(caseName), v = c.get("variants").get("F32");
        boolean pas = c.get("prompt").path("pan_and_scan").asBoolean(false);
        EngineOptions o = EngineOptions.builder().exact(true).threads(2).mmproj(file(v.get("mmproj_gguf").asText())).panAndScan(pas).build();
        try (Engine e = Engine.load(file(v.get("text_gguf").asText()), o); Session s = e.newSession()) {
            assertThat(e.supportsImages()).isTrue();
            assertThat(e.tokensPerImage()).isEqualTo(16);
            Generation g = s.generate(List.of(message(c)), GREEDY, TokenListener.NONE);
            assertThat(g.promptTokens()).isEqualTo(c.get("prompt").get("n_tokens").asInt());
            assertThat(g.tokens()).containsExactly(Fixtures.ints(v.get("greedy_ids")));
        }
    }

    @Test
    void theMmprojBesideTheModelIsFoundAndImagesStayEncodedAcrossTurns() {
        JsonNode c = MultimodalFixtures.model().get("cases").get("square"), v = c.get("variants").get("F32");
        EngineOptions o = EngineOptions.builder().threads(2).build();
        try (Engine e = Engine.load(file(v.get("text_gguf").asText()), o); Session s = e.newSession()) {
            assertThat(e.visionFile().getFileName().toString()).isEqualTo("mmproj-gemma3-vision-tiny-F32.gguf");
            Generation first = s.chat(message(c), GREEDY, TokenListener.NONE);
            assertThat(first.tokens()).containsExactly(Fixtures.ints(v.get("greedy_ids")));
            Generation second = s.chat(ChatMessage.user("And the colours?"), GREEDY, TokenListener.NONE);
            // the second turn re-reads only itself: the image's tokens come from the cache (all but the last answer
            // token, which was sampled but never fed back)
            assertThat(second.reusedTokens()).isGreaterThanOrEqualTo(first.promptTokens() + first.tokens().length - 1);
            // the same conversation sent whole (what a server gets) reuses everything before the new turn as well
            List<ChatMessage> conv = List.of(message(c), ChatMessage.assistant(first.text()), ChatMessage.user("And the colours?"),
                    ChatMessage.assistant(second.text()), ChatMessage.user("Thanks."));
            Generation third = s.generate(conv, GREEDY, TokenListener.NONE);
            assertThat(third.reusedTokens()).isGreaterThan(first.promptTokens());
            // a different image in the same place is not mistaken for the cached one
            ChatImage other = ChatImage.read(file("gemma3-vision-tiny/media/wide-960x320.png"));
            Generation fresh = s.generate(List.of(ChatMessage.user("Describe this picture in one short sentence.", List.of(other))), GREEDY, TokenListener.NONE);
            assertThat(fresh.reusedTokens()).isLessThan(c.get("prompt").get("image_soft_token_blocks").get(0).get(0).asInt() + 1);
        }
    }

    @Test
    void imagesAreRefusedClearly() {
        ChatImage png = ChatImage.read(file("gemma3-vision-tiny/media/square-224x224.png"));
        Path textOnly = Fixtures.shared().resolve("gemma3-tiny").resolve("gemma3-tiny-F32.gguf");
        try (Engine e = Engine.load(textOnly, EngineOptions.builder().threads(2).build()); Session s = e.newSession()) {
            assertThat(e.supportsImages()).isFalse();
            assertThatThrownBy(() -> s.generate(List.of(ChatMessage.user("hi", List.of(png))), GREEDY, TokenListener.NONE))
                    .isInstanceOf(JemmaException.class).hasMessageContaining("no vision tower");
        }
        JsonNode v = MultimodalFixtures.model().get("cases").get("square").get("variants").get("F32");
        try (Engine e = Engine.load(file(v.get("text_gguf").asText()), EngineOptions.builder().threads(2).mmproj(file(v.get("mmproj_gguf").asText())).build());
             Session s = e.newSession()) {
            ChatImage bad = ChatImage.of("this is text".getBytes(), "notes.png");
            assertThatThrownBy(() -> s.chat(ChatMessage.user("look", List.of(bad)), GREEDY, TokenListener.NONE))
                    .isInstanceOf(JemmaException.class).hasMessageStartingWith("notes.png: not a supported image");
            assertThat(s.history()).isEmpty();
            assertThatThrownBy(() -> s.generate(List.of(ChatMessage.user("<start_of_image><start_of_image> two markers", List.of(png))), GREEDY, TokenListener.NONE))
                    .isInstanceOf(JemmaException.class).hasMessageContaining("2 <start_of_image> markers but only 1 image");
        }
    }

    /**
     * Image prompts go through the continuous-batching scheduler like text: alone, in steps of 16 rows (one image's
     * tokens, so chunks end before or after the image run, never inside), they give HF's greedy ids; run concurrently
     * with other image and text sessions they share steps and give the same tokens as alone.
     */
    @Test
    void imagePromptsShareTheSchedulersSteps() throws Exception {
        JsonNode square = MultimodalFixtures.model().get("cases").get("square"), v = square.get("variants").get("F32");
        JsonNode wide = MultimodalFixtures.model().get("cases").get("wide");
        EngineOptions o = EngineOptions.builder().exact(true).threads(2).maxBatch(16).mmproj(file(v.get("mmproj_gguf").asText())).build();
        try (Engine e = Engine.load(file(v.get("text_gguf").asText()), o)) {
            List<List<ChatMessage>> convs = List.of(List.of(message(square)), List.of(message(wide)),
                    List.of(ChatMessage.user("What is the capital of France?")), List.of(message(square)),
                    List.of(ChatMessage.user("Tell me a story about a lighthouse.")));
            List<int[]> alone = new java.util.ArrayList<>();
            for (List<ChatMessage> c : convs) {
                try (Session s = e.newSession()) {
                    long rowsBefore = e.batchStatistics()[1];
                    Generation g = s.generate(c, GREEDY, TokenListener.NONE);
                    // every prompt row, image rows included, and each generated token but the last ran as a scheduler step
                    assertThat(e.batchStatistics()[1] - rowsBefore).isEqualTo(g.promptTokens() + g.tokens().length - 1);
                    alone.add(g.tokens());
                }
            }
            assertThat(alone.get(0)).containsExactly(Fixtures.ints(v.get("greedy_ids")));
            assertThat(alone.get(1)).containsExactly(Fixtures.ints(wide.get("variants").get("F32").get("greedy_ids")));
            long[] before = e.batchStatistics();
            java.util.concurrent.ExecutorService ex = java.util.concurrent.Executors.newFixedThreadPool(convs.size());
            java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
            FirstTokenMeeting meeting = new FirstTokenMeeting(convs.size());
            List<java.util.concurrent.Future<int[]>> futures = new java.util.ArrayList<>();
            for (List<ChatMessage> c : convs) {
                futures.add(ex.submit(() -> {
                    try (Session s = e.newSession(); FirstTokenMeeting.Seat seat = meeting.seat()) {
                        start.await();
                        return s.generate(c, GREEDY, seat).tokens();
                    }
                }));
            }
            start.countDown();
            for (int i = 0; i < convs.size(); i++) assertThat(futures.get(i).get()).as("conversation %d batched", i).isEqualTo(alone.get(i));
            ex.shutdown();
            assertThat(e.batchStatistics()[2] - before[2]).as("steps serving several sequences").isPositive();
        }
    }
}
