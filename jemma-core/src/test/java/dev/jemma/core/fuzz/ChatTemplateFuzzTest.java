package dev.jemma.core.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.chat.ChatTemplate;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Fuzzes the chat-template renderer: any conversation (roles in any order, any content) renders with Gemma's template
 * — the built-in writer and the file's Jinja source alike — or is refused with one line; any template source (a model
 * file's {@code tokenizer.chat_template} is untrusted) renders or is refused, within bounded output and time.
 */
class ChatTemplateFuzzTest {
    private static final String GEMMA;

    static {
        try {
            GEMMA = new ObjectMapper().readTree(GgufFuzzTest.resource("/tokenizer/chat-template.json").toFile()).get("chat_template").asText();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static final String[] ROLES = {"system", "user", "assistant", "tool", "model", ""};

    private static List<ChatMessage> conversation(FuzzedDataProvider data) {
        List<ChatMessage> messages = new ArrayList<>();
        int n = data.consumeInt(0, 8);
        for (int i = 0; i < n; i++) {
            String role = data.consumeBoolean() ? (i % 2 == 0 ? "user" : "assistant") : data.pickValue(ROLES);
            String content = data.consumeString(200);
            if (!Fuzzing.clean(() -> messages.add(new ChatMessage(role, content)))) return messages;
        }
        return messages;
    }

    @FuzzTest(maxDuration = "30s")
    void gemmaConversations(FuzzedDataProvider data) {
        boolean prompt = data.consumeBoolean();
        List<ChatMessage> messages = conversation(data);
        String[] builtIn = new String[1], jinja = new String[1];
        boolean a = Fuzzing.clean(() -> builtIn[0] = ChatTemplate.gemma("<bos>").render(messages, prompt));
        boolean b = Fuzzing.clean(() -> jinja[0] = ChatTemplate.jinja(GEMMA, "<bos>", "<eos>").render(messages, prompt));
        // the two agree on what they accept: a conversation whose roles do not alternate is refused by both
        if (a != b) {
            String why = refusal(() -> (a ? ChatTemplate.jinja(GEMMA, "<bos>", "<eos>") : ChatTemplate.gemma("<bos>")).render(messages, prompt));
            throw new AssertionError("built-in " + (a ? "renders" : "refuses") + " what the Jinja template " + (b ? "renders" : "refuses")
                    + " (roles " + messages.stream().map(ChatMessage::role).toList() + ", prompt " + prompt + "): " + why);
        }
    }

    private static String refusal(Fuzzing.Step step) {
        try {
            step.run();
            return "no refusal";
        } catch (Exception e) {
            return dev.jemma.core.Printable.line(String.valueOf(e.getMessage()));
        }
    }

    @FuzzTest(maxDuration = "30s")
    void anyTemplate(FuzzedDataProvider data) {
        boolean prompt = data.consumeBoolean();
        List<ChatMessage> messages = conversation(data);
        String source = data.consumeRemainingAsString();
        // a blank template is the caller's mistake (IllegalArgumentException): fromGguf renders the built-in format then
        if (source.isBlank()) return;
        Fuzzing.clean(() -> {
            String out = ChatTemplate.jinja(source, "<bos>", "<eos>").render(messages, prompt);
            if (out.length() > (64 << 20)) throw new AssertionError("template output of " + out.length() + " chars");
        });
    }
}
