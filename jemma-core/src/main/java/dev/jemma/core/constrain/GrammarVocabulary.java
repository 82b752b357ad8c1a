package dev.jemma.core.constrain;

import dev.jemma.core.tokenizer.Tokenizer;

import java.util.Arrays;

/**
 * A model's tokens as a byte trie, for masking: one step walks the trie once from the grammar's current state, and a
 * subtree whose prefix the grammar rejects is skipped whole. The trie is stored flat in preorder (a subtree is the
 * contiguous range {@code [i, end[i])}), so the walk is a loop over arrays. Built once per model (about 60 ms and
 * 10 MB for Gemma's 262 144 tokens); immutable and shared by every generation.
 *
 * <p>Special tokens (control tokens and user-defined tokens spelled {@code <…>}, Gemma's markup) are not text: each is
 * spelled {@code 0xFF text 0xFF} ({@link Grammar#tokenSpelling}), which only a grammar's token reference
 * ({@code <escape>}) accepts, so they are allowed exactly where a grammar names them. Unknown, unused and empty tokens
 * are left out, and so are byte tokens that hold 0xFF (never valid UTF-8, so no text grammar accepts them, and they
 * would be a prefix of every special spelling). End-of-turn tokens are kept apart: the constraint allows them exactly
 * where the grammar may end.
 */
public final class GrammarVocabulary {
    final int size;
    final byte[] label;
    final byte[] depth;
    final int[] end;
    /** Tokens ending at node i: tokens[tokenStart[i] .. tokenStart[i + 1]). */
    final int[] tokenStart;
    final int[] tokens;
    final int[] endOfTurn;
    final int maxDepth;
    private final byte[][] bytes;
    /** Special token text → id (the lowest id when several share a text). */
    private final java.util.Map<String, Integer> specials = new java.util.HashMap<>();
    private final boolean[] special;

    /** Tables for {@code tok}'s first {@code vocab} ids (the model's logit count). */
    public GrammarVocabulary(Tokenizer tok, int vocab) {
        size = vocab;
        bytes = new byte[vocab][];
        endOfTurn = Arrays.stream(tok.endOfTurnIds()).filter(id -> id < vocab).toArray();
        Integer[] usable = new Integer[vocab];
        special = new boolean[vocab];
        int n = 0;
        for (int id = 0; id < vocab; id++) {
            int type = tok.tokenType(id);
            byte[] b = tok.tokenBytes(id);
            String piece = tok.piece(id);
            boolean markup = type == Tokenizer.CONTROL
                    || (type == Tokenizer.USER_DEFINED && piece.length() > 2 && piece.startsWith("<") && piece.endsWith(">"));
            boolean eot = false;
            for (int e : endOfTurn) eot |= e == id;
            if (eot || type == Tokenizer.UNKNOWN || type == Tokenizer.UNUSED || (markup && piece.isEmpty())) {
                bytes[id] = null;
            } else if (markup) {
                bytes[id] = Grammar.tokenSpelling(piece);
                special[id] = true;
                specials.putIfAbsent(piece, id);
            } else {
                bytes[id] = containsMark(b) ? null : b;
            }
            if (bytes[id] != null && bytes[id].length > 0 && bytes[id].length < 128) usable[n++] = id;
        }
        Integer[] sorted = Arrays.copyOf(usable, n);
        Arrays.sort(sorted, (x, y) -> Arrays.compareUnsigned(bytes[x], bytes[y]));
        // Count nodes: each token adds the bytes beyond its common prefix with the previous one.
        int nodes = 0;
        byte[] prev = new byte[0];
        for (int id : sorted) {
            byte[] b = bytes[id];
            nodes += b.length - Math.min(common(prev, b), b.length);
            prev = b;
        }
        label = new byte[nodes];
        depth = new byte[nodes];
        end = new int[nodes];
        tokenStart = new int[nodes + 1];
        tokens = new int[n];
        int[] path = new int[128];
        int pathLen = 0, count = 0, max = 0;
        prev = new byte[0];
        for (int t = 0; t < n; t++) {
            int id = sorted[t];
            byte[] b = bytes[id];
            int c = Math.min(common(prev, b), b.length);
            while (pathLen > c) end[path[--pathLen]] = count; // close subtrees left behind
            for (int k = c; k < b.length; k++) {
                label[count] = b[k];
                depth[count] = (byte) (k + 1);
                path[pathLen++] = count++;
            }
            tokens[t] = id;
            max = Math.max(max, b.length);
            prev = b;
        }
        while (pathLen > 0) end[path[--pathLen]] = count;
        // tokens are in preorder of their terminal nodes: tokenStart[i] is the first token ending at node >= i
        fillTokenStarts(sorted);
        maxDepth = max;
    }

    private void fillTokenStarts(Integer[] sorted) {
        // Recompute terminal node of each token by replaying the build.
        int[] terminal = new int[sorted.length];
        int count = 0;
        byte[] prev = new byte[0];
        int lastNode = -1;
        for (int t = 0; t < sorted.length; t++) {
            byte[] b = bytes[sorted[t]];
            int c = Math.min(common(prev, b), b.length);
            int added = b.length - c;
            count += added;
            if (added > 0) lastNode = count - 1;
            terminal[t] = lastNode; // a duplicate spelling ends at the same node as the token before it
            prev = b;
        }
        int t = 0;
        for (int i = 0; i <= label.length; i++) {
            while (t < terminal.length && terminal[t] < i) t++;
            tokenStart[i] = t;
        }
    }

    private static boolean containsMark(byte[] b) {
        for (byte x : b) if ((x & 0xff) == Grammar.TOKEN_MARK) return true;
        return false;
    }

    /** The id of the special token with this text ({@code <escape>}), or -1 when the model has none. */
    public int specialId(String text) {
        Integer id = specials.get(text);
        return id == null ? -1 : id;
    }

    /** The text of special token {@code id}. */
    String specialText(int id) {
        byte[] b = bytes[id];
        return new String(b, 1, b.length - 2, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Whether {@code id} is a special token (spelled with {@link Grammar#TOKEN_MARK}s). */
    public boolean isSpecial(int id) {
        return id >= 0 && id < size && special[id];
    }

    private static int common(byte[] a, byte[] b) {
        int m = Arrays.mismatch(a, b);
        return m < 0 ? Math.min(a.length, b.length) : m;
    }

    /** Number of trie nodes (for benchmarks and tests). */
    public int nodes() {
        return label.length;
    }

    public int vocabSize() {
        return size;
    }

    /** The bytes of a token as grammars see them (special tokens marked), or null for tokens no grammar accepts. */
    byte[] bytes(int id) {
        return id >= 0 && id < size ? bytes[id] : null;
    }

    boolean isEndOfTurn(int id) {
        for (int e : endOfTurn) if (e == id) return true;
        return false;
    }

    /**
     * Sets in {@code allowed} the bit of every token the matcher can accept whole from {@code state}; end-of-turn
     * tokens only where the grammar may end. Returns how many tokens are allowed.
     */
    int fill(GrammarMatcher m, int state, long[] allowed) {
        Arrays.fill(allowed, 0);
        int count = 0;
        if (m.accepting(state)) {
            for (int e : endOfTurn) {
                allowed[e >>> 6] |= 1L << e;
                count++;
            }
        }
        if (!m.live(state)) return count;
        int[] at = new int[maxDepth + 1];
        at[0] = state;
        int n = label.length;
        int i = 0;
        while (i < n) {
            int d = depth[i];
            int s = m.next(at[d - 1], label[i] & 0xff);
            if (s == GrammarMatcher.DEAD) {
                i = end[i];
                continue;
            }
            at[d] = s;
            for (int k = tokenStart[i], e = tokenStart[i + 1]; k < e; k++) {
                int id = tokens[k];
                allowed[id >>> 6] |= 1L << id;
                count++;
            }
            i++;
        }
        return count;
    }
}
