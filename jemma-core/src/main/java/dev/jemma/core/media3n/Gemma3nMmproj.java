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
 * <p>The same towers may also travel inside the text model's file (Jemma's single-file Gemma 3n, written by
 * {@code jemma convert MODEL.gguf --mmproj MMPROJ.gguf}; Ollama's converter drops Gemma 3n's towers, so there is no
 * layout of theirs to follow): the mmproj's tensors under their own names ({@code v.*}, {@code a.*}, {@code mm.*}) and
 * its {@code clip.*} keys under the model's namespace ({@code gemma3n.vision.image_size}, {@code gemma3n.audio.block_count},
 * each tower's {@code gemma3n.<tower>.projector_type}), as Ollama keeps gemma3's vision keys under {@code gemma3.vision.*}.
 * {@link #key} reads a key from either layout.
 *
 * <p>Owns the file (a mapping of its own, also when it is the model's file); the towers built from {@link #weights()}
 * must not outlive {@link #close()}.
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

    /** The namespace of the tower keys in a single-file Gemma 3n model (an mmproj's {@code clip.} keys, renamed). */
    public static final String SINGLE_FILE_PREFIX = "gemma3n.";

    /** Whether a GGUF is a Gemma 3n mmproj (either projector type). */
    public static boolean isGemma3nMmproj(GgufFile f) {
        return "clip".equals(f.getString("general.architecture")) && (hasAudioTower(f) || hasVisionTower(f));
    }

    /** Whether a GGUF is a Gemma 3n model that carries its towers (either or both) inside. */
    public static boolean carriesTowers(GgufFile f) {
        return "gemma3n".equals(f.getString("general.architecture")) && (hasAudioTower(f) || hasVisionTower(f));
    }

    /** {@link #carriesTowers(GgufFile)} of a file on disk; false when it cannot be read (loading it says why). */
    public static boolean carriesTowers(Path model) {
        try (GgufFile f = GgufFile.open(model)) {
            return carriesTowers(f);
        } catch (RuntimeException e) {
            return false;
        }
    }

    /**
     * The name of an mmproj key in {@code f}: {@code key} itself ({@code clip.vision.image_size}) in an mmproj, the same
     * key under {@code gemma3n.} in a single-file model ({@code gemma3n.vision.image_size}).
     */
    public static String key(GgufFile f, String key) {
        if (!key.startsWith("clip.")) throw new IllegalArgumentException("not an mmproj key: " + key);
        return "gemma3n".equals(f.getString("general.architecture")) ? SINGLE_FILE_PREFIX + key.substring(5) : key;
    }

    public static boolean hasAudioTower(GgufFile f) {
        return "gemma3na".equals(f.getString(key(f, "clip.audio.projector_type"))) || "gemma3na".equals(f.getString(key(f, "clip.projector_type")));
    }

    public static boolean hasVisionTower(GgufFile f) {
        return "gemma3nv".equals(f.getString(key(f, "clip.vision.projector_type"))) || "gemma3nv".equals(f.getString(key(f, "clip.projector_type")));
    }

    /** Whether the towers live in the text model's own file (single-file Gemma 3n) rather than an mmproj. */
    public boolean insideModel() {
        return carriesTowers(file);
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
            if (!isGemma3nMmproj(f) && !carriesTowers(f)) {
                throw f.error("not a Gemma 3n mmproj: expected general.architecture 'clip' with projector type gemma3na (audio) or"
                        + " gemma3nv (vision), or a gemma3n model with its towers inside, found '" + f.getString("general.architecture") + "'"
                        + ("gemma3n".equals(f.getString("general.architecture")) ? " without towers" : ""));
            }
            return new Gemma3nMmproj(f, textDim, textVocab, matmul, pool);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /**
     * The mmproj for a Gemma 3n model: {@code explicit} when given (it must be one), else the model itself when it
     * carries its towers (single file), else for a model in Jemma's store the projector pulled with it, else
     * {@code mmproj-<model file>} beside the model, else the only {@code mmproj*.gguf} in its folder (the same search as
     * Gemma 3's); null when none is found.
     */
    public static Path find(Path model, Path explicit) {
        if (explicit != null) {
            if (!java.nio.file.Files.isRegularFile(explicit)) throw new JemmaException(explicit + ": no such mmproj file");
            return explicit;
        }
        if (carriesTowers(model)) return model;
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
