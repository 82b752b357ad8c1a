package dev.jemma.core.vision;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;

import java.nio.file.Path;

/**
 * A Gemma 3 image encoder: SigLIP tower plus projector, from an mmproj GGUF or from a single-file (Ollama) gemma3
 * GGUF. Turns normalised pixel values into the soft-token embeddings that replace an image's
 * {@code <image_soft_token>} run in the prompt. Safe for concurrent calls (no state between calls).
 */
public final class ImageEncoder implements VisionEncoder {
    private final GgufFile file;
    private final boolean ownsFile;
    private final VisionConfig config;
    private final SiglipVisionTower tower;
    private final Gemma3MultimodalProjector projector;
    private final MatMul matmul;

    private ImageEncoder(GgufFile file, boolean ownsFile, MatMul matmul) {
        this.file = file;
        this.ownsFile = ownsFile;
        this.matmul = matmul;
        try {
            config = VisionConfig.read(file);
            VisionWeights w = new VisionWeights(file);
            tower = new SiglipVisionTower(w, config);
            projector = new Gemma3MultimodalProjector(w, config);
        } catch (IllegalArgumentException e) {
            throw file.error(e.getMessage());
        }
    }

    /**
     * Opens an mmproj file (or a single-file model with a vision tower).
     *
     * @param matmul {@link MatMul#EXACT} for --exact, else the default-mode kernels
     */
    public static ImageEncoder open(Path path, MatMul matmul) {
        GgufFile f = GgufFile.open(path);
        try {
            if (!VisionConfig.present(f)) {
                throw f.error("not a vision projector: general.architecture is '" + f.getString("general.architecture")
                        + "' and the file has no gemma3.vision.* keys (expected an mmproj-*.gguf)");
            }
            return new ImageEncoder(f, true, matmul);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** The vision tower inside an already open model file (Ollama's single-file gemma3 GGUF); the file stays the caller's. */
    public static ImageEncoder inModelFile(GgufFile modelFile, MatMul matmul) {
        return new ImageEncoder(modelFile, false, matmul);
    }

    /**
     * The model's {@code mmproj*.gguf}: for a model in Jemma's store the projector pulled with it, else
     * {@code mmproj-<model file name>} when it exists, else the only mmproj file in the model's folder; null when there
     * is none or several to choose from.
     */
    public static Path findBeside(Path model) {
        var pulled = dev.jemma.core.store.ModelStore.projectorOf(model);
        if (pulled.isPresent()) return pulled.get();
        return mmprojBeside(model);
    }

    /**
     * The projector file beside a model: {@code mmproj-<model file name>}, else the directory's only {@code mmproj*.gguf};
     * null when there is none or several to choose from.
     */
    public static Path mmprojBeside(Path model) {
        Path named = model.toAbsolutePath().resolveSibling("mmproj-" + model.getFileName());
        if (java.nio.file.Files.isRegularFile(named)) return named;
        Path dir = model.toAbsolutePath().getParent();
        if (dir == null) return null;
        try (java.util.stream.Stream<Path> s = java.nio.file.Files.list(dir)) {
            java.util.List<Path> c = s.filter(p -> {
                String n = p.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
                return n.startsWith("mmproj") && n.endsWith(".gguf") && java.nio.file.Files.isRegularFile(p);
            }).toList();
            return c.size() == 1 ? c.getFirst() : null;
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /** Bytes of scratch one image's encoding allocates (activations of all patches at once). */
    @Override
    public long scratchBytes() {
        return 4L * SiglipVisionTower.scratchFloats(config);
    }

    public VisionConfig config() {
        return config;
    }

    @Override
    public Path path() {
        return file.path();
    }

    @Override
    public int imageSize() {
        return config.imageSize();
    }

    @Override
    public float[] mean() {
        return config.mean().clone();
    }

    @Override
    public float[] std() {
        return config.std().clone();
    }

    @Override
    public int textDim() {
        return config.textDim();
    }

    @Override
    public boolean bidirectional() {
        return true;
    }


    /** Bytes of vision weights held (mapped matrices, copied vectors, the transposed projection). */
    @Override
    public long weightBytes() {
        return tower.weightBytes() + projector.weightBytes();
    }

    /** Soft tokens one image becomes. */
    @Override
    public int tokensPerImage() {
        return config.tokensPerImage();
    }

    /** The tower's output [patches × hidden] for one image's pixel values [3 × S × S] at {@code pixels[off..]}. */
    public float[] towerOutput(float[] pixels, int off, ThreadPool pool) {
        return tower.forward(pixels, off, matmul, pool);
    }

    /** Soft-token embeddings [tokensPerImage × textDim] for one image's pixel values [3 × S × S]. */
    @Override
    public float[] encode(float[] pixels, int off, ThreadPool pool) {
        return projector.forward(towerOutput(pixels, off, pool), matmul, pool);
    }

    /** The projector alone, for a tower output computed elsewhere. */
    public float[] project(float[] towerOutput, ThreadPool pool) {
        return projector.forward(towerOutput, matmul, pool);
    }

    @Override
    public void close() {
        if (ownsFile) file.close();
    }
}
