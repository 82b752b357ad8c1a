package dev.jemma.core.engine;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.model.Architecture;
import dev.jemma.core.model.Architectures;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tokenizer.Tokenizer;
import dev.jemma.core.vision.ImageEncoder;
import dev.jemma.core.vision.VisionConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a model can do, named as Ollama names it in {@code /api/show}'s {@code capabilities}: {@code completion} (it
 * writes text) or {@code embedding} (an embedding model), {@code vision} (a vision tower: in the file, or its mmproj
 * file found or given), {@code audio} (Gemma 3n with an mmproj that holds the audio tower; Ollama has no such name
 * yet), {@code tools} (every text model: Jemma's tool calling needs no template support, see ToolFormat). Never
 * {@code insert}: Gemma has no fill-in-the-middle slot, so a {@code suffix} is refused, and never {@code thinking}.
 *
 * @param text   the model generates text (else it makes embeddings)
 * @param vision it takes images
 * @param audio  it takes audio
 */
public record ModelCapabilities(boolean text, boolean vision, boolean audio) {

    /** A loaded engine's: what it actually attached. */
    public static ModelCapabilities of(Engine engine) {
        return new ModelCapabilities(true, engine.supportsImages(), engine.supportsAudio());
    }

    /**
     * From file headers alone (no weights read), what {@link Engine#load} would attach with no explicit mmproj: the
     * same search for a projector beside the model, the same checks that it fits (Gemma 3: a vision tower in the file,
     * or a projector of the text model's width and a vocabulary with the image soft token; Gemma 3n: a Gemma 3n
     * mmproj, by its towers, or the towers inside the file). A file that cannot be read reports text only: loading it says what is wrong.
     */
    public static ModelCapabilities probe(Path model) {
        try (GgufFile f = GgufFile.open(model)) {
            Architecture a = Architectures.byName(f.getString("general.architecture"));
            if (a != null && !a.generatesText()) return new ModelCapabilities(false, false, false);
            if ("gemma3".equals(a == null ? null : a.name())) {
                return new ModelCapabilities(true, VisionConfig.present(f) || gemma3ProjectorBeside(f, model), false);
            }
            if ("gemma3n".equals(a == null ? null : a.name())) {
                if (Gemma3nMmproj.carriesTowers(f)) return new ModelCapabilities(true, Gemma3nMmproj.hasVisionTower(f), Gemma3nMmproj.hasAudioTower(f));
                Path mm = ImageEncoder.findBeside(model);
                if (mm == null) return new ModelCapabilities(true, false, false);
                try (GgufFile m = GgufFile.open(mm)) {
                    if (!Gemma3nMmproj.isGemma3nMmproj(m)) return new ModelCapabilities(true, false, false);
                    return new ModelCapabilities(true, Gemma3nMmproj.hasVisionTower(m), Gemma3nMmproj.hasAudioTower(m));
                }
            }
            return new ModelCapabilities(true, false, false);
        } catch (RuntimeException e) {
            return new ModelCapabilities(true, false, false);
        }
    }

    private static boolean gemma3ProjectorBeside(GgufFile modelFile, Path model) {
        Path mm = ImageEncoder.findBeside(model);
        if (mm == null || Tokenizer.fromGguf(modelFile).tokenId(Vision.SOFT).isEmpty()) return false;
        try (GgufFile m = GgufFile.open(mm)) {
            return VisionConfig.present(m) && VisionConfig.read(m).textDim() == ModelLoader.readConfig(modelFile).dim();
        }
    }

    /** Ollama's names, in Ollama's order (completion or embedding first). */
    public List<String> names() {
        List<String> out = new ArrayList<>();
        out.add(text ? "completion" : "embedding");
        if (vision) out.add("vision");
        if (audio) out.add("audio");
        if (text) out.add("tools");
        return out;
    }
}
