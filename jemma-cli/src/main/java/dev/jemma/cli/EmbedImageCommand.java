package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.vision.VisionEncoder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code jemma embed-image MODEL --mmproj MMPROJ IMG -o OUT.f32}: the projector's output for an image, the rows that
 * replace its soft tokens: little-endian f32 [tokens × text width] (with --pan-and-scan, the original's rows then each
 * crop's).
 */
@Command(name = "embed-image", mixinStandardHelpOptions = true, description = "Write an image's soft-token embeddings (the vision projector's output).")
final class EmbedImageCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file or model name (its vision tower, or the one --mmproj gives)")
    String model;

    @Parameters(index = "1", paramLabel = "IMG", description = "image file (PNG, JPEG, GIF, BMP, WebP)")
    Path image;

    @Option(names = "--mmproj", paramLabel = "MMPROJ", description = "vision projector (mmproj GGUF); default: the vision tower inside the model file")
    Path mmproj;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.f32", description = "output file")
    Path out;

    @Option(names = "--exact", description = "dequantize weights exactly and compute in f32")
    boolean exact;

    @Option(names = "--pan-and-scan", description = "also the image's pan-and-scan crops (HF Gemma 3's do_pan_and_scan), after it")
    boolean panAndScan;

    @Option(names = {"-t", "--threads"}, paramLabel = "THREADS", description = "threads (default: all cores)")
    int threads = ThreadPool.defaultThreads();

    @Override
    public Integer call() throws IOException {
        threads = Threads.resolve(threads, 1);
        if (Files.isDirectory(out)) throw new JemmaException(out + ": is a directory; -o names the output file");
        Path path = ModelPaths.resolve(model);
        ModelLoader.Options o = new ModelLoader.Options(exact, threads, 64);
        try (GgufFile file = GgufFile.open(path); ThreadPool pool = new ThreadPool(threads);
             VisionEncoder enc = VisionModel.encoder(file, path, mmproj, o, pool)) {
            if (!"clip".equals(file.getString("general.architecture"))) enc.requireTextWidth(ModelLoader.readConfig(file).dim());
            List<float[]> parts = VisionModel.encodeAll(enc, List.of(image), panAndScan, pool);
            int n = parts.stream().mapToInt(a -> a.length).sum(), at = 0;
            float[] all = new float[n];
            for (float[] a : parts) {
                System.arraycopy(a, 0, all, at, a.length);
                at += a.length;
            }
            LogitsCommand.writeAtomically(out, all);
        }
        return 0;
    }
}
