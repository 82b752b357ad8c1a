package dev.jemma.core.constrain;

import dev.jemma.core.JemmaException;
import dev.jemma.core.engine.TokenFilter;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Constrains a generation to a {@link Grammar}: before each sampling step every token whose bytes the grammar cannot
 * take next gets logit −∞ (so temperature, top-k and top-p only ever see allowed tokens), and the end-of-turn token is
 * allowed only where the grammar may end. When the grammar is complete and nothing can follow, end-of-turn is the only
 * choice.
 *
 * <p>The allowed set of a grammar state is computed once by a trie walk ({@link GrammarVocabulary}) and kept (a few
 * dozen states, least recently used dropped): a JSON string body, a number, whitespace — the states a long answer
 * spends most tokens in — cost one pass over the logits after their first visit.
 *
 * <p>One instance per generation (it keeps the parse state); set it with
 * {@link dev.jemma.core.engine.Session#setTokenFilter}, or pass a grammar in
 * {@link dev.jemma.core.engine.GenerationOptions}.
 */
public final class GrammarConstraint implements TokenFilter {
    private static final int CACHED_MASKS = 64;

    private final GrammarVocabulary vocab;
    private final GrammarMatcher matcher;
    private final Map<Integer, long[]> masks = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Integer, long[]> e) {
            return size() > CACHED_MASKS;
        }
    };
    private int maskGeneration;
    private boolean ended;

    public GrammarConstraint(Grammar grammar, GrammarVocabulary vocab) {
        this.vocab = vocab;
        this.matcher = new GrammarMatcher(grammar);
    }

    /** Whether the text accepted so far is a complete sentence of the grammar. */
    public boolean complete() {
        return matcher.canEnd();
    }

    public GrammarMatcher matcher() {
        return matcher;
    }

    @Override
    public void mask(float[] logits, int n) {
        long[] allowed = allowed();
        int limit = Math.min(n, vocab.size);
        for (int w = 0, base = 0; base < limit; w++, base += 64) {
            long bits = allowed[w];
            if (bits == -1L) continue;
            int top = Math.min(64, limit - base);
            for (int k = 0; k < top; k++) if ((bits >>> k & 1) == 0) logits[base + k] = Float.NEGATIVE_INFINITY;
        }
        for (int id = limit; id < n; id++) logits[id] = Float.NEGATIVE_INFINITY;
    }

    /** The allowed-token bit set of the current state (cached per state). */
    long[] allowed() {
        if (matcher.generation() != maskGeneration) {
            masks.clear();
            maskGeneration = matcher.generation();
        }
        int state = matcher.state();
        long[] bits = masks.get(state);
        if (bits == null) {
            bits = new long[(vocab.size + 63) >>> 6];
            if (vocab.fill(matcher, state, bits) == 0) {
                throw new JemmaException("grammar: no token of this model can continue the answer here (the grammar needs a"
                        + " byte no token spells)");
            }
            masks.put(state, bits);
        }
        return bits;
    }

    /** Token checks against the current state: a cached mask's bit, else the token's bytes through the matcher. */
    @Override
    public java.util.function.IntPredicate checker() {
        return this::allows;
    }

    /** Whether token {@code id} may come next (what {@link #mask} leaves finite). */
    public boolean allows(int id) {
        if (matcher.generation() == maskGeneration) {
            long[] bits = masks.get(matcher.state());
            if (bits != null) return id < vocab.size && (bits[id >>> 6] >>> id & 1) != 0;
        }
        if (vocab.isEndOfTurn(id)) return matcher.canEnd();
        byte[] b = vocab.bytes(id);
        return b != null && b.length > 0 && b.length < 128 && matcher.accepts(b);
    }

    @Override
    public void accept(int id) {
        if (vocab.isEndOfTurn(id)) {
            ended = true;
            return;
        }
        byte[] b = vocab.bytes(id);
        if (b == null || !matcher.feed(b)) {
            // Only reachable when the sampler ignored the mask (e.g. ignore-eos past the grammar's end).
            throw new IllegalStateException("grammar: token " + id + " does not continue the grammar");
        }
    }

    /** Whether an end-of-turn token has been accepted. */
    public boolean ended() {
        return ended;
    }
}
