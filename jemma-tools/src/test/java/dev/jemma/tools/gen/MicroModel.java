package dev.jemma.tools.gen;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufWriter;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes jemma-core's {@code src/test/resources/fuzz/gemma3-micro-Q8_0.gguf}, the fuzz harnesses' seed model: a complete Gemma 3
 * file (2 layers, width 32, random Q8_0 weights) with a 300-piece SentencePiece vocabulary (controls, the 256 byte
 * pieces, letters and a few merges) and Gemma's Jinja chat template, ~40 KB so that mutating whole files stays fast.
 * Run with jemma-tools' test class path: {@code java … dev.jemma.tools.gen.MicroModel OUT.gguf TEMPLATE.json}.
 */
public final class MicroModel {
    static final Gemma3Shape SHAPE = new Gemma3Shape("micro", 2, 32, 2, 1, 16, 64, 8, 8f, 128);

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        String template = new com.fasterxml.jackson.databind.ObjectMapper().readTree(Path.of(args[1]).toFile()).get("chat_template").asText();
        List<String> pieces = new ArrayList<>(List.of("<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"));
        List<Integer> types = new ArrayList<>(List.of(3, 3, 3, 2, 4, 3, 3));
        for (int b = 0; b < 256; b++) {
            pieces.add(String.format("<0x%02X>", b));
            types.add(6);
        }
        String[] words = {"▁", "e", "t", "a", "o", "i", "n", "s", "h", "r", "l", "d", "u", "w", "ö", "▁t", "he", "▁the", "▁a",
                "in", "er", "▁w", "or", "ld", "▁wor", "▁world", "ll", "▁he", "▁hel", "▁hello", "H", "▁H", "el", "lo", "\n", "\n\n",
                "▁model", "▁user", "us", "mo", "de", "se", "ser", "del", "od", "ode"};
        for (String w : words) {
            pieces.add(w);
            types.add(1);
        }
        int n = pieces.size();
        float[] scores = new float[n];
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            scores[i] = types.get(i) == 1 ? -i : 0;
            t[i] = types.get(i);
        }
        Path vocab = Files.createTempFile("micro-vocab", ".gguf");
        new GgufWriter().putString("general.architecture", "gemma3").putString("tokenizer.ggml.model", "llama")
                .putStrings("tokenizer.ggml.tokens", pieces.toArray(String[]::new)).putFloats("tokenizer.ggml.scores", scores)
                .putInts("tokenizer.ggml.token_type", t).putU32("tokenizer.ggml.bos_token_id", 2)
                .putU32("tokenizer.ggml.eos_token_id", 1).putU32("tokenizer.ggml.unknown_token_id", 3)
                .putU32("tokenizer.ggml.padding_token_id", 0).putBool("tokenizer.ggml.add_bos_token", true)
                .putString("tokenizer.chat_template", template).write(vocab);
        try (GgufFile v = GgufFile.open(vocab)) {
            Gemma3Generator.generate(new Gemma3Generator.Spec(SHAPE, "Q8_0", null, 22), v, out);
        }
        Files.delete(vocab);
        System.out.println(out + ": " + Files.size(out) + " bytes, " + n + " tokens");
    }
}
