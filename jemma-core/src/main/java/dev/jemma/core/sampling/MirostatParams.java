package dev.jemma.core.sampling;

/**
 * Mirostat (Basu et al., 2021): instead of a fixed truncation, keeps the surprise of the chosen tokens near a target by
 * adjusting a cut after every token. When on, it replaces top-n-sigma, top-k, locally typical, top-p, min-p and XTC,
 * as in llama.cpp and Ollama; then temperature. Unlike llama.cpp, whose Mirostat chain has only temperature and Mirostat
 * (so it ignores the repeat penalties and DRY without a word), the penalties and DRY asked for still apply before it:
 * a request that sets them gets them.
 *
 * @param version 0 = off, 1 = Mirostat, 2 = Mirostat 2.0 (llama.cpp's and Ollama's {@code mirostat})
 * @param tau     target surprise in bits ({@code mirostat_tau}, llama-cli's {@code --mirostat-ent}); the cut starts at 2τ
 * @param eta     learning rate of the cut ({@code mirostat_eta}, {@code --mirostat-lr})
 */
public record MirostatParams(int version, float tau, float eta) {
    /** Off, with llama.cpp's and Ollama's defaults for τ (5) and η (0.1). */
    public static final MirostatParams OFF = new MirostatParams(0, 5f, 0.1f);
    /** Bounds that only catch typos: τ is in bits (a vocabulary of 262 144 is 18), η a learning rate. */
    public static final int MAX_TAU = 100, MAX_ETA = 10;

    public MirostatParams {
        if (version < 0 || version > 2) throw new IllegalArgumentException("mirostat must be 0 (off), 1 or 2, got " + version);
        if (!(tau >= 0 && tau <= MAX_TAU)) throw new IllegalArgumentException("mirostat tau must be in [0, 100], got " + tau);
        if (!(eta >= 0 && eta <= MAX_ETA)) throw new IllegalArgumentException("mirostat eta must be in [0, 10], got " + eta);
    }

    public boolean on() {
        return version != 0;
    }
}
