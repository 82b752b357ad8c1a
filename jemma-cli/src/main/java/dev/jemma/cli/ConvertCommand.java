package dev.jemma.cli;

import dev.jemma.tools.quant.HfConverter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code jemma convert HF_DIR OUT.gguf [--type f32|f16|bf16|q8_0]}: a Hugging Face Gemma 3 checkpoint to GGUF. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert a Hugging Face Gemma 3 checkpoint (config.json, safetensors, tokenizer.json) to GGUF.")
final class ConvertCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "HF_DIR", description = "directory with config.json, *.safetensors and tokenizer.json")
    Path dir;

    @Parameters(index = "1", paramLabel = "OUT.gguf", description = "output file")
    Path out;

    @Option(names = "--type", paramLabel = "T", description = "f32 (default), f16, bf16 or q8_0 for the weight matrices")
    String type = "f32";

    @Override
    public Integer call() throws Exception {
        HfConverter.OutType t = HfConverter.OutType.parse(type);
        ProgressLine bar = new ProgressLine(System.err, "convert");
        long t0 = System.nanoTime();
        try {
            HfConverter.convert(dir, out, t, bar::update);
        } finally {
            bar.finish();
        }
        System.err.printf(Locale.ROOT, "jemma: wrote %s (%s, %.2f MB) in %.1fs%n", out, t, Files.size(out) / 1e6,
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
