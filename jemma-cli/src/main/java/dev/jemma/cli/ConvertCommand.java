package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.tools.quant.HfConverter;
import dev.jemma.tools.quant.MmprojMerge;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code jemma convert HF_DIR OUT.gguf [--type f32|f16|bf16|q8_0]}: a Hugging Face Gemma 3 checkpoint to GGUF;
 * {@code jemma convert MODEL.gguf --mmproj MMPROJ.gguf -o ONE.gguf}: one file with the text model and its encoders
 * (Gemma 3: Ollama's single-file layout; Gemma 3n: Jemma's, see {@link MmprojMerge}).
 */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Convert a Hugging Face Gemma 3 checkpoint to GGUF, or merge a model GGUF and its mmproj into one.",
                "HF_DIR holds config.json, *.safetensors and tokenizer.json; a merge: MODEL.gguf --mmproj MMPROJ.gguf -o ONE.gguf."})
final class ConvertCommand implements Callable<Integer> {
    @Parameters(arity = "1..2", paramLabel = "IN [OUT.gguf]",
            description = "HF_DIR (directory with config.json, *.safetensors and tokenizer.json) and OUT.gguf; or MODEL.gguf with --mmproj")
    List<Path> args = new ArrayList<>();

    @Option(names = {"-o", "--output"}, paramLabel = "OUT.gguf", description = "output file (instead of the second argument)")
    Path output;

    @Option(names = "--mmproj", paramLabel = "MMPROJ.gguf", description = "merge this projector (llama.cpp's mmproj) into MODEL.gguf: Gemma 3 or Gemma 3n")
    Path mmproj;

    @Option(names = "--type", paramLabel = "T", description = "f32 (default), f16, bf16 or q8_0 for the weight matrices (HF conversion only)")
    String type;

    @Override
    public Integer call() throws Exception {
        Path in = args.getFirst();
        if (args.size() == 2 && output != null) throw new JemmaException("give the output once: as the second argument or with -o, not both");
        Path out = args.size() == 2 ? args.get(1) : output;
        if (out == null) throw new JemmaException("no output file: give OUT.gguf as the second argument or with -o");
        OutputFile.check(out, args.size() == 2 ? "OUT.gguf" : "-o");
        long t0 = System.nanoTime();
        if (mmproj != null) {
            if (type != null) {
                throw new JemmaException("--type: a merge copies every tensor as it is; quantize the merged file with jemma quantize instead");
            }
            MmprojMerge.Result r = MmprojMerge.merge(in, mmproj, out);
            System.err.printf(Locale.ROOT, "jemma: wrote %s (%s with its %s inside: %d + %d tensors, %.2f MB) in %.1fs%n", out, r.architecture(),
                    r.towers(), r.textTensors(), r.towerTensors(), Files.size(out) / 1e6, (System.nanoTime() - t0) / 1e9);
            return 0;
        }
        if (Files.isRegularFile(in)) {
            throw new JemmaException(in + ": a file, not a Hugging Face checkpoint directory; to merge a projector into a GGUF model give"
                    + " --mmproj MMPROJ.gguf -o ONE.gguf");
        }
        HfConverter.OutType t = HfConverter.OutType.parse(type == null ? "f32" : type);
        ProgressLine bar = new ProgressLine(System.err, "convert");
        try {
            HfConverter.convert(in, out, t, bar::update);
        } finally {
            bar.finish();
        }
        System.err.printf(Locale.ROOT, "jemma: wrote %s (%s, %.2f MB) in %.1fs%n", out, t, Files.size(out) / 1e6,
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
