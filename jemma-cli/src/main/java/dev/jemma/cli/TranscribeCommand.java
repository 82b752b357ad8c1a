package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.audio.AudioClip;
import dev.jemma.core.audio.WavReader;
import dev.jemma.core.chat.ChatAudio;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.Generation;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.engine.TokenListener;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code jemma transcribe MODEL CLIP.wav [--translate-to LANG]}: Gemma 3n speech recognition (or speech translation)
 * of a clip. Gemma 3n hears at most 30 s at once, so a longer clip (up to an hour) is cut into 30 s pieces, each
 * transcribed on its own and printed with its time range.
 */
@Command(name = "transcribe", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Transcribe (or translate) a WAV clip with Gemma 3n and its mmproj.",
                "Clips over 30 s are split into 30 s pieces, each printed with its time range."})
final class TranscribeCommand implements Callable<Integer> {
    /** Gemma 3n hears this much at once (HF's feature extractor stops at 30 s). */
    static final double PIECE_SECONDS = AudioClip.MAX_CLIP_SECONDS;

    @Parameters(index = "0", paramLabel = "MODEL", description = "Gemma 3n GGUF file or model name")
    String model;

    @Parameters(index = "1", paramLabel = "CLIP", description = "audio clip (WAV: PCM 8/16/24/32-bit or float; up to an hour)")
    Path clip;

    @Option(names = "--translate-to", paramLabel = "LANG", description = "translate the speech into LANG (e.g. English, French) instead of transcribing it")
    String translateTo;

    @Option(names = "--mmproj", paramLabel = "MMPROJ", description = "Gemma 3n mmproj GGUF (default: the towers inside the model file, else mmproj-<model>.gguf or the only mmproj*.gguf beside the model)")
    Path mmproj;

    @Option(names = {"-n", "--n-predict"}, paramLabel = "N", description = "maximum tokens per 30 s piece (default 256)")
    int maxTokens = 256;

    @Option(names = "--exact", description = "dequantize weights exactly and compute in f32")
    boolean exact;

    @Option(names = {"-t", "--threads"}, paramLabel = "THREADS", description = "threads; 0 = all cores (default 0)")
    int threads;

    /** The instruction sent with each piece. */
    String instruction() {
        if (translateTo == null) return "Transcribe this audio clip.";
        if (translateTo.isBlank()) throw new JemmaException("--translate-to: name a language, e.g. --translate-to English");
        return "Translate this audio clip into " + translateTo.strip() + ".";
    }

    @Override
    public Integer call() {
        if (maxTokens <= 0) throw new JemmaException("-n " + maxTokens + ": must be at least 1");
        String instruction = instruction();
        AudioClip audio = AudioFiles.read(clip, AudioClip.MAX_FILE_SECONDS);
        List<AudioClip> pieces = audio.seconds() > PIECE_SECONDS ? audio.split(PIECE_SECONDS) : List.of(audio);
        Path path = ModelPaths.resolve(model);
        GenerationOptions opts = GenerationOptions.builder().temperature(0f).maxTokens(maxTokens).build();
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        dev.jemma.core.engine.EngineOptions o = dev.jemma.core.engine.EngineOptions.builder().exact(exact)
                .threads(Threads.resolve(threads, 0)).mmproj(mmproj).build();
        try (Engine engine = Engine.load(path, o); Session session = engine.newSession()) {
            if (!engine.supportsAudio()) {
                throw new JemmaException(path.getFileName() + ": this model takes no audio: it needs a Gemma 3n model with its mmproj file (--mmproj)");
            }
            double at = 0;
            for (AudioClip piece : pieces) {
                double end = at + piece.seconds();
                // a piece shorter than one feature frame (32 ms) at the end of a split clip holds nothing to hear
                if (pieces.size() > 1 && piece.samples().length <= 512) break;
                ChatAudio part = ChatAudio.of(WavReader.float32Wav(piece.samples(), AudioClip.SAMPLE_RATE), piece.name());
                // each piece is its own conversation: earlier pieces would only fill the context
                Generation g = session.generate(List.of(ChatMessage.user(instruction, List.of(), List.of(part))), opts, TokenListener.NONE);
                String text = g.text().strip();
                out.println(pieces.size() > 1 ? "[" + stamp(at) + " - " + stamp(end) + "] " + text : text);
                at = end;
            }
        } catch (IllegalArgumentException e) {
            throw new JemmaException(e.getMessage());
        }
        return 0;
    }

    /** "0:00:30.0": hours, minutes, seconds to a tenth. */
    static String stamp(double s) {
        long tenths = Math.round(s * 10);
        return String.format(Locale.ROOT, "%d:%02d:%02d.%d", tenths / 36000, tenths / 600 % 60, tenths / 10 % 60, tenths % 10);
    }
}
