package dev.jemma.cli;

import dev.jemma.core.audio.AudioClip;
import dev.jemma.core.audio.Gemma3nAudioFeatureExtractor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code jemma audio-features WAV -o OUT.f32}: Gemma 3n's log-mel features of a clip, as HF's feature extractor. */
@Command(name = "audio-features", mixinStandardHelpOptions = true,
        description = "Write Gemma 3n's log-mel features of a WAV clip (little-endian f32, [frames x 128]).")
final class AudioFeaturesCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "WAV", description = "audio clip (WAV: PCM 8/16/24/32-bit or float; at most 30 s)")
    Path wav;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.f32", description = "output file")
    Path out;

    @Override
    public Integer call() throws IOException {
        AudioClip clip = AudioFiles.read(wav, AudioClip.MAX_CLIP_SECONDS).requireOnePiece();
        float[] f = Gemma3nAudioFeatureExtractor.extract(clip);
        AudioFiles.writeF32(out, f);
        System.err.println(out + ": " + f.length / Gemma3nAudioFeatureExtractor.MEL_BINS + " frames x " + Gemma3nAudioFeatureExtractor.MEL_BINS);
        return 0;
    }
}
