package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.audio.Gemma3nAudioModel;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.model.Gemma3nModel;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;

import java.nio.file.Path;

/** The Gemma 3n mmproj for the model-level commands (logits, embed-audio): found, opened and attached to the model. */
final class Media3n {
    private Media3n() {
    }

    static MatMul matmul(boolean exact) {
        return ModelLoader.matmulFor(new ModelLoader.Options(exact, 1, 1));
    }

    /**
     * Opens the mmproj ({@code explicit}, else the model file itself when it carries the towers, else the one beside the
     * model) and gives the model its embedders; refuses a
     * model that is not Gemma 3n and a missing mmproj with one line each.
     */
    static Gemma3nMmproj open(Path model, Path explicit, LanguageModel m, boolean exact, ThreadPool pool) {
        if (!(m instanceof Gemma3nModel g)) {
            throw new JemmaException(model.getFileName() + ": audio needs a Gemma 3n model (this one is " + m.config().architecture() + ")");
        }
        Path p = Gemma3nMmproj.find(model, explicit);
        if (p == null) throw new JemmaException(model.getFileName() + ": no Gemma 3n mmproj inside or beside the model; give it with --mmproj");
        Gemma3nMmproj mm = Gemma3nMmproj.open(p, m.config().dim(), m.config().vocabSize(), matmul(exact), pool);
        g.attachMultimodal(mm.perLayerVocab(), java.util.stream.Stream.of(mm.visionEmbedder(), mm.audioEmbedder())
                .filter(java.util.Objects::nonNull).toArray(dev.jemma.core.media3n.Gemma3nMultimodalEmbedder[]::new));
        return mm;
    }

    static Gemma3nAudioModel audio(Gemma3nMmproj p, LanguageModel m, boolean exact) {
        return new Gemma3nAudioModel(p, matmul(exact), m.config().vocabSize() - 1);
    }
}
