package dev.jemma.tools.eval;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.StringJoiner;

/**
 * {@link Perplexity#run}'s figures (PPL, its error, each chunk's PPL) as the bits of their doubles, for a fixed token
 * stream: {@value #CHUNKS} chunks of {@value #CTX} tokens evaluated {@value #BATCH} at a time (two calls a chunk, the
 * second's rows scored). A {@code main} too, so a child JVM in another JIT mode can print them.
 */
final class PerplexityFigures {
    static final int CTX = 64, CHUNKS = 2, BATCH = 32;

    private PerplexityFigures() {
    }

    /** BOS, then ids spread over the vocabulary (no text needed: any tokens exercise the arithmetic). */
    static int[] tokens(Path model) {
        Tokenizer tok;
        try (GgufFile f = GgufFile.open(model)) {
            tok = Tokenizer.fromGguf(f);
        }
        int[] t = new int[CTX * CHUNKS];
        for (int i = 0; i < t.length; i++) t[i] = (int) ((1L + 7919L * (i + 1)) % tok.vocabSize());
        t[0] = tok.bosId();
        return t;
    }

    /** The figures of one run on a model loaded for it. */
    static String of(Path model, boolean exact, int threads) {
        int[] tokens = tokens(model);
        try (ThreadPool pool = new ThreadPool(threads);
             LanguageModel m = ModelLoader.load(model, new ModelLoader.Options(exact, threads, BATCH), pool)) {
            return of(m, tokens);
        }
    }

    /** The figures of one run on {@code m}. */
    static String of(LanguageModel m, int[] tokens) {
        Perplexity.Result r = Perplexity.run(m, tokens, CTX, tokens[0], true, BATCH, null, null);
        StringJoiner s = new StringJoiner(" ");
        s.add("ppl=" + Long.toHexString(Double.doubleToRawLongBits(r.ppl())) + " (" + r.ppl() + ")");
        s.add("error=" + Long.toHexString(Double.doubleToRawLongBits(r.pplError())));
        for (double c : r.chunkPpl()) s.add(Long.toHexString(Double.doubleToRawLongBits(c)));
        return s.toString();
    }

    /** Arguments: MODEL EXACT THREADS; prints the figures. */
    public static void main(String[] args) {
        System.out.println(of(Path.of(args[0]), Boolean.parseBoolean(args[1]), Integer.parseInt(args[2])));
    }
}
