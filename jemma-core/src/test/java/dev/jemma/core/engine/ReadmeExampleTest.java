package dev.jemma.core.engine;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The README's Java example, line for line, on the tiny model kept in test resources. */
class ReadmeExampleTest {
    @Test
    void readmeExampleRuns() throws Exception {
        Path model = Path.of(ReadmeExampleTest.class.getResource("/models/gemma3-tiny-Q4_0.gguf").toURI());
        StringBuilder streamed = new StringBuilder();

        EngineOptions options = EngineOptions.builder()
                .contextLength(4096)       // tokens per conversation (prompt + answers)
                .maxTokens(256)            // default answer length
                .temperature(0.7f).topK(64).seed(42)
                .build();
        Generation first, second, third;
        try (Engine gemma = Engine.load(model, options);
             Session chat = gemma.newSession("You are a concise assistant.")) {
            first = chat.chat("What is the capital of France?");
            second = chat.chat("And of Italy?", token -> streamed.append(token.text()));
            GenerationOptions greedy = GenerationOptions.builder().temperature(0f).maxTokens(32).build();
            third = chat.chat("Spell it backwards.", greedy, TokenListener.NONE);
            assertThat(chat.history()).hasSize(6);
        }
        assertThat(first.tokens().length).isBetween(0, 256);
        assertThat(streamed.toString()).isEqualTo(second.text());
        assertThat(second.reusedTokens()).isGreaterThan(0);
        assertThat(third.tokens().length).isLessThanOrEqualTo(32);

        // the README really contains this example
        Path file = Path.of("..", "README.md");
        if (Files.exists(file)) {
            String text = Files.readString(file);
            assertThat(text).contains("Engine.load(Path.of(\"gemma-3-1b-it-Q4_0.gguf\"), options)")
                    .contains("chat.chat(\"And of Italy?\", token -> System.out.print(token.text()));")
                    .contains(".temperature(0.7f).topK(64).seed(42)");
        }
    }
}
