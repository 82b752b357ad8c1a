package dev.jemma.core.mobilenet;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.memory.WeightCopy;
import dev.jemma.core.media3n.Gemma3nMultimodalEmbedder;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.FastMatMul;
import dev.jemma.core.repack.RepackCache;
import dev.jemma.core.vision.VisionEncoder;

import java.nio.file.Path;

/**
 * Gemma 3n's image path, HF {@code Gemma3nModel.get_image_features}: MobileNet-V5 over the pixel values, its
 * 16 × 16 × 2048 output as 256 rows scaled by √2048, then {@code embed_vision}'s soft path (norm, projection to the
 * text width, unscaled norm). The rows replace an image's 256 {@code <image_soft_token>}s, which stay causal (HF
 * Gemma 3n has no bidirectional image mask). Safe for concurrent calls.
 */
public final class Gemma3nImageEncoder implements VisionEncoder {
    private final Gemma3nMmproj mmproj;
    private final boolean ownsMmproj;
    private final float[] mean, std;
    private final MobileNetV5 tower;
    private final Gemma3nMultimodalEmbedder embedder;
    private final MatMul matmul;
    private final float scale;
    /**
     * The tower reading its matrices' interleaved copies, which the default-mode matmul runs on the tiled F16 GEMM;
     * made on the first encode (a model that never sees an image never repacks its 600 MB) and kept in a cache file
     * beside the text model's, so later loads map it. Null until then, and always in exact mode.
     */
    private volatile MobileNetV5 packed;
    private RepackCache repacked;

    private Gemma3nImageEncoder(Gemma3nMmproj mmproj, boolean ownsMmproj, float[] mean, float[] std, MobileNetV5 tower,
                                Gemma3nMultimodalEmbedder embedder, MatMul matmul) {
        this.mmproj = mmproj;
        this.ownsMmproj = ownsMmproj;
        this.mean = mean;
        this.std = std;
        if (embedder.inputDim() != tower.width()) {
            throw new IllegalArgumentException("the vision embedder takes rows of " + embedder.inputDim() + " but MobileNet-V5 gives " + tower.width());
        }
        this.tower = tower;
        this.embedder = embedder;
        this.matmul = matmul;
        // HF multiplies the float32 tower output by hidden_size ** 0.5 (a Python float, applied in float32)
        this.scale = (float) Math.sqrt(tower.width());
    }

    /**
     * The vision half of a Gemma 3n mmproj (which stays the caller's); one clear error naming the file when it has
     * none or it does not fit.
     */
    public static Gemma3nImageEncoder open(Gemma3nMmproj mmproj, MatMul matmul) {
        return open(mmproj, false, matmul);
    }

    /** As {@link #open(Gemma3nMmproj, MatMul)}, the encoder owning the mmproj: {@link #close()} closes it. */
    public static Gemma3nImageEncoder owning(Gemma3nMmproj mmproj, MatMul matmul) {
        return open(mmproj, true, matmul);
    }

    private static Gemma3nImageEncoder open(Gemma3nMmproj mmproj, boolean owns, MatMul matmul) {
        GgufFile f = mmproj.file();
        String kType = Gemma3nMmproj.key(f, "clip.vision.projector_type"), kSize = Gemma3nMmproj.key(f, "clip.vision.image_size"),
                kEps = Gemma3nMmproj.key(f, "clip.vision.attention.layer_norm_epsilon");
        if (!mmproj.hasVision()) throw f.error("this Gemma 3n mmproj has no vision tower (" + kType + " gemma3nv)");
        int size = f.requireInt(kSize);
        if (size <= 0 || size > 4096) throw f.error(kSize + " " + size + " is out of range");
        float eps = (float) f.getDouble(kEps, 1e-6);
        if (!(eps > 0 && eps < 1e-2)) throw f.error(kEps + " " + eps + " is out of range");
        try {
            float[] mean = channels(f, Gemma3nMmproj.key(f, "clip.vision.image_mean"), 0f), std = channels(f, Gemma3nMmproj.key(f, "clip.vision.image_std"), 1f);
            return new Gemma3nImageEncoder(mmproj, owns, mean, std, new MobileNetV5(mmproj.weights(), size, eps), mmproj.visionEmbedder(), matmul);
        } catch (IllegalArgumentException e) {
            throw f.error(e.getMessage());
        }
    }

    /** Per-channel values of a key; HF's SiglipImageProcessor for Gemma 3n does not normalise (mean 0, std 1). */
    private static float[] channels(GgufFile f, String key, float def) {
        float[] v = f.getFloatArray(key);
        if (v == null) return new float[]{def, def, def};
        if (v.length != 3) throw f.error(key + ": " + v.length + " values, expected 3");
        for (float x : v) if (!Float.isFinite(x)) throw f.error(key + ": value " + x + " is not finite");
        if (key.endsWith("std")) for (float x : v) if (x == 0f) throw f.error(key + ": a standard deviation of 0");
        return v.clone();
    }

    public MobileNetV5 tower() {
        return tower;
    }

    /** The mmproj the encoder reads (the text model's embedders come from it too). */
    public Gemma3nMmproj mmproj() {
        return mmproj;
    }

    @Override
    public Path path() {
        return mmproj.path();
    }

    @Override
    public float[] mean() {
        return mean.clone();
    }

    @Override
    public float[] std() {
        return std.clone();
    }

    @Override
    public boolean bidirectional() {
        return false;
    }

    @Override
    public synchronized void close() {
        if (repacked != null) repacked.close();
        repacked = null;
        packed = null;
        if (ownsMmproj) mmproj.close();
    }

    /** Side S of the square input the processor resizes to (768). */
    @Override
    public int imageSize() {
        return tower.imageSize();
    }

    @Override
    public int tokensPerImage() {
        return tower.tokens();
    }

    @Override
    public int textDim() {
        return embedder.textDim();
    }

    @Override
    public long scratchBytes() {
        return 4L * tower.scratchFloats();
    }

    @Override
    public long weightBytes() {
        return tower.weightBytes();
    }

    /** MobileNet-V5's output [256 × 2048] for one image's pixel values [3 × S × S] at {@code pixels[off..]}. */
    public float[] towerOutput(float[] pixels, int off, ThreadPool pool) {
        return runningTower(pool).forward(pixels, off, matmul, pool);
    }

    private MobileNetV5 runningTower(ThreadPool pool) {
        if (!(matmul instanceof FastMatMul)) return tower;
        MobileNetV5 t = packed;
        if (t != null) return t;
        synchronized (this) {
            if (packed == null) {
                repacked = RepackCache.open(mmproj.file(), cachePart(mmproj.insideModel()), tower.matrices(), pool);
                packed = tower.attach(repacked);
            }
            return packed;
        }
    }

    /** {@link #runningTower}'s copy, planned: none where the tower runs on the GGUF's matrices (exact mode). */
    @Override
    public WeightCopy firstImageCopy(Path dir) {
        return matmul instanceof FastMatMul ? firstImageCopy(mmproj.file(), mmproj.insideModel(), tower, dir) : null;
    }

    /** Inside a single-file model the tower's copies get a cache file of their own, apart from the text weights'. */
    private static String cachePart(boolean insideModel) {
        return insideModel ? "vision" : null;
    }

    /**
     * The interleaved copy the first image builds in the default mode ({@link #packed}), planned without building it:
     * its file in {@code dir}, its size, whether it is there already; null when no matrix of the tower has an
     * interleaved layout. For {@code jemma show}, and for the memory plan of an engine that takes images.
     *
     * @param insideModel whether {@code file} is a single-file model holding the towers (else an mmproj file)
     */
    public static WeightCopy firstImageCopy(GgufFile file, boolean insideModel, MobileNetV5 tower, Path dir) {
        return RepackCache.plan(file, cachePart(insideModel), tower.matrices().stream().map(RepackCache.Matrix::of).toList(), dir);
    }

    /** Soft-token embeddings [256 × textDim] for one image's pixel values. */
    @Override
    public float[] encode(float[] pixels, int off, ThreadPool pool) {
        return embed(towerOutput(pixels, off, pool), pool);
    }

    /** embed_vision's soft path over a tower output computed elsewhere (scaled by √width here). */
    public float[] embed(float[] towerOutput, ThreadPool pool) {
        float[] x = towerOutput.clone();
        for (int i = 0; i < x.length; i++) x[i] *= scale;
        return embedder.embedSoft(x, x.length / tower.width(), matmul, pool);
    }
}
