package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;
import dev.jemma.core.vision.Gemma3ImageProcessor;
import dev.jemma.core.vision.ImageDecoder;
import dev.jemma.core.vision.ImageEncoder;
import dev.jemma.core.vision.RgbImage;
import dev.jemma.core.vision.VisionConfig;
import dev.jemma.core.vision.VisionEncoder;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.mobilenet.Gemma3nImageEncoder;
import dev.jemma.core.tensor.MatMul;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Gemma 3 / 3n text model with its image encoder, for the conformance tools ({@code logits --image},
 * {@code embed-image}): the mmproj file given, or the vision tower inside the model file, or the mmproj beside it. A
 * Gemma 3n model also gets the mmproj's embedders for its media ids.
 */
record VisionModel(LanguageModel model, VisionEncoder encoder, int softToken) implements AutoCloseable {
    static VisionModel open(Path path, Path mmproj, boolean exact, String matformer, int tokens, int threads, ThreadPool pool) {
        GgufFile file = GgufFile.open(path);
        VisionEncoder enc = null;
        try {
            ModelLoader.requireSupported(file);
            int soft = Tokenizer.fromGguf(file).tokenId("<image_soft_token>")
                    .orElseThrow(() -> new JemmaException(path + ": the vocabulary has no <image_soft_token>, so the model cannot take images"));
            ModelLoader.Options o = new ModelLoader.Options(exact, threads, 64, matformer).withContextLength(Math.max(tokens, 1));
            enc = encoder(file, path, mmproj, o, pool);
            enc.requireTextWidth(ModelLoader.readConfig(file).dim());
            // a whole image's soft tokens go through one forward call (Gemma 3's bidirectional images)
            int batch = enc.bidirectional() ? Math.max(64, enc.tokensPerImage()) : 64;
            o = new ModelLoader.Options(exact, threads, batch, matformer).withContextLength(Math.max(tokens, 1));
            // the engine's with-images plan: the text model's, the tower's copy the first image builds, an image's encoding
            ModelLoader.plan(file, o).withImages(enc.firstImageCopy(dev.jemma.core.repack.RepackCache.defaultDir()), enc.scratchBytes())
                    .check(o.checkMemory());
            LanguageModel m = ModelLoader.load(file, o.withCheckMemory(false), pool, true);
            try {
                if (enc instanceof Gemma3nImageEncoder g) g.mmproj().attachTo(m);
            } catch (RuntimeException e) {
                m.close();
                throw e;
            }
            return new VisionModel(m, enc, soft);
        } catch (RuntimeException e) {
            if (enc != null) enc.close();
            file.close();
            throw e;
        }
    }

    /**
     * The encoder of an mmproj file, or of the vision tower inside the model file, or of the mmproj beside it. For a
     * Gemma 3n model: its mmproj's MobileNet-V5, or the one inside a single-file model (the encoder owns the mmproj).
     */
    static VisionEncoder encoder(GgufFile modelFile, Path modelPath, Path mmproj, ModelLoader.Options o, ThreadPool pool) {
        MatMul mm = ModelLoader.matmulFor(o);
        boolean gemma3n = modelFile != null && "gemma3n".equals(modelFile.getString("general.architecture"));
        if (modelFile != null && "gemma3nv".equals(VisionConfig.projectorType(modelFile))) {
            throw new JemmaException(modelPath.getFileName() + " is a Gemma 3n mmproj: its embedder is laid out by the text model, so give"
                    + " that model with it (MODEL --mmproj " + modelPath.getFileName() + ")");
        }
        if (mmproj != null) {
            if (!Files.isRegularFile(mmproj)) throw new JemmaException(mmproj + ": no such mmproj file");
            return gemma3n ? gemma3n(modelFile, mmproj, mm, pool) : ImageEncoder.open(mmproj, mm);
        }
        if (!gemma3n && modelFile != null && VisionConfig.present(modelFile)) return ImageEncoder.inModelFile(modelFile, mm);
        if (gemma3n && Gemma3nMmproj.carriesTowers(modelFile)) return gemma3n(modelFile, modelPath, mm, pool);
        Path beside = ImageEncoder.findBeside(modelPath);
        if (beside != null) return gemma3n ? gemma3n(modelFile, beside, mm, pool) : ImageEncoder.open(beside, mm);
        throw new JemmaException(modelPath + ": no vision tower in the model file and no mmproj-*.gguf beside it; give its projector with --mmproj");
    }

    /** A Gemma 3n model's image encoder from its mmproj (laid out for the model's width and vocabulary). */
    private static VisionEncoder gemma3n(GgufFile modelFile, Path mmproj, MatMul mm, ThreadPool pool) {
        var tc = ModelLoader.readConfig(modelFile);
        Gemma3nMmproj p = Gemma3nMmproj.open(mmproj, tc.dim(), tc.vocabSize(), mm, pool);
        try {
            return Gemma3nImageEncoder.owning(p, mm);
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /** Every image (and with pan-and-scan its crops, after it) encoded, in order: [tokens × width] each. */
    List<float[]> encode(List<Path> images, boolean panAndScan, ThreadPool pool) {
        return encodeAll(encoder, images, panAndScan, pool);
    }

    static List<float[]> encodeAll(VisionEncoder enc, List<Path> images, boolean panAndScan, ThreadPool pool) {
        if (panAndScan && !(enc instanceof ImageEncoder)) {
            throw new JemmaException("--pan-and-scan is Gemma 3's; Gemma 3n's image processor has none");
        }
        Gemma3ImageProcessor p = Gemma3ImageProcessor.of(enc);
        List<float[]> out = new ArrayList<>();
        for (Path img : images) {
            RgbImage rgb = ImageDecoder.read(img);
            for (RgbImage part : Gemma3ImageProcessor.images(rgb, panAndScan)) out.add(enc.encode(p.pixelValues(part), 0, pool));
        }
        return out;
    }

    @Override
    public void close() {
        encoder.close();
        model.close();
    }
}
