package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.audio.AudioClip;
import dev.jemma.core.audio.Gemma3nAudioModel;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code jemma embed-audio MODEL WAV -o OUT.f32}: Gemma 3n's audio embeddings of a clip, the rows that replace its
 * soft tokens before padding (HF embed_audio of the audio tower), or with {@code --tower} the conformer's output.
 */
@Command(name = "embed-audio", mixinStandardHelpOptions = true,
        description = {"Write a WAV clip's Gemma 3n audio embeddings (little-endian f32, [tokens x text width], one token per 160 ms).",
                "With --tower the audio encoder's output [tokens x audio width]; with --pad N the soft-token run of N rows as HF pads it."})
final class EmbedAudioCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "Gemma 3n GGUF file or model name")
    String model;

    @Parameters(index = "1", paramLabel = "WAV", description = "audio clip (WAV, at most 30 s)")
    Path wav;

    @Option(names = "--mmproj", paramLabel = "MMPROJ", description = "Gemma 3n mmproj GGUF (default: the towers inside the model file, else mmproj-<model>.gguf or the only mmproj*.gguf beside the model)")
    Path mmproj;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.f32", description = "output file")
    Path out;

    @Option(names = "--tower", description = "write the audio encoder's output instead of the embeddings")
    boolean tower;

    @Option(names = "--pad", paramLabel = "N", description = "write the N-row soft-token run (embeddings padded as HF pads them; 188 in the real models)")
    int pad;

    @Option(names = "--exact", description = "dequantize weights exactly and compute in f32")
    boolean exact;

    @Option(names = {"-t", "--threads"}, paramLabel = "THREADS", description = "threads (default: all cores)")
    int threads = ThreadPool.defaultThreads();

    @Override
    public Integer call() throws IOException {
        if (tower && pad > 0) throw new JemmaException("--tower and --pad do not go together");
        if (pad < 0) throw new JemmaException("--pad: " + pad + " is not a row count");
        AudioClip clip = AudioFiles.read(wav, AudioClip.MAX_CLIP_SECONDS).requireOnePiece();
        Path path = ModelPaths.resolve(model);
        threads = Threads.resolve(threads, 1);
        try (ThreadPool pool = new ThreadPool(threads);
             LanguageModel m = ModelLoader.load(path, new ModelLoader.Options(exact, threads, 64).withContextLength(1), pool);
             Gemma3nMmproj p = Media3n.open(path, mmproj, m, exact, pool)) {
            Gemma3nAudioModel audio = Media3n.audio(p, m, exact);
            float[] v = tower ? audio.towerOutput(clip, pool) : pad > 0 ? audio.softTokens(clip, pad, pool) : audio.embed(clip, pool);
            AudioFiles.writeF32(out, v);
            int width = tower ? audio.config().hidden() : m.config().dim();
            System.err.println(out + ": " + v.length / width + " x " + width);
        }
        return 0;
    }
}
