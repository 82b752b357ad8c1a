package dev.jemma.core.chat;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufWriter;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * A tiny FunctionGemma-shaped model for tests: a Gemma 3 GGUF (random weights) whose tokenizer gets FunctionGemma's
 * seven special tokens (control tokens in place of unused slots, as FunctionGemma's vocabulary does; in the fixtures'
 * 1000-token vocabularies, in place of the byte tokens 0xF8–0xFE, which no UTF-8 text uses) and whose {@code tokenizer.chat_template} is FunctionGemma's template
 * ({@code functiongemma/chat_template.jinja}: declarations, calls and responses in its markup, written after Hugging
 * Face's google/functiongemma-270m-it template). Run {@code main(IN, OUT)} to write one; the server and LangChain4j
 * tests keep a copy made from gemma3-tiny-Q8_0.
 */
public final class FunctionGemmaTestModel {
    public static final List<String> TOKENS = List.of("<start_function_declaration>", "<end_function_declaration>",
            "<start_function_call>", "<end_function_call>", "<start_function_response>", "<end_function_response>", "<escape>");

    private FunctionGemmaTestModel() {
    }

    public static String template() throws IOException {
        try (InputStream in = FunctionGemmaTestModel.class.getResourceAsStream("/functiongemma/chat_template.jinja")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Writes {@code out}: {@code in}'s weights and metadata with FunctionGemma's tokens and template. */
    public static void write(Path in, Path out) throws IOException {
        try (GgufFile src = GgufFile.open(in)) {
            String[] pieces = src.getStringArray("tokenizer.ggml.tokens").clone();
            int[] types = src.getIntArray("tokenizer.ggml.token_type");
            int next = 0;
            for (int id = 0; id < pieces.length && next < TOKENS.size(); id++) {
                // unused slots, or (in the fixtures' small vocabularies) the byte tokens 0xF8-0xFE, never valid UTF-8
                boolean free = pieces[id].startsWith("<unused") || pieces[id].matches("<0xF[8-9A-E]>");
                if (free) {
                    pieces[id] = TOKENS.get(next++);
                    types[id] = 3; // control, as llama.cpp's converter marks special added tokens
                }
            }
            if (next < TOKENS.size()) throw new IllegalArgumentException(in + ": fewer than 7 unused or 0xF8-0xFE byte tokens to repurpose");
            GgufWriter w = new GgufWriter().copyMetadata(src).putStrings("tokenizer.ggml.tokens", pieces)
                    .putInts("tokenizer.ggml.token_type", types).putString("tokenizer.chat_template", template())
                    .putString("general.name", "functiongemma-tiny");
            for (GgufTensorInfo t : src.tensors().values()) {
                w.addTensor(t.name(), t.dims(), t.type(), o -> o.write(src.tensorData(t).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(out);
        }
    }

    public static void main(String[] args) throws IOException {
        write(Path.of(args[0]), Path.of(args[1]));
    }
}
