package dev.jemma.core.audio;

import dev.jemma.core.JemmaException;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.media3n.Gemma3nMultimodalEmbedder;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;

/**
 * Gemma 3n's ears, end to end (HF {@code Gemma3nModel.get_audio_features} and the padding in its forward): a 16 kHz
 * clip → log-mel features → conformer → embed_audio (soft) → the rows that replace a clip's run of
 * {@code <audio_soft_token>}. HF's processor always writes {@code audio_soft_tokens_per_image} soft tokens per clip
 * (188 in every released Gemma 3n: 30 s at one token per 160 ms); a shorter clip's encoder gives fewer rows and the
 * rest of the run is embed_audio's hard embedding of the vocabulary's last id, as HF pads it.
 * Safe for concurrent calls; the mmproj stays the caller's.
 */
public final class Gemma3nAudioModel {
    /** HF Gemma3nConfig.audio_soft_tokens_per_image of the released checkpoints (the mmproj does not carry it). */
    public static final int DEFAULT_TOKENS_PER_CLIP = 188;

    private final Gemma3nAudioEncoder encoder;
    private final Gemma3nMultimodalEmbedder embedder;
    private final MatMul matmul;
    private final int padId;

    /**
     * @param padId the id whose hard embedding pads a clip's run (HF: vocab_size − 1 of the text model)
     */
    public Gemma3nAudioModel(Gemma3nMmproj mmproj, MatMul matmul, int padId) {
        if (!mmproj.hasAudio()) {
            throw new JemmaException(mmproj.path().getFileName() + ": this mmproj has no audio tower (clip.audio.projector_type gemma3na)");
        }
        AudioEncoderConfig cfg;
        try {
            cfg = AudioEncoderConfig.read(mmproj.file());
        } catch (IllegalArgumentException e) {
            throw mmproj.file().error(e.getMessage());
        }
        this.encoder = new Gemma3nAudioEncoder(mmproj.weights(), cfg);
        this.embedder = mmproj.audioEmbedder();
        if (embedder.inputDim() != cfg.hidden()) {
            throw mmproj.file().error("mm.a.embedding.weight is " + embedder.inputDim() + " wide but the audio tower is " + cfg.hidden());
        }
        this.matmul = matmul;
        this.padId = padId;
        if (!embedder.owns(padId)) throw new IllegalArgumentException("padding id " + padId + " is not an audio id");
    }

    public AudioEncoderConfig config() {
        return encoder.config();
    }

    public Gemma3nMultimodalEmbedder embedder() {
        return embedder;
    }

    /** Tokens the encoder gives for a clip (before padding): one per 160 ms, rounded up. */
    public static int encoderTokens(AudioClip clip) {
        return AudioEncoderConfig.tokens(Gemma3nAudioFeatureExtractor.frames(clip.samples().length));
    }

    /** Log-mel features [frames × 128]. */
    public float[] features(AudioClip clip) {
        return Gemma3nAudioFeatureExtractor.extract(clip);
    }

    /** The conformer's output [encoderTokens × audio width]. */
    public float[] towerOutput(AudioClip clip, ThreadPool pool) {
        float[] mel = features(clip);
        return encoder.encode(mel, mel.length / Gemma3nAudioFeatureExtractor.MEL_BINS, matmul, pool);
    }

    /** embed_audio of the tower output [encoderTokens × text width]. */
    public float[] embed(AudioClip clip, ThreadPool pool) {
        float[] tower = towerOutput(clip, pool);
        return embedder.embedSoft(tower, tower.length / encoder.config().hidden(), matmul, pool);
    }

    /** The rows of a clip's soft-token run of length {@code tokens} [tokens × text width], padded as HF pads them. */
    public float[] softTokens(AudioClip clip, int tokens, ThreadPool pool) {
        float[] e = embed(clip, pool);
        int dim = embedder.textDim(), have = e.length / dim;
        if (have > tokens) {
            throw new JemmaException(clip.name() + ": " + AudioClip.duration(clip.seconds()) + " of audio gives " + have
                    + " audio tokens, more than the " + tokens + " the prompt has room for");
        }
        float[] out = java.util.Arrays.copyOf(e, tokens * dim);
        for (int r = have; r < tokens; r++) embedder.embedHard(padId, out, r * dim);
        return out;
    }
}
