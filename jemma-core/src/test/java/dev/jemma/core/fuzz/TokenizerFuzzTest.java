package dev.jemma.core.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tokenizer.StreamDecoder;
import dev.jemma.core.tokenizer.Tokenizer;

import java.nio.file.Path;

/**
 * Fuzzes the tokenizer on the real 262 144-piece Gemma 3 vocabulary (and the fuzz seed model's 309 pieces): any text
 * encodes, with special tokens parsed or not; without them decoding gives the text back (SentencePiece with byte
 * fallback is lossless, ▁ aside, which stands for the space); the streaming decoder fed one id at a time agrees with
 * the whole decode; any id sequence decodes, and an id outside the vocabulary is a clean refusal.
 */
class TokenizerFuzzTest {
    private static Tokenizer[] tokenizers;

    private static synchronized Tokenizer[] tokenizers() {
        if (tokenizers == null) {
            Path big = GgufFuzzTest.resource("/tokenizer/gemma3-vocab.gguf"), small = GgufFuzzTest.resource("/fuzz/gemma3-micro-Q8_0.gguf");
            try (GgufFile a = GgufFile.open(big); GgufFile b = GgufFile.open(small)) {
                tokenizers = new Tokenizer[]{Tokenizer.fromGguf(a), Tokenizer.fromGguf(b)};
            }
        }
        return tokenizers;
    }

    @FuzzTest(maxDuration = "30s")
    void encodeDecode(FuzzedDataProvider data) {
        Tokenizer t = tokenizers()[data.consumeInt(0, 1)];
        boolean special = data.consumeBoolean();
        String text = data.consumeRemainingAsString();
        int[] ids = t.encode(text, false, special);
        for (int id : ids) if (id < 0 || id >= t.vocabSize()) throw new AssertionError("id " + id + " outside the vocabulary");
        String back = t.decode(ids);
        if (!special && isRoundTrippable(text) && !back.equals(text)) {
            throw new AssertionError("decode(encode(" + escape(text) + ")) = " + escape(back));
        }
        StreamDecoder d = t.newDecoder();
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(d.accept(id));
        sb.append(d.flush());
        if (!sb.toString().equals(back)) throw new AssertionError("streamed " + escape(sb.toString()) + " != " + escape(back));
    }

    @FuzzTest(maxDuration = "30s")
    void decodeIds(FuzzedDataProvider data) {
        Tokenizer t = tokenizers()[data.consumeInt(0, 1)];
        int n = data.consumeInt(0, 64);
        int[] ids = new int[n];
        boolean outside = data.consumeBoolean();
        for (int i = 0; i < n; i++) ids[i] = outside ? data.consumeInt() : data.consumeInt(0, t.vocabSize() - 1);
        Fuzzing.clean(() -> {
            String s = t.decode(ids);
            // decoded text is valid UTF-16 (invalid UTF-8 became U+FFFD)
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (Character.isHighSurrogate(c) && (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(++i)))
                        || Character.isLowSurrogate(c)) {
                    throw new AssertionError("decoded text has a lone surrogate at " + i);
                }
            }
        });
    }

    /** Text encode/decode can give back: valid UTF-16, no ▁ (the piece for a space). */
    private static boolean isRoundTrippable(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\u2581') return false;
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) return false;
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    private static String escape(String s) {
        return dev.jemma.core.Printable.of(s, 200);
    }
}
