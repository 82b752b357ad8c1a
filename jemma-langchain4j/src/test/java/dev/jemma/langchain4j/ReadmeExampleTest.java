package dev.jemma.langchain4j;

import dev.langchain4j.data.message.*;
import dev.langchain4j.model.chat.response.*;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** Runs the README's LangChain4j example and checks the README still shows exactly this code. */
class ReadmeExampleTest {
    private static final String BEGIN = "// README-EXAMPLE-BEGIN";
    private static final String END = "// README-EXAMPLE-END";

    /** The README example from {@code try (} on; {@code gguf} is the demo model bundled with the tests. */
    static void example(Path gguf) {
        // README-EXAMPLE-BEGIN
        try (JemmaChatModel model = JemmaChatModel.builder()
                .modelPath(gguf)
                .contextLength(2048)
                .temperature(0.0)                        // greedy: the same answer every time
                .maxOutputTokens(48)
                .build()) {
            // blocking
            ChatResponse first = model.chat(List.of(UserMessage.from("In the beginning")));
            System.out.println(first.aiMessage().text() + "\n" + first.tokenUsage() + " " + first.finishReason());
            // streaming, on a virtual thread; the first exchange is already in the KV cache
            List<ChatMessage> next = List.of(UserMessage.from("In the beginning"), first.aiMessage(), UserMessage.from("And God said"));
            CompletableFuture<ChatResponse> done = new CompletableFuture<>();
            model.chat(next, new StreamingChatResponseHandler() {
                public void onPartialResponse(String text) { System.out.print(text); }
                public void onCompleteResponse(ChatResponse response) { done.complete(response); }
                public void onError(Throwable error) { done.completeExceptionally(error); }
            });
            System.out.println("\n" + done.join().metadata());
        }
        // README-EXAMPLE-END
    }

    @Test
    void exampleRunsAndPrintsBothAnswers() {
        PrintStream saved = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            example(JemmaChatModelTest.demoModel());
        } finally {
            System.setOut(saved);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        assertThat(out).contains("TokenUsage { inputTokenCount = ").contains("LENGTH");
        // the streamed answer's metadata shows the first exchange came from the KV cache
        assertThat(out).containsPattern("reusedTokens = [1-9][0-9]*");
        // the metadata line follows a non-empty streamed answer
        String[] lines = out.strip().split("\n");
        assertThat(lines[lines.length - 1]).startsWith("ChatResponseMetadata{");
        assertThat(lines[lines.length - 2]).isNotBlank();
    }

    @Test
    void readmeShowsThisCode() throws IOException {
        String readme = Files.readString(Path.of("../README.md"));
        int section = readme.indexOf("### With LangChain4j");
        assertThat(section).as("README section").isNotNegative();
        int start = readme.indexOf("try (JemmaChatModel", section);
        int end = readme.indexOf("```", start);
        List<String> shown = strip(readme.substring(start, end));
        String source = Files.readString(Path.of("src/test/java/dev/jemma/langchain4j/ReadmeExampleTest.java"));
        String body = source.substring(source.indexOf(BEGIN + "\n") + BEGIN.length() + 1, source.indexOf("        " + END));
        assertThat(shown).isEqualTo(strip(body));
    }

    private static List<String> strip(String s) {
        return Arrays.stream(s.split("\n")).map(String::strip).filter(l -> !l.isEmpty()).toList();
    }
}
