package dev.jemma.core.sampling;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The DRY penalty ({@link DryParams}) over token ids. For the context's last token L, every earlier occurrence of L
 * starts a repeat: its length is how far the tokens before that occurrence match the tokens before the end (L
 * included), stopping at a sequence breaker; the token that followed the occurrence would extend the repeat, so its logit
 * loses {@code multiplier · base^(length − allowedLength)} once the length reaches {@code allowedLength} (a token
 * followed several occurrences takes its longest repeat). Nothing is penalised when L is a breaker, and a breaker is
 * never penalised (DRY's published version; llama.cpp penalises it). A token is a breaker when its text contains one of
 * the breaker texts, so "\n\n" breaks as "\n" does; unlike llama.cpp, a breaker text that only a run of several tokens
 * spells is not recognised (the defaults are single characters, which every token holding them contains).
 *
 * <p>Every repeat length comes from one Z-function over the reversed window, so a step costs time linear in the window
 * even for degenerate text (one token repeated thousands of times), where extending each occurrence backwards is
 * quadratic. Not thread-safe (one per sampler).
 */
final class Dry {
    private final DryParams p;
    private final BitSet breakers;
    private int[] rev = new int[0], z = new int[0];
    private long[] found = new long[0];

    /**
     * @param tokenBytes each token's text as UTF-8 (null: no tokenizer, which only a breaker-free DRY can do without)
     * @param previous   a DRY of the same tokenizer whose breaker set is reused when its breakers are the same; may be null
     */
    Dry(DryParams p, IntFunction<byte[]> tokenBytes, int vocab, Dry previous) {
        this.p = p;
        if (previous != null && previous.p.breakers().equals(p.breakers())) {
            breakers = previous.breakers;
            rev = previous.rev;
            z = previous.z;
        } else {
            breakers = breakerTokens(p.breakers(), tokenBytes, vocab);
        }
    }

    static BitSet breakerTokens(List<String> texts, IntFunction<byte[]> tokenBytes, int vocab) {
        BitSet set = new BitSet();
        if (texts.isEmpty()) return set;
        if (tokenBytes == null) throw new IllegalArgumentException("DRY's sequence breakers need the tokenizer's vocabulary");
        byte[][] needles = texts.stream().map(t -> t.getBytes(StandardCharsets.UTF_8)).toArray(byte[][]::new);
        for (int id = 0; id < vocab; id++) {
            byte[] b = tokenBytes.apply(id);
            for (byte[] n : needles) {
                if (Arrays.equals(b, n) || indexOf(b, n) >= 0) {
                    set.set(id);
                    break;
                }
            }
        }
        return set;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }

    /** Subtracts the penalties from {@code l[0..vocab)} for the context {@code history[0..histLen)}. */
    void apply(float[] l, int vocab, int[] history, int histLen) {
        if (history == null || histLen < 2) return;
        int from = (int) Math.max(0, (long) histLen - p.penaltyLastN());
        int w = histLen - from;
        int last = history[histLen - 1];
        if (breakers.get(last)) return;
        // how many tokens at the end can belong to a repeat: up to the last breaker
        int tail = 1;
        while (tail < w && !breakers.get(history[histLen - 1 - tail])) tail++;
        if (tail < p.allowedLength()) return; // no repeat can reach the allowed length
        if (rev.length < w) {
            rev = new int[w];
            z = new int[w];
        }
        for (int k = 0; k < w; k++) rev[k] = history[histLen - 1 - k];
        zFunction(rev, w, z);
        // rev[k] is history[histLen-1-k]: z[k] is the length of the common suffix of the context and its prefix that
        // ends there; the token after that occurrence is history[histLen-k] = rev[k-1]
        int nFound = 0;
        for (int k = 1; k < w; k++) {
            int length = Math.min(z[k], tail);
            if (length < p.allowedLength()) continue;
            int next = rev[k - 1];
            if (breakers.get(next) || next < 0 || next >= vocab) continue;
            if (nFound == found.length) found = Arrays.copyOf(found, Math.max(16, 2 * nFound));
            found[nFound++] = (long) next << 32 | length;
        }
        if (nFound == 0) return;
        // the longest repeat per token: sorted by (token, length), the last entry of each token's run
        Arrays.sort(found, 0, nFound);
        for (int i = 0; i < nFound; i++) {
            if (i + 1 < nFound && found[i + 1] >>> 32 == found[i] >>> 32) continue;
            int token = (int) (found[i] >>> 32), length = (int) found[i];
            l[token] -= penalty(length);
        }
    }

    /** multiplier · base^(length − allowed), kept finite: a huge penalty bans the token, an infinite one would be NaN beside −∞. */
    float penalty(int length) {
        double v = p.multiplier() * Math.pow(p.base(), length - p.allowedLength());
        return (float) Math.min(v, Float.MAX_VALUE);
    }

    /** z[k] = the length of the longest common prefix of s[0..n) and s[k..n); z[0] = n. */
    static void zFunction(int[] s, int n, int[] z) {
        if (n == 0) return;
        z[0] = n;
        int lo = 0, hi = 0; // [lo, hi) is the rightmost match window found
        for (int k = 1; k < n; k++) {
            int v = k < hi ? Math.min(hi - k, z[k - lo]) : 0;
            while (k + v < n && s[v] == s[k + v]) v++;
            z[k] = v;
            if (k + v > hi) {
                lo = k;
                hi = k + v;
            }
        }
    }
}
