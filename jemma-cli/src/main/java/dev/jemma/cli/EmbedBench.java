package dev.jemma.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.model.BenchTexts;
import dev.jemma.core.model.EmbeddingModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * {@code jemma bench --embed}: embedding throughput, like timing llama-embedding: for each (texts × tokens) case, one
 * call embeds that many random texts of that many tokens (bos … eos, {@link BenchTexts}); reported as texts/s and tokens/s, mean ± sd
 * over the timed runs after the JIT has settled.
 */
final class EmbedBench {
    /**
     * The warm-up's window and limit ({@link BenchCommand#warmUp}, judged over windows of consecutive calls of at least
     * {@code WARM_UP_WINDOW_MS}, giving up only once both its most runs and {@code WARM_UP_MAX_MS} have passed): a short
     * case (one text of 64 tokens, ~50 ms a call) warms for at least a second of calls in which the JIT was quiet, as the
     * longer cases' single runs do. It needs both: such a call runs its per-layer and per-loop methods only tens of
     * times, so C2 was still compiling them when the bench's eight runs had passed, and in the timed runs that followed
     * (74, 73, 71 ms, then 43–48 ms from the fourth on: docs/PERFORMANCE.md, "One text of 64 tokens on two threads");
     * and the bench's 20 ms of compilation is 40 % of such a call, so one call is no measure of quiet.
     */
    static final long WARM_UP_WINDOW_MS = 1_000, WARM_UP_MAX_MS = 30_000;

    private EmbedBench() {
    }

    static void run(Path path, int threads, boolean exact, int reps, int[] texts, int[] lengths, boolean json) throws IOException {
        int longest = 0;
        for (int l : lengths) longest = Math.max(longest, l);
        try (ThreadPool pool = new ThreadPool(threads)) {
            long t0 = System.nanoTime();
            GgufFile f = GgufFile.open(path);
            EmbeddingModel m;
            Tokenizer tokenizer;
            try {
                tokenizer = Tokenizer.fromGguf(f);
                m = ModelLoader.loadEmbedding(f, new ModelLoader.Options(exact, threads, Math.max(64, longest)).withContextLength(longest), pool, true, null);
            } catch (RuntimeException e) {
                f.close();
                throw e;
            }
            double load = (System.nanoTime() - t0) / 1e9;
            try (m) {
                Random rnd = new Random(BenchTexts.SEED);
                ObjectMapper om = new ObjectMapper();
                ArrayNode rows = om.createArrayNode();
                if (!json) System.out.printf("| model | threads | mode | test | texts/s | tokens/s |%n|---|---:|---|---|---:|---:|%n");
                for (int n : texts) {
                    for (int len : lengths) {
                        List<int[]> batch = BenchTexts.random(rnd, tokenizer, n, len);
                        int warmUps = BenchCommand.warmUp().window(WARM_UP_WINDOW_MS).atMost(BenchCommand.WARM_UP_MAX_RUNS, WARM_UP_MAX_MS)
                                .run(round -> m.embed(batch));
                        double[] secs = new double[reps];
                        for (int r = 0; r < reps; r++) {
                            long s = System.nanoTime();
                            m.embed(batch);
                            secs[r] = (System.nanoTime() - s) / 1e9;
                        }
                        double[] tps = new double[reps], xps = new double[reps];
                        for (int r = 0; r < reps; r++) {
                            xps[r] = n / secs[r];
                            tps[r] = (double) n * len / secs[r];
                        }
                        if (json) {
                            rows.addObject().put("texts", n).put("tokens_per_text", len)
                                    .put("texts_per_s", BenchCommand.mean(xps)).put("texts_per_s_sd", BenchCommand.sd(xps))
                                    .put("tokens_per_s", BenchCommand.mean(tps)).put("tokens_per_s_sd", BenchCommand.sd(tps)).put("warmup_runs", warmUps);
                        } else {
                            System.out.printf("| %s | %d | %s | embed %d×%d | %.2f ± %.2f | %.1f ± %.1f |%n", path.getFileName(), threads,
                                    exact ? "exact" : "default", n, len, BenchCommand.mean(xps), BenchCommand.sd(xps),
                                    BenchCommand.mean(tps), BenchCommand.sd(tps));
                        }
                    }
                }
                long rss = BenchCommand.peakRssBytes();
                if (json) {
                    ObjectNode o = om.createObjectNode();
                    o.put("model", path.toString());
                    o.put("file_bytes", Files.size(path));
                    o.put("threads", threads);
                    o.put("mode", exact ? "exact" : "default");
                    o.put("vector_bits", dev.jemma.core.tensor.kernels.VectorWidth.BITS);
                    o.put("repetitions", reps);
                    o.set("embed", rows);
                    o.put("load_seconds", load);
                    o.put("peak_rss_bytes", rss);
                    System.out.println(om.writeValueAsString(o));
                } else {
                    System.out.printf("%nload %.3f s, peak RSS %.1f MiB; kernels: %s%n", load, rss / (double) (1 << 20),
                            exact ? "exact f32 (--exact)" : dev.jemma.core.tensor.kernels.VectorWidth.describe());
                }
            }
        }
    }
}
