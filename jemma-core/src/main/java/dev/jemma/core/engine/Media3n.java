package dev.jemma.core.engine;

import dev.jemma.core.JemmaException;
import dev.jemma.core.audio.AudioClip;
import dev.jemma.core.audio.Gemma3nAudioModel;
import dev.jemma.core.chat.ChatAudio;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.model.Gemma3nModel;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tokenizer.Tokenizer;


/**
 * A Gemma 3n engine's ears: the audio tower of its mmproj (opened by {@link Engine}, which also gives the model the
 * embedders) with the conventions of HF's Gemma3nProcessor: an {@code <audio_soft_token>} in the rendered prompt
 * becomes {@code \n\n<start_of_audio>} + N × {@code <audio_soft_token>} + {@code <end_of_audio>\n\n}, N =
 * audio_soft_tokens_per_image (188), and the clip's embeddings (padded as HF pads them) fill that run.
 */
final class Media3n {
    static final String BOA = "<start_of_audio>", EOA = "<end_of_audio>", AUDIO_SOFT = "<audio_soft_token>";

    final Gemma3nAudioModel audio;
    final int audioSoftToken, tokensPerClip;

    private Media3n(Gemma3nAudioModel audio, int audioSoftToken, int tokensPerClip) {
        this.audio = audio;
        this.audioSoftToken = audioSoftToken;
        this.tokensPerClip = tokensPerClip;
    }

    /** The audio side of a Gemma 3n model whose mmproj has the audio tower; the mmproj stays the engine's. */
    static Media3n open(Gemma3nMmproj mm, Gemma3nModel model, MatMul matmul, Tokenizer tok, int tokensPerClip) {
        for (String s : new String[]{BOA, EOA, AUDIO_SOFT}) {
            if (tok.tokenId(s).isEmpty()) throw new JemmaException(mm.path() + ": the model's vocabulary has no " + s + " token, so it cannot take audio");
        }
        int soft = tok.tokenId(AUDIO_SOFT).getAsInt();
        if (!mm.audioEmbedder().owns(soft)) {
            throw new JemmaException(mm.path() + ": " + AUDIO_SOFT + " is token " + soft + ", outside the audio embedder's ids (an mmproj of another model?)");
        }
        return new Media3n(new Gemma3nAudioModel(mm, matmul, model.config().vocabSize() - 1), soft, tokensPerClip);
    }

    /** The text a clip marker becomes (HF Gemma3nProcessor.full_audio_sequence). */
    String audioExpansion() {
        return "\n\n" + BOA + AUDIO_SOFT.repeat(tokensPerClip) + EOA + "\n\n";
    }

    /** Decodes a clip and refuses what Gemma 3n cannot hear in one piece (one line each). */
    static AudioClip decode(ChatAudio a) {
        return AudioClip.fromWav(a.bytes(), a.name(), AudioClip.MAX_FILE_SECONDS).requireOnePiece();
    }
}
