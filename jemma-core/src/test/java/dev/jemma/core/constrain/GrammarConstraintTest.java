package dev.jemma.core.constrain;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.tokenizer.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Masks on Gemma 3's real 262 144-token vocabulary: the trie walk against a token-by-token check. */
class GrammarConstraintTest {
    static Tokenizer tok;
    static GrammarVocabulary vocab;

    @BeforeAll
    static void load() throws Exception {
        try (GgufFile f = GgufFile.open(Path.of(GrammarConstraintTest.class.getResource("/tokenizer/gemma3-vocab.gguf").toURI()))) {
            tok = Tokenizer.fromGguf(f);
        }
        vocab = new GrammarVocabulary(tok, tok.vocabSize());
    }

    /** The trie walk's mask equals feeding every token's bytes to the matcher one by one. */
    private static void sameAsBruteForce(Grammar g, String prefix) {
        GrammarConstraint c = new GrammarConstraint(g, vocab);
        assertThat(c.matcher().feed(prefix.getBytes(StandardCharsets.UTF_8))).as(prefix).isTrue();
        long[] bits = c.allowed();
        int allowed = 0;
        for (int id = 0; id < tok.vocabSize(); id++) {
            boolean inMask = (bits[id >>> 6] >>> id & 1) != 0;
            byte[] b = vocab.bytes(id);
            boolean expected;
            if (vocab.isEndOfTurn(id)) expected = c.matcher().canEnd();
            else expected = b != null && b.length > 0 && c.matcher().accepts(b);
            if (inMask != expected) {
                throw new AssertionError("prefix " + prefix + ": token " + id + " '" + tok.piece(id) + "' mask " + inMask + " expected " + expected);
            }
            if (inMask) allowed++;
        }
        assertThat(allowed).as(prefix).isPositive();
    }

    @Test
    void jsonMasksMatchTokenByTokenChecks() {
        for (String prefix : List.of("", "{", "{\"", "{\"ke", "{\"a\": ", "{\"a\": 1", "{\"a\": -0.", "{\"a\": \"x\\", "{\"a\": \"é", "{\"a\": [tr", "{\"a\": {}} ")) {
            sameAsBruteForce(JsonConstraint.grammar(), prefix);
        }
    }

    @Test
    void utf8ClassMasksMatchTokenByTokenChecks() {
        Grammar g = Grammar.parse("root ::= ([à-ÿ] | [一-龥] | \" \")+ \".\"");
        sameAsBruteForce(g, "");
        sameAsBruteForce(g, "é");
        sameAsBruteForce(g, "中");
        GrammarMatcher m = new GrammarMatcher(g);
        m.feed(new byte[]{(byte) 0xE4}); // half a character: only its continuations fit
        GrammarConstraint c = new GrammarConstraint(g, vocab);
        c.matcher().feed(new byte[]{(byte) 0xE4});
        long[] bits = c.allowed();
        for (int id = 0; id < tok.vocabSize(); id++) {
            if ((bits[id >>> 6] >>> id & 1) != 0) assertThat(vocab.bytes(id)[0] & 0xC0).isEqualTo(0x80);
        }
    }

    @Test
    void endOfTurnOnlyWhereTheGrammarCanEnd() {
        Grammar g = Grammar.parse("root ::= \"yes\" | \"no\" | \"yes!\"");
        GrammarConstraint c = new GrammarConstraint(g, vocab);
        int eot = tok.endOfTurnIds()[tok.endOfTurnIds().length - 1];
        float[] logits = new float[tok.vocabSize()];
        c.mask(logits, logits.length);
        assertThat(logits[eot]).isEqualTo(Float.NEGATIVE_INFINITY);
        c.matcher().feed("yes".getBytes(StandardCharsets.UTF_8));
        logits = new float[tok.vocabSize()];
        c.mask(logits, logits.length);
        assertThat(logits[eot]).isZero();
        assertThat(logits[tok.tokenId("!").getAsInt()]).isZero();
        c.matcher().feed("!".getBytes(StandardCharsets.UTF_8));
        logits = new float[tok.vocabSize()];
        c.mask(logits, logits.length);
        int finite = 0;
        for (float l : logits) if (l != Float.NEGATIVE_INFINITY) finite++;
        assertThat(finite).as("only end-of-turn tokens once nothing can follow").isEqualTo(vocab.endOfTurn.length);
    }

    /**
     * A string with maxLength 5000 and a pattern [a-z]{2,4000}: the masks at every kind of position (start, far from
     * both bounds, the last token lengths before the maximum, at it) equal the token-by-token check, and every position
     * more than the longest token away from the bounds is masked as one state (so its allowed set is computed once).
     */
    @Test
    void longBoundedStringsMaskExactlyAndShareMasks() {
        Grammar g = JsonSchemaGrammar.fromSchema("{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\",\"maxLength\":5000},"
                + "\"code\":{\"type\":\"string\",\"pattern\":\"^[a-z]{2,4000}$\"}},\"required\":[\"text\",\"code\"],\"additionalProperties\":false}");
        String text = "{\"text\":\"";
        for (int n : new int[]{0, 1, 300, 2500, 5000 - vocab.maxDepth - 1, 5000 - vocab.maxDepth, 4990, 4999, 5000}) {
            sameAsBruteForce(g, text + "a".repeat(n));
        }
        String code = text + "ok\",\"code\":\"";
        for (int n : new int[]{0, 1, 2, 3, 200, 3000, 4000 - vocab.maxDepth, 3999, 4000}) sameAsBruteForce(g, code + "q".repeat(n));
        sameAsBruteForce(g, text + "é".repeat(2400) + "x");

        GrammarConstraint c = new GrammarConstraint(g, vocab);
        int fed = 200;
        c.matcher().feed((text + "a".repeat(fed)).getBytes(StandardCharsets.UTF_8));
        int shared = c.matcher().maskState(c.matcher().state(), vocab.maxDepth);
        long[] first = c.allowed().clone();
        while (5000 - (fed + 97) > vocab.maxDepth) {
            c.matcher().feed("a".repeat(97).getBytes(StandardCharsets.UTF_8));
            fed += 97;
            assertThat(c.matcher().maskState(c.matcher().state(), vocab.maxDepth)).as("after %d characters", fed).isEqualTo(shared);
            assertThat(c.allowed()).isEqualTo(first);
        }
        assertThat(fed).isGreaterThan(4700);
        // three characters left: a state of its own, and no run of four letters fits
        c.matcher().feed("a".repeat(4997 - fed).getBytes(StandardCharsets.UTF_8));
        assertThat(c.matcher().maskState(c.matcher().state(), vocab.maxDepth)).isNotEqualTo(shared);
        int letters4 = 0;
        for (int id = 0; id < tok.vocabSize(); id++) {
            byte[] b = vocab.bytes(id);
            if (b == null || b.length < 4 || !new String(b, StandardCharsets.ISO_8859_1).matches("[a-z]+")) continue;
            letters4++;
            assertThat(c.allows(id)).as(tok.piece(id)).isFalse();
        }
        assertThat(letters4).isPositive();
        assertThat(c.allows(tok.tokenId("aa").orElseThrow())).isTrue();
    }

    /** Not a benchmark: one rough figure in the test log for the record (cold walk, then the cached mask). */
    @Test
    void reportsMaskCost() {
        GrammarConstraint c = JsonConstraint.newConstraint(vocab);
        c.matcher().feed("{\"key\": \"some text".getBytes(StandardCharsets.UTF_8));
        float[] logits = new float[tok.vocabSize()];
        long t0 = System.nanoTime();
        c.mask(logits, logits.length);
        long t1 = System.nanoTime();
        for (int i = 0; i < 20; i++) c.mask(logits, logits.length);
        long t2 = System.nanoTime();
        System.out.printf("grammar mask on %d tokens (%d trie nodes): first %.2f ms, cached %.3f ms%n", tok.vocabSize(), vocab.nodes(),
                (t1 - t0) / 1e6, (t2 - t1) / 20e6);
    }

    /**
     * {@link GrammarConstraint#choose} (checked candidates, sampling among a small allowed set, a full mask only when
     * neither decides) draws the same tokens as masking the whole 262 144-token vocabulary before every draw: long runs
     * under a JSON Schema grammar and JSON mode with random logits, several sampling settings, token for token.
     */
    @Test
    void chooseDrawsWhatTheFullMaskDraws() {
        Grammar schema = JsonSchemaGrammar.fromSchema("{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":20},"
                + "\"age\":{\"type\":\"integer\"},\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"bb\",\"ccc\"]}},"
                + "\"ok\":{\"type\":\"boolean\"}},\"required\":[\"name\",\"age\",\"tags\",\"ok\"]}");
        int n = tok.vocabSize();
        java.util.Random rnd = new java.util.Random(5);
        dev.jemma.core.sampling.SamplingParams[] settings = {
                dev.jemma.core.sampling.SamplingParams.GEMMA_DEFAULTS,
                new dev.jemma.core.sampling.SamplingParams(0f, 64, 1f, 0f, 1f, 64, 0f, 0f, 3),
                new dev.jemma.core.sampling.SamplingParams(0.8f, 20, 0.9f, 0.02f, 1.2f, 32, 0.1f, 0.1f, 4)};
        int steps = 0;
        for (Grammar g : List.of(schema, JsonConstraint.grammar())) {
            for (dev.jemma.core.sampling.SamplingParams p : settings) {
                var fast = new dev.jemma.core.sampling.Sampler(p);
                var full = new dev.jemma.core.sampling.Sampler(p);
                GrammarConstraint a = new GrammarConstraint(g, vocab), b = new GrammarConstraint(g, vocab);
                int[] hist = new int[200];
                for (int i = 0; i < 80; i++, steps++) {
                    float[] logits = new float[n];
                    for (int t = 0; t < n; t++) logits[t] = (float) rnd.nextGaussian() * 2;
                    float[] masked = logits.clone();
                    b.mask(masked, n);
                    int want = full.sample(masked, 0, n, hist, i);
                    int got = a.choose(fast, logits, n, hist, i);
                    assertThat(got).as("step %d under %s", i, p).isEqualTo(want);
                    if (vocab.isEndOfTurn(got)) break;
                    a.accept(got);
                    b.accept(want);
                    hist[i] = got;
                }
            }
        }
        assertThat(steps).isGreaterThan(150);
    }

    /**
     * A token reference allows exactly that special token (a control token of Gemma's vocabulary), never text that
     * spells its name, and the masks still equal the token-by-token check.
     */
    @Test
    void tokenReferencesAllowOnlyTheSpecialToken() {
        Grammar g = Grammar.parse("root ::= \"a\" <start_of_image> [a-z]+ <end_of_image>");
        assertThat(g.tokens()).containsExactlyInAnyOrder("<start_of_image>", "<end_of_image>");
        int soi = tok.tokenId("<start_of_image>").getAsInt();
        int eoi = tok.tokenId("<end_of_image>").getAsInt();
        assertThat(tok.isControl(soi)).isTrue();
        sameAsBruteForce(g, "");
        GrammarConstraint c = new GrammarConstraint(g, vocab);
        c.accept(tok.tokenId("a").getAsInt());
        long[] bits = c.allowed();
        int allowed = 0;
        for (long w : bits) allowed += Long.bitCount(w);
        assertThat(allowed).as("only <start_of_image> may follow 'a'").isEqualTo(1);
        assertThat(c.allows(soi)).isTrue();
        assertThat(c.allows(tok.tokenId("<").getAsInt())).as("text '<' does not start the token").isFalse();
        assertThat(c.spelling(soi)).isEqualTo("<start_of_image>");
        c.accept(soi);
        assertThat(c.allows(eoi)).as("[a-z]+ needs a letter first").isFalse();
        c.accept(tok.tokenId("b").getAsInt());
        assertThat(c.allows(eoi)).isTrue();
        assertThat(c.complete()).isFalse();
        c.accept(eoi);
        assertThat(c.complete()).isTrue();
        assertThat(c.spelling(tok.tokenId("b").getAsInt())).isNull();
    }

    @Test
    void aTokenTheModelLacksIsRefused() {
        Grammar g = Grammar.parse("root ::= <no_such_token> \"x\"");
        assertThatThrownBy(() -> new GrammarConstraint(g, vocab)).hasMessageContaining("<no_such_token> is not a special token of this model");
    }
}
