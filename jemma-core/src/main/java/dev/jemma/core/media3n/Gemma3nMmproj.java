package dev.jemma.core.media3n;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;

import java.nio.file.Path;

/**
 * A Gemma 3n mmproj GGUF as llama.cpp's converter writes it: one file ({@code general.architecture = clip}) with the
 * MobileNet-V5 tower ({@code v.*}) and its embedder ({@code mm.*}, projector {@code gemma3nv}) and the conformer
 * audio tower ({@code a.*}) and its embedder ({@code mm.a.*}, projector {@code gemma3na}); either half may be absent.
 *
 * <p>The token layout is HF's and is not written in any key: the text vocabulary ends with the vision embedder's ids
 * then the audio embedder's ({@code [vocab − audio − vision, vocab − audio)}, {@code [vocab − audio, vocab)}; real
 * models: 262144 / 262272 / 262400), and the first vision id is {@code vocab_size_per_layer_input}, the end of the
 * per-layer-embedding vocabulary. So it is derived here from the embedders' row counts and the text vocabulary.
 *
 * <p>Owns the file; the towers built from {@link #weights()} must not outlive {@link #close()}.
 */
public final class Gemma3nMmproj implements AutoCloseable {
    private final GgufFile file;
    private final Gemma3nMultimodalEmbedder vision, audio;
    private final int textDim, textVocab;

    private Gemma3nMmproj(GgufFile file, int textDim, int textVocab, MatMul matmul, ThreadPool pool) {
        this.file = file;
        this.textDim = textDim;
        this.textVocab = textVocab;
        MmprojWeights w = new MmprojWeights(file);
        int visionRows = hasVisionTower(file) ? rows(w, "mm.embedding.weight") : 0;
        // a vision-only mmproj (what llama.cpp's converter writes for Gemma 3n) still leaves the audio ids at the end of
        // the vocabulary: every released Gemma 3n gives both embedders the same count (128), so assume that here
        int audioRows = hasAudioTower(file) ? rows(w, "mm.a.embedding.weight") : visionRows;
        int audioOffset = textVocab - audioRows, visionOffset = audioOffset - visionRows;
        if (visionOffset <= 0) {
            throw file.error("the embedders own " + (audioRows + visionRows) + " token ids but the text model has only " + textVocab
                    + " (an mmproj file of another model?)");
        }
        try {
            audio = !hasAudioTower(file) ? null : embedder(w, "audio", "mm.a.", audioOffset, matmul, pool);
            vision = visionRows == 0 ? null : embedder(w, "vision", "mm.", visionOffset, matmul, pool);
        } catch (IllegalArgumentException e) {
            throw file.error(e.getMessage());
        }
    }

    private static int rows(MmprojWeights w, String name) {
        long[] d = w.dims(name);
        if (d.length != 2 || d[1] <= 0 || d[1] > 1 << 16) throw w.file().error("tensor " + name + ": shape " + java.util.Arrays.toString(d));
        return (int) d[1];
    }

    private Gemma3nMultimodalEmbedder embedder(MmprojWeights w, String name, String pre, int offset, MatMul matmul, ThreadPool pool) {
        long[] d = w.dims(pre + "embedding.weight");
        int mm = Math.toIntExact(d[0]), rows = Math.toIntExact(d[1]);
        long[] p = w.dims(pre + "input_projection.weight");
        if (p.length != 2 || p[0] != mm || p[1] != textDim) {
            throw new JemmaException(file.path().getFileName() + ": " + pre + "input_projection.weight has shape " + java.util.Arrays.toString(p)
                    + " but the text model's width is " + textDim + " (an mmproj file of another model?)");
        }
        return new Gemma3nMultimodalEmbedder(name, w.matrix(pre + "embedding.weight", mm, rows), w.vector(pre + "hard_emb_norm.weight", mm),
                w.vector(pre + "soft_emb_norm.weight", mm), w.matrix(pre + "input_projection.weight", mm, textDim), offset,
                Gemma3nMultimodalEmbedder.EPS, matmul, pool);
    }

    /** Whether a GGUF is a Gemma 3n mmproj (either projector type). */
    public static boolean isGemma3nMmproj(GgufFile f) {
        return "clip".equals(f.getString("general.architecture")) && (hasAudioTower(f) || hasVisionTower(f));
    }

    public static boolean hasAudioTower(GgufFile f) {
        return "gemma3na".equals(f.getString("clip.audio.projector_type")) || "gemma3na".equals(f.getString("clip.projector_type"));
    }

    public static boolean hasVisionTower(GgufFile f) {
        return "gemma3nv".equals(f.getString("clip.vision.projector_type")) || "gemma3nv".equals(f.getString("clip.projector_type"));
    }

    /**
     * Opens a Gemma 3n mmproj for a text model of width {@code textDim} and {@code textVocab} tokens; one clear
     * error when it is not one or does not fit.
     *
     * @param matmul {@link MatMul#EXACT} for --exact, else the default-mode kernels
     */
    public static Gemma3nMmproj open(Path path, int textDim, int textVocab, MatMul matmul, ThreadPool pool) {
        GgufFile f = GgufFile.open(path);
        try {
            if (!isGemma3nMmproj(f)) {
                throw f.error("not a Gemma 3n mmproj: expected general.architecture 'clip' with projector type gemma3na (audio) or"
                        + " gemma3nv (vision), found '" + f.getString("general.architecture") + "'");
            }
            return new Gemma3nMmproj(f, textDim, textVocab, matmul, pool);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /**
     * The mmproj for a Gemma 3n model: {@code explicit} when given (it must be one), else for a model in Jemma's store
     * the projector pulled with it, else {@code mmproj-<model file>} beside the model, else the only
     * {@code mmproj*.gguf} in its folder (the same search as Gemma 3's); null when none is found.
     */
    public static Path find(Path model, Path explicit) {
        if (explicit != null) {
            if (!java.nio.file.Files.isRegularFile(explicit)) throw new JemmaException(explicit + ": no such mmproj file");
            return explicit;
        }
        return dev.jemma.core.vision.ImageEncoder.findBeside(model);
    }

    public GgufFile file() {
        return file;
    }

    public Path path() {
        return file.path();
    }

    /** Tensor look-up for the towers. */
    public MmprojWeights weights() {
        return new MmprojWeights(file);
    }

    public boolean hasAudio() {
        return audio != null;
    }

    public boolean hasVision() {
        return vision != null;
    }

    /** embed_audio, or null when the file has no audio tower. */
    public Gemma3nMultimodalEmbedder audioEmbedder() {
        return audio;
    }

    /** embed_vision, or null when the file has no vision tower. */
    public Gemma3nMultimodalEmbedder visionEmbedder() {
        return vision;
    }

    /** HF {@code vocab_size_per_layer_input}: the first id of the multimodal embedders' vocabularies. */
    public int perLayerVocab() {
        return vision != null ? vision.vocabOffset() : audio.vocabOffset();
    }

    public int textDim() {
        return textDim;
    }

    /**
     * Gives a Gemma 3n text model this file's embedders (HF Gemma3nModel: ids from vocab_size_per_layer_input on go
     * through them); one line naming the file when they do not fit it.
     */
    public void attachTo(dev.jemma.core.model.LanguageModel model) {
        if (!(model instanceof dev.jemma.core.model.Gemma3nModel g)) {
            throw new JemmaException(file.path().getFileName() + " is a Gemma 3n mmproj; the model is not a Gemma 3n model");
        }
        java.util.List<Gemma3nMultimodalEmbedder> e = new java.util.ArrayList<>();
        if (vision != null) e.add(vision);
        if (audio != null) e.add(audio);
        try {
            g.attachMultimodal(perLayerVocab(), e.toArray(Gemma3nMultimodalEmbedder[]::new));
        } catch (IllegalArgumentException ex) {
            throw new JemmaException(file.path().getFileName() + ": " + ex.getMessage());
        }
    }

    public int textVocab() {
        return textVocab;
    }

    @Override
    public void close() {
        file.close();
    }
}
