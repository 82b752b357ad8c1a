package dev.jemma.core.engine;

import dev.jemma.core.JemmaException;
import dev.jemma.core.chat.ChatImage;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;
import dev.jemma.core.vision.Gemma3ImageProcessor;
import dev.jemma.core.vision.ImageDecoder;
import dev.jemma.core.vision.ImageEncoder;
import dev.jemma.core.vision.RgbImage;
import dev.jemma.core.vision.VisionConfig;
import dev.jemma.core.vision.VisionEncoder;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * An engine's eyes: the image encoder and the prompt conventions of Gemma 3's processor. An image marker
 * ({@code <start_of_image>}) in the rendered prompt becomes {@code \n\n<start_of_image>} + N soft tokens +
 * {@code <end_of_image>\n\n} (with pan-and-scan, the processor's "Here is the original image …" text and one such block
 * per crop), exactly as HF's Gemma3Processor expands it before tokenizing. Gemma 3n's processor expands each image to
 * the same block (256 soft tokens, no pan-and-scan), so one convention serves both; only the encoder and whether the
 * soft tokens see each other ({@link VisionEncoder#bidirectional()}) differ.
 */
final class Vision implements AutoCloseable {
    static final String BOI = "<start_of_image>", EOI = "<end_of_image>", SOFT = "<image_soft_token>";

    final VisionEncoder encoder;
    final boolean panAndScan;
    final int softToken;
    private final Gemma3ImageProcessor processor;

    private Vision(VisionEncoder encoder, boolean panAndScan, int softToken) {
        this.encoder = encoder;
        this.panAndScan = panAndScan;
        this.softToken = softToken;
        this.processor = Gemma3ImageProcessor.of(encoder);
    }

    /**
     * The vision side over an encoder opened elsewhere (Gemma 3n's, from its mmproj); {@code source} names it in
     * errors. Closing the vision side closes the encoder.
     */
    static Vision of(VisionEncoder encoder, Tokenizer tok, Path source) {
        return new Vision(encoder, false, softToken(tok, source));
    }

    /**
     * The vision side for a model, or null when it has none: {@code options.mmproj()} (errors when it does not fit the
     * model), else the tower inside the file, else the one {@code mmproj*.gguf} beside the model that fits. One beside it
     * that does not (another projector, Gemma 3n's, another width) is another model's: left alone with one warning line
     * naming it, and the model runs text only.
     */
    static Vision open(GgufFile modelFile, Path modelPath, EngineOptions options, MatMul matmul, int textDim, Tokenizer tok,
                       List<String> warnings) {
        Path explicit = options.mmproj();
        ImageEncoder enc = null;
        try {
            if (explicit != null) {
                enc = ImageEncoder.open(explicit, matmul);
                enc.requireTextWidth(textDim);
                return new Vision(enc, options.panAndScan(), softToken(tok, explicit));
            }
            if (VisionConfig.present(modelFile)) {
                enc = ImageEncoder.inModelFile(modelFile, matmul);
                return new Vision(enc, options.panAndScan(), softToken(tok, modelPath));
            }
            Path found = besideModel(modelPath);
            if (found == null || tok.tokenId(SOFT).isEmpty()) return null;
            try {
                enc = ImageEncoder.open(found, matmul);
            } catch (JemmaException e) {
                Engine.warn(warnings, "ignoring " + found.getFileName() + " beside the model: " + notGemma3(found, e) + "; running text only");
                return null;
            }
            if (enc.config().textDim() != textDim) {
                Engine.warn(warnings, "ignoring " + found.getFileName() + " beside the model: its projector feeds width " + enc.config().textDim()
                        + ", the model's is " + textDim + " (another model's?); running text only");
                enc.close();
                return null;   // an mmproj of another model in the same folder: not ours
            }
            return new Vision(enc, options.panAndScan(), softToken(tok, found));
        } catch (RuntimeException e) {
            if (enc != null) enc.close();
            throw e;
        }
    }

    /** Why an mmproj beside a Gemma 3 model is not its: Gemma 3n's towers are named as such, anything else by its error. */
    private static String notGemma3(Path mmproj, JemmaException e) {
        try (GgufFile f = GgufFile.open(mmproj)) {
            if (dev.jemma.core.media3n.Gemma3nMmproj.isGemma3nMmproj(f)) return "it is a Gemma 3n mmproj, not Gemma 3's (projector gemma3)";
        } catch (RuntimeException ignored) {
            // the first error says it
        }
        String m = e.getMessage();
        String name = mmproj.getFileName().toString();
        int at = m.indexOf(name + ": ");
        return at >= 0 ? m.substring(at + name.length() + 2) : m;
    }

    static Path besideModel(Path model) {
        return ImageEncoder.findBeside(model);
    }

    private static int softToken(Tokenizer tok, Path source) {
        for (String s : new String[]{BOI, EOI}) {
            if (tok.tokenId(s).isEmpty()) throw new JemmaException(source + ": the model's vocabulary has no " + s + " token, so it cannot take images");
        }
        return tok.tokenId(SOFT).orElseThrow(() -> new JemmaException(source + ": the model's vocabulary has no " + SOFT + " token, so it cannot take images"));
    }

    int tokensPerImage() {
        return encoder.tokensPerImage();
    }

    /** An image decoded and preprocessed: the original and its pan-and-scan crops (when on), as pixel values. */
    List<float[]> pixelValues(ChatImage image) {
        RgbImage rgb = ImageDecoder.decode(image.bytes(), image.name());
        List<float[]> out = new ArrayList<>();
        for (RgbImage im : Gemma3ImageProcessor.images(rgb, panAndScan)) out.add(processor.pixelValues(im));
        return out;
    }

    /** Soft-token embeddings of each of an image's parts (original, crops). */
    List<float[]> encode(List<float[]> pixelValues, ThreadPool pool) {
        List<float[]> out = new ArrayList<>();
        for (float[] p : pixelValues) out.add(encoder.encode(p, 0, pool));
        return out;
    }

    /** The text an image marker becomes for an image of {@code parts} parts (1 + its crops). */
    String expansion(int parts) {
        String block = "\n\n" + BOI + SOFT.repeat(tokensPerImage()) + EOI + "\n\n";
        String text = Gemma3ImageProcessor.panAndScanText(BOI, parts - 1);
        return text.replace(BOI, block);
    }

    @Override
    public void close() {
        encoder.close();
    }
}
