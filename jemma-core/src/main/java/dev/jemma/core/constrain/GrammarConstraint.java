package dev.jemma.core.constrain;

import dev.jemma.core.JemmaException;
import dev.jemma.core.engine.TokenFilter;
import dev.jemma.core.sampling.Sampler;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Constrains a generation to a {@link Grammar}: before each sampling step every token whose bytes the grammar cannot
 * take next gets logit −∞ (so temperature, top-k and top-p only ever see allowed tokens), and the end-of-turn token is
 * allowed only where the grammar may end. When the grammar is complete and nothing can follow, end-of-turn is the only
 * choice.
 *
 * <p>The mask's effect is exact but most steps never build it ({@link #choose}): the sampler's best candidates are
 * checked against the grammar one by one (a JSON string body allows nearly all of them), and a state that allows few
 * tokens (a key, a number, punctuation) is sampled among its allowed ids. The allowed set of a state, when needed, is
 * computed once by a trie walk ({@link GrammarVocabulary}) and kept (a few dozen states, least recently used dropped).
 * Both are keyed by {@link GrammarMatcher#maskState}, which no token can tell apart from the parse state: along a
 * {@code maxLength} string every count farther than the longest token from the bounds has the same allowed set and
 * the same cached byte transitions.
 *
 * <p>One instance per generation (it keeps the parse state); set it with
 * {@link dev.jemma.core.engine.Session#setTokenFilter}, or pass a grammar in
 * {@link dev.jemma.core.engine.GenerationOptions}.
 */
public final class GrammarConstraint implements TokenFilter {
    private static final int CACHED_MASKS = 64;
    /** A state allowing at most vocabulary/SPARSE tokens keeps their ids and is sampled among them directly. */
    private static final int SPARSE = 16;

    private final GrammarVocabulary vocab;
    private final GrammarMatcher matcher;
    private final Map<Integer, Allowed> masks = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Integer, Allowed> e) {
            return size() > CACHED_MASKS;
        }
    };
    private int maskGeneration;
    private boolean ended;

    /** A state's allowed tokens: the bit set, and the ids in ascending order when they are few (else null). */
    private record Allowed(long[] bits, int[] ids) {
    }

    /** @throws JemmaException when the grammar names a special token this model does not have */
    public GrammarConstraint(Grammar grammar, GrammarVocabulary vocab) {
        for (String t : grammar.tokens()) {
            if (vocab.specialId(t) < 0) {
                throw new JemmaException("grammar: " + t + " is not a special token of this model (a token reference <…> names a"
                        + " control or user-defined token by its text)");
            }
        }
        this.vocab = vocab;
        this.matcher = new GrammarMatcher(grammar);
    }

    /**
     * A special token the grammar accepted is part of the answer's text (FunctionGemma's {@code <start_function_call>}):
     * its text, where the decoder would print nothing for a control token; null for other tokens.
     */
    @Override
    public String spelling(int id) {
        return vocab.isSpecial(id) ? vocab.specialText(id) : null;
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

    /**
     * What {@code sampler} draws after {@link #mask}, usually without masking: a state known to allow few tokens is
     * sampled among them ({@link Sampler#sampleAmong}); otherwise the sampler's best candidates are checked one by one
     * ({@link Sampler#sampleAllowed}), which decides the draw whenever the top-k allowed tokens are among them — inside a
     * string, nearly always. Only when neither applies is the vocabulary masked. Every path draws the same token.
     */
    @Override
    public int choose(Sampler sampler, float[] logits, int n, int[] history, int histLen) {
        Allowed a = cached();
        if (a == null || a.ids == null) {
            int id = sampler.sampleAllowed(logits, 0, n, history, histLen, this::allows);
            if (id >= 0) return id;
            a = allowedSet();
        }
        if (a.ids != null && n >= vocab.size) return sampler.sampleAmong(logits, 0, n, a.ids, a.ids.length, history, histLen);
        mask(logits, n);
        return sampler.sample(logits, 0, n, history, histLen);
    }

    /** The allowed-token bit set of the current state (cached per state). */
    long[] allowed() {
        return allowedSet().bits;
    }

    /** The current state's allowed set if it is cached, else null. */
    private Allowed cached() {
        if (matcher.generation() != maskGeneration) {
            masks.clear();
            maskGeneration = matcher.generation();
        }
        return masks.get(maskState());
    }

    /** The state the current one is masked as: alike for every token (none is longer than the trie is deep). */
    private int maskState() {
        return matcher.maskState(matcher.state(), vocab.maxDepth);
    }

    private Allowed allowedSet() {
        Allowed a = cached();
        if (a != null) return a;
        int state = maskState();
        long[] bits = new long[(vocab.size + 63) >>> 6];
        int count = vocab.fill(matcher, state, bits);
        if (count == 0) {
            throw new JemmaException("grammar: no token of this model can continue the answer here (the grammar needs a"
                    + " byte no token spells)");
        }
        int[] ids = null;
        count = 0;
        for (long w : bits) count += Long.bitCount(w);
        if (count <= vocab.size / SPARSE) {
            ids = new int[count];
            int j = 0;
            for (int w = 0; w < bits.length; w++) {
                for (long b = bits[w]; b != 0; b &= b - 1) ids[j++] = w << 6 | Long.numberOfTrailingZeros(b);
            }
        }
        a = new Allowed(bits, ids);
        masks.put(state, a);
        return a;
    }

    /** Whether token {@code id} may come next (what {@link #mask} leaves finite). */
    public boolean allows(int id) {
        int state = maskState();
        if (matcher.generation() == maskGeneration) {
            Allowed a = masks.get(state);
            if (a != null) return id >= 0 && id < vocab.size && (a.bits[id >>> 6] >>> id & 1) != 0;
        }
        if (vocab.isEndOfTurn(id)) return matcher.canEnd();
        byte[] b = vocab.bytes(id);
        return b != null && b.length > 0 && b.length <= vocab.maxDepth && matcher.accepts(state, b);
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
