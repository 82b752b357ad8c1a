package dev.jemma.core.engine;

import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The bundled demo model is chat-tuned (tools/qat, docs/QAT.md): every answer ends, within a short answer's length,
 * whatever the user writes, and nearly always with {@code <end_of_turn>} itself — greedily, with Gemma's default
 * sampler (temperature 1, top-k 64, top-p 0.95, what the engine uses when a request sets nothing) and at the web
 * page's temperature 0.7, seeded; each with the file's recommended repeat penalty (1.3), without which a greedy answer
 * of this tiny model loops.
 * None of these prompts is among the training conversations' questions (tools/qat/chat_data.py). The model it
 * replaced, a base model, wrote until the context was full in about two answers of five.
 */
class DemoModelEndsTest {
    private static final Path DEMO = Fixtures.demoModel();
    /** A short answer is 1–3 verses (at most ~160 tokens in training); 256 leaves room and still catches a run-on. */
    private static final int LIMIT = 256;
    private static final List<String> PROMPTS = List.of(
            "Hello, who are you?", "What is the meaning of Easter?", "Write me a short story about a dragon.",
            "How many legs does a spider have?", "Tell me about King David.", "What is faith?",
            "Explain how a computer works.", "In the beginning", "Give me advice on forgiveness.",
            "What happened to Jonah?", "Please list five fruits.", "Why do people pray?", "Sing me a song.",
            "What is the best way to learn Java?", "Who built the ark?", "Describe the city of Jerusalem.",
            "Can you help me? I lost my keys.", "Blessed are the meek", "zxqv 42 !!", "Good evening, Jemma.");

    @Test
    void everyAnswerEndsWithEndOfTurn() {
        Assumptions.assumeTrue(Files.isRegularFile(DEMO), "the demo model is not beside this checkout: " + DEMO.toAbsolutePath());
        List<String> runOn = new ArrayList<>();
        int answers = 0, byEndOfTurn = 0;
        try (Engine e = Engine.load(DEMO, EngineOptions.builder().threads(1).contextLength(1024).build())) {
            int eot = e.tokenizer().tokenId("<end_of_turn>").orElseThrow();
            List<GenerationOptions> modes = List.of(
                    GenerationOptions.builder().temperature(0f).maxTokens(LIMIT).build(),
                    GenerationOptions.builder().seed(1L).maxTokens(LIMIT).build(),
                    GenerationOptions.builder().seed(2L).temperature(0.7f).maxTokens(LIMIT).build());
            for (GenerationOptions o : modes) {
                for (String prompt : PROMPTS) {
                    int[] last = {-1};
                    try (Session s = e.newSession()) {
                        // sees every chosen token, the one that stops generation included; masks nothing
                        s.setTokenFilter(new TokenFilter() {
                            public void mask(float[] logits, int vocab) {
                            }

                            public void accept(int id) {
                                last[0] = id;
                            }
                        });
                        Generation g = s.generate(List.of(ChatMessage.user(prompt)), o, TokenListener.NONE);
                        answers++;
                        if (last[0] == eot) byEndOfTurn++;
                        // the engine's end of turn: <end_of_turn>, or rarely BOS, where a training chapter ended
                        if (g.stopReason() != StopReason.END_OF_TURN || g.text().isBlank()) {
                            runOn.add(String.format("%s (temperature %s, seed %s): %s after %d tokens, last id %d: %.120s",
                                    prompt, o.temperature(), o.seed(), g.stopReason(), g.tokens().length, last[0], g.text()));
                        }
                    }
                }
            }
        }
        assertThat(answers).isEqualTo(3 * PROMPTS.size());
        // at temperature 1 the draw follows the kernels' rounding (the vector width): one answer in 20 ran on at 256 bits
        assertThat(runOn.stream().filter(r -> !r.contains("(temperature null")).toList())
                .as("greedy or temperature-0.7 answers that did not end within %d tokens", LIMIT).isEmpty();
        assertThat(runOn).as("answers that did not end within %d tokens", LIMIT).hasSizeLessThanOrEqualTo(1);
        // 59 of 60 with the shipped model (one sampled answer wrote BOS first)
        assertThat(byEndOfTurn).as("answers ended by <end_of_turn> itself").isGreaterThanOrEqualTo(answers * 95 / 100);
    }
}
