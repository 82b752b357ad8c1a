package dev.jemma.cli;

import dev.jemma.core.gguf.GgufWriter;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Runs the CLI in-process, capturing stdout and stderr (tests in this package run one at a time). */
final class CliTestSupport {
    record Result(int exitCode, String out, String err) {
    }

    private CliTestSupport() {
    }

    static synchronized Result run(String stdin, String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        InputStream oldIn = System.in;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            System.setIn(new ByteArrayInputStream((stdin == null ? "" : stdin).getBytes(StandardCharsets.UTF_8)));
            int rc = Main.run(args);
            System.out.flush();
            System.err.flush();
            return new Result(rc, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
            System.setIn(oldIn);
        }
    }

    /**
     * The metadata of a 100-token Gemma 3 vocabulary file (tokens t0 … t99, BOS 2, EOS 1, SentencePiece-style): what the
     * tests build their tiny generated models on. Callers add keys of their own before {@code write}.
     */
    static GgufWriter tinyVocab() {
        String[] tokens = new String[100];
        float[] scores = new float[100];
        int[] types = new int[100];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = "t" + i;
            scores[i] = -i;
            types[i] = 1;
        }
        return new GgufWriter().putString("general.architecture", "gemma3").putString("tokenizer.ggml.model", "llama")
                .putStrings("tokenizer.ggml.tokens", tokens).putFloats("tokenizer.ggml.scores", scores)
                .putInts("tokenizer.ggml.token_type", types).putU32("tokenizer.ggml.bos_token_id", 2)
                .putU32("tokenizer.ggml.eos_token_id", 1);
    }
}
