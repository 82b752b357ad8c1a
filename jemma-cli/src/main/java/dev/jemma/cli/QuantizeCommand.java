package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.tools.quant.ModelQuantizer;
import dev.jemma.tools.quant.QuantPreset;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code jemma quantize IN.gguf OUT.gguf TYPE}: llama-quantize's per-tensor mixtures, written atomically. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantize an F32/F16/BF16 GGUF to Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K_M, Q5_K_M, Q6_K (or F16/BF16).",
                "Gemma 3n: --matformer e2b|SPEC writes the MatFormer-sliced model; TYPE COPY keeps the tensor types (slice only)."})
final class QuantizeCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IN.gguf", description = "F32, F16 or BF16 GGUF file")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT.gguf", description = "output file (written in full, then renamed into place)")
    Path out;

    @Parameters(index = "2", paramLabel = "TYPE", description = "Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K_M Q5_K_M Q6_K F16 BF16 F32, or COPY (with --matformer)")
    String type;

    @Option(names = "--token-embedding-type", paramLabel = "T", description = "type for token_embd.weight (e.g. F16, Q8_0)")
    String tokenEmbeddingType;

    @Option(names = "--output-tensor-type", paramLabel = "T", description = "type for the output matrix (token_embd when tied)")
    String outputTensorType;

    @Option(names = "--pure", description = "every quantized tensor gets TYPE (no higher-precision mixture)")
    boolean pure;

    @Option(names = "--matformer", paramLabel = "SPEC", description = "Gemma 3n: write this MatFormer slice (e2b, or ffn=…;skip=…): kept layers renumbered, FFN and per-layer tables cut")
    String matformer;

    @Option(names = {"-t", "--threads"}, paramLabel = "THREADS", description = "threads (default: all cores)")
    int threads = ThreadPool.defaultThreads();

    @Override
    public Integer call() throws java.io.IOException {
        threads = Threads.resolve(threads, 1);
        if (!Files.isRegularFile(in)) throw new JemmaException(in + ": no such file");
        if (Files.exists(out) && Files.isSameFile(in, out)) throw new JemmaException(out + ": output would overwrite the input");
        OutputFile.check(out, "OUT.gguf");
        if (type.equalsIgnoreCase("COPY")) {
            if (matformer == null) throw new JemmaException("COPY: nothing to do without --matformer (use cp to copy a file)");
            long t0 = System.nanoTime();
            String what = dev.jemma.tools.quant.MatFormerExport.write(in, out, matformer);
            System.err.printf(Locale.ROOT, "jemma: wrote %s (MatFormer %s, tensor types kept): %.2f MB -> %.2f MB in %.1fs%n", out, what,
                    size(in) / 1e6, size(out) / 1e6, (System.nanoTime() - t0) / 1e9);
            return 0;
        }
        QuantPreset preset = QuantPreset.parse(type);
        if (matformer != null) {
            // slice first (same types), then quantize the slice; the intermediate file never outlives this command
            Path sliced = out.resolveSibling(out.getFileName() + ".matformer.tmp");
            sliced.toFile().deleteOnExit(); // and not past a Ctrl-C either
            try {
                dev.jemma.tools.quant.MatFormerExport.write(in, sliced, matformer);
                QuantizeCommand next = new QuantizeCommand();
                next.in = sliced;
                next.out = out;
                next.type = type;
                next.tokenEmbeddingType = tokenEmbeddingType;
                next.outputTensorType = outputTensorType;
                next.pure = pure;
                next.threads = threads;
                return next.call();
            } finally {
                Files.deleteIfExists(sliced);
            }
        }
        var opts = new ModelQuantizer.Options(preset, parseType(tokenEmbeddingType, "--token-embedding-type"),
                parseType(outputTensorType, "--output-tensor-type"), pure);
        ProgressLine bar = new ProgressLine(System.err, "quantize");
        long t0 = System.nanoTime();
        Map<String, GgmlType> plan;
        try (ThreadPool pool = new ThreadPool(Math.max(1, threads))) {
            plan = ModelQuantizer.quantize(in, out, opts, pool, (done, total, name) -> bar.update(done, total, name));
        } finally {
            bar.finish();
        }
        long inSize = size(in), outSize = size(out);
        System.err.printf(Locale.ROOT, "jemma: wrote %s (%s): %.2f MB -> %.2f MB in %.1fs; tensors: %s%n", out, preset,
                inSize / 1e6, outSize / 1e6, (System.nanoTime() - t0) / 1e9, ModelQuantizer.summary(plan));
        return 0;
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (java.io.IOException e) {
            return -1;
        }
    }

    static GgmlType parseType(String s, String flag) {
        if (s == null) return null;
        for (GgmlType t : GgmlType.values()) {
            if (t.name().equalsIgnoreCase(s) && dev.jemma.tools.quant.Quantizers.canWrite(t)) return t;
        }
        throw new JemmaException(flag + ": cannot write tensor type '" + s + "' (one of F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q4_K Q5_K Q6_K)");
    }
}
