package dev.jemma.examples.rag;

import dev.jemma.langchain4j.JemmaChatModel;
import dev.jemma.langchain4j.JemmaEmbeddingModel;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.store.embedding.EmbeddingMatch;

import java.util.ArrayList;
import java.util.List;

/**
 * The answering half: retrieve the question's top-k chunks, put them in the prompt as numbered sources, let the chat
 * model answer from them, and return the answer with the sources it was given (file, score, excerpt).
 */
public final class Rag {
    /** One retrieved chunk as shown to the model and the user. */
    public record Source(int number, String file, double score, String text) {
    }

    public record Answer(String text, List<Source> sources) {
    }

    private Rag() {
    }

    public static List<Source> retrieve(DocumentIndex index, JemmaEmbeddingModel embeddings, String question, int k) {
        List<Source> out = new ArrayList<>();
        for (EmbeddingMatch<TextSegment> m : index.search(question, embeddings, k)) {
            out.add(new Source(out.size() + 1, m.embedded().metadata().getString("source"), m.score(), m.embedded().text()));
        }
        return out;
    }

    /** The prompt: the sources, numbered, then the question (Gemma folds the system text into the first user turn). */
    static String prompt(String question, List<Source> sources) {
        StringBuilder sb = new StringBuilder();
        for (Source s : sources) sb.append("[").append(s.number()).append("] (").append(s.file()).append(")\n").append(s.text().strip()).append("\n\n");
        return sb.append("Question: ").append(question).toString();
    }

    public static Answer ask(DocumentIndex index, JemmaEmbeddingModel embeddings, JemmaChatModel chat, String question, int k) {
        List<Source> sources = retrieve(index, embeddings, question, k);
        ChatResponse r = chat.chat(List.of(
                SystemMessage.from("Answer the question from the numbered sources below only, and cite them like [1]."),
                UserMessage.from(prompt(question, sources))));
        return new Answer(r.aiMessage().text(), sources);
    }
}
