package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.tools.eval.Perplexity;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code jemma perplexity MODEL -f TEXT [-c 512] [--kl-divergence-base F [--kl-divergence]]}: llama-perplexity's
 * method, flags and base-file format (see {@link Perplexity}).
 */
@Command(name = "perplexity", mixinStandardHelpOptions = true,
        description = "Perplexity of a text (llama-perplexity's method), and KL divergence against a base model's saved log-probabilities.")
final class PerplexityCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file or model name")
    String model;

    @Option(names = {"-f", "--file"}, paramLabel = "TEXT", description = "UTF-8 text file (not needed with --kl-divergence: the base file holds the tokens)")
    Path file;

    @Option(names = {"-c", "--ctx-size"}, paramLabel = "N", description = "chunk length in tokens (default 512)")
    int nCtx = 512;

    @Option(names = {"-b", "--batch-size"}, paramLabel = "N", description = "tokens per forward pass (default 64)")
    int batch = 64;

    @Option(names = "--kl-divergence-base", paramLabel = "F", description = "file of base log-probabilities: written, or read with --kl-divergence")
    Path klBase;

    @Option(names = "--kl-divergence", description = "compare MODEL with the base log-probabilities in --kl-divergence-base")
    boolean kl;

    @Option(names = "--exact", description = "dequantize weights exactly and compute in f32")
    boolean exact;

    @Option(names = {"-t", "--threads"}, paramLabel = "THREADS", description = "threads (default: all cores)")
    int threads = ThreadPool.defaultThreads();

    @Override
    public Integer call() throws IOException {
        if (kl && klBase == null) throw new JemmaException("--kl-divergence needs --kl-divergence-base F");
        if (!kl && klBase != null) OutputFile.check(klBase, "--kl-divergence-base");
        if (!kl && file == null) throw new JemmaException("-f TEXT is required (the text to score)");
        if (batch < 1) throw new JemmaException("-b: batch size must be positive, got " + batch);
        Path path = ModelPaths.resolve(model);
        Tokenizer tok;
        try (GgufFile f = GgufFile.open(path)) {
            ModelLoader.requireSupported(f);
            tok = Tokenizer.fromGguf(f);
        }
        String text = kl ? null : readUtf8(file);
        long t0 = System.nanoTime();
        ProgressLine bar = new ProgressLine(System.err, "perplexity");
        threads = Threads.resolve(threads, 1);
        try (ThreadPool pool = new ThreadPool(threads);
             LanguageModel m = ModelLoader.load(path, new ModelLoader.Options(exact, threads, Math.min(batch, Math.max(nCtx, 1))), pool)) {
            int b = Math.min(batch, m.maxBatch());
            Perplexity.Listener l = (done, total, ppl) -> bar.update(done, total, String.format(Locale.ROOT, "[%d/%d] PPL %.4f", done, total, ppl));
            if (kl) {
                Perplexity.KldResult r = Perplexity.kld(m, klBase, tok.bosId(), tok.addsBos(), b, l);
                bar.finish();
                System.out.printf(Locale.ROOT, "chunks: %d of %d tokens, %d scored tokens%n", r.chunks(), r.nCtx(), r.count());
                System.out.printf(Locale.ROOT, "Mean PPL(Q)                   : %10.6f ± %10.6f%n", r.ppl(), r.pplError());
                System.out.printf(Locale.ROOT, "Mean PPL(base)                : %10.6f ± %10.6f%n", r.basePpl(), r.basePplError());
                System.out.printf(Locale.ROOT, "Mean ln(PPL(Q)/PPL(base))     : %10.6f%n", r.meanLnPplRatio());
                System.out.printf(Locale.ROOT, "Mean    KLD: %10.6f ± %10.6f%n", r.meanKld(), r.meanKldError());
                System.out.printf(Locale.ROOT, "Maximum KLD: %10.6f%n", r.maxKld());
                System.out.printf(Locale.ROOT, "99.0%%   KLD: %10.6f%n", r.p99Kld());
                System.out.printf(Locale.ROOT, "Median  KLD: %10.6f%n", r.medianKld());
                System.out.printf(Locale.ROOT, "RMS Δp    : %6.3f %%%n", 100 * r.rmsDeltaP());
                System.out.printf(Locale.ROOT, "Same top p: %6.3f ± %5.3f %%%n", 100 * r.sameTop(), 100 * r.sameTopError());
            } else {
                int[] tokens = tok.encode(text, tok.addsBos(), false);
                Perplexity.Result r = Perplexity.run(m, tokens, nCtx, tok.bosId(), tok.addsBos(), b, klBase, l);
                bar.finish();
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < r.chunkPpl().length; i++) sb.append(String.format(Locale.ROOT, "[%d]%.4f,", i + 1, r.chunkPpl()[i]));
                System.out.println(sb);
                System.out.printf(Locale.ROOT, "chunks: %d of %d tokens, %d scored tokens (of %d)%n", r.chunks(), r.nCtx(), r.count(), tokens.length);
                System.out.printf(Locale.ROOT, "Final estimate: PPL = %.4f +/- %.5f%n", r.ppl(), r.pplError());
                if (klBase != null) System.err.println("jemma: saved base log-probabilities to " + klBase);
            }
        } finally {
            bar.finish();
        }
        System.err.printf(Locale.ROOT, "jemma: perplexity took %.1fs%n", (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    private static String readUtf8(Path p) throws IOException {
        if (!Files.isRegularFile(p)) throw new JemmaException(p + (Files.isDirectory(p) ? ": is a directory, not a file" : ": no such file"));
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(p))).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new JemmaException(p + ": not valid UTF-8");
        }
    }
}
