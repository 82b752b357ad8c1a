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

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Gemma 3 text model with its image encoder, for the conformance tools ({@code logits --image},
 * {@code embed-image}): the mmproj file given, or the vision tower inside the model file.
 */
record VisionModel(LanguageModel model, ImageEncoder encoder, int softToken) implements AutoCloseable {
    static VisionModel open(Path path, Path mmproj, boolean exact, String matformer, int tokens, int threads, ThreadPool pool) {
        GgufFile file = GgufFile.open(path);
        ImageEncoder enc = null;
        try {
            ModelLoader.requireSupported(file);
            int soft = Tokenizer.fromGguf(file).tokenId("<image_soft_token>")
                    .orElseThrow(() -> new JemmaException(path + ": the vocabulary has no <image_soft_token>, so the model cannot take images"));
            ModelLoader.Options o = new ModelLoader.Options(exact, threads, 64, matformer).withContextLength(Math.max(tokens, 1));
            enc = encoder(file, path, mmproj, o);
            enc.requireTextWidth(ModelLoader.readConfig(file).dim());
            // a whole image's soft tokens go through one forward call
            o = new ModelLoader.Options(exact, threads, Math.max(64, enc.tokensPerImage()), matformer).withContextLength(Math.max(tokens, 1));
            LanguageModel m = ModelLoader.load(file, o, pool, true);
            return new VisionModel(m, enc, soft);
        } catch (RuntimeException e) {
            if (enc != null) enc.close();
            file.close();
            throw e;
        }
    }

    /** The encoder of an mmproj file, or of the vision tower inside the model file. */
    static ImageEncoder encoder(GgufFile modelFile, Path modelPath, Path mmproj, ModelLoader.Options o) {
        if (mmproj != null) {
            if (!Files.isRegularFile(mmproj)) throw new JemmaException(mmproj + ": no such mmproj file");
            return ImageEncoder.open(mmproj, ModelLoader.matmulFor(o));
        }
        if (modelFile != null && VisionConfig.present(modelFile)) return ImageEncoder.inModelFile(modelFile, ModelLoader.matmulFor(o));
        Path beside = ImageEncoder.findBeside(modelPath);
        if (beside != null) return ImageEncoder.open(beside, ModelLoader.matmulFor(o));
        throw new JemmaException(modelPath + ": no vision tower in the model file and no mmproj-*.gguf beside it; give its projector with --mmproj");
    }

    /** Every image (and with pan-and-scan its crops, after it) encoded, in order: [tokens × width] each. */
    List<float[]> encode(List<Path> images, boolean panAndScan, ThreadPool pool) {
        return encodeAll(encoder, images, panAndScan, pool);
    }

    static List<float[]> encodeAll(ImageEncoder enc, List<Path> images, boolean panAndScan, ThreadPool pool) {
        Gemma3ImageProcessor p = Gemma3ImageProcessor.of(enc.config());
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
