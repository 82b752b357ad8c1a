package dev.jemma.core.constrain;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Runs a {@link Grammar} over bytes: llama.cpp's stack-set algorithm (every way the input so far can be parsed is a
 * stack of grammar positions; a byte advances each stack whose top class holds it, and rule references on top are
 * expanded until a byte class is on top), with the stacks and stack sets interned so each set is a small integer
 * <em>state</em> and a byte from a state is computed once and then looked up ({@link #next}). Masking the vocabulary
 * is a walk of the token trie from the current state over those cached transitions ({@link GrammarVocabulary}).
 *
 * <p>A stack is a linked list of interned nodes (position, parent); a reference followed by the end of its
 * alternative pushes nothing (tail call), so repetitions ({@code r ::= x r | ε}) do not grow the stack. Node 0 is the
 * empty stack: a state holding it is one where the grammar may end.
 *
 * <p>Not thread-safe: one matcher per generation.
 */
public final class GrammarMatcher {
    /** A dead end: no parse continues with this byte. */
    public static final int DEAD = -1;
    private static final int MAX_STATES = 1 << 14;
    private static final int MAX_NODES = 1 << 20;

    private final Grammar g;
    // interned stack nodes
    private int[] nodePos = new int[1024], nodeParent = new int[1024];
    private int nodeCount;
    private LongIntMap nodeIndex = new LongIntMap();
    // interned stack sets (sorted node ids)
    private int[][] stateNodes = new int[256][];
    private int[][] trans = new int[256][];
    private int stateCount;
    private Map<Key, Integer> stateIndex = new HashMap<>();
    private int current;
    // expansion scratch
    private int[] stamp = new int[1024];
    private int epoch;
    private int[] out = new int[64];
    private int outLen;

    public GrammarMatcher(Grammar g) {
        this.g = g;
        reset();
    }

    /** Back to the start of the grammar. */
    public void reset() {
        nodeCount = 0;
        nodeIndex = new LongIntMap();
        stateCount = 0;
        stateIndex = new HashMap<>();
        Arrays.fill(stateNodes, null);
        Arrays.fill(trans, null);
        node(-1, 0); // node 0: the empty stack
        epoch++;
        outLen = 0;
        for (int a : g.alternatives[g.root]) expand(a, 0);
        current = internOut();
    }

    public Grammar grammar() {
        return g;
    }

    /** Feeds one byte; false (state unchanged) when the grammar cannot continue with it. */
    public boolean feed(int b) {
        int n = next(current, b & 0xff);
        if (n == DEAD) return false;
        current = n;
        return true;
    }

    /** Feeds bytes; false (state unchanged) when the grammar cannot continue with all of them. */
    public boolean feed(byte[] bytes) {
        int s = current;
        for (byte b : bytes) {
            s = next(s, b & 0xff);
            if (s == DEAD) return false;
        }
        current = s;
        compactIfLarge();
        return true;
    }

    /** Whether the bytes could come next (the state is unchanged). */
    public boolean accepts(byte[] bytes) {
        int s = current;
        for (byte b : bytes) {
            s = next(s, b & 0xff);
            if (s == DEAD) return false;
        }
        return true;
    }

    /** Whether the input so far is a complete sentence of the grammar. */
    public boolean canEnd() {
        return accepting(current);
    }

    /** Whether some byte can still follow. */
    public boolean canContinue() {
        int[] s = stateNodes[current];
        return s.length > (s[0] == 0 ? 1 : 0);
    }

    int state() {
        return current;
    }

    boolean accepting(int state) {
        return stateNodes[state][0] == 0;
    }

    /** Whether state has stacks other than the empty one. */
    boolean live(int state) {
        int[] s = stateNodes[state];
        return s.length > (s[0] == 0 ? 1 : 0);
    }

    /** The state after byte {@code b} from {@code state}, or {@link #DEAD}. */
    int next(int state, int b) {
        int[] row = trans[state];
        if (row == null) row = trans[state] = new int[256];
        int v = row[b];
        if (v != 0) return v - 1;
        int n = advance(state, b);
        row[b] = n + 1;
        return n;
    }

    private int advance(int state, int b) {
        epoch++;
        outLen = 0;
        for (int n : stateNodes[state]) {
            if (n == 0) continue;
            int pos = nodePos[n];
            if (g.classHas(g.value[pos], b)) expand(pos + 1, nodeParent[n]);
        }
        return outLen == 0 ? DEAD : internOut();
    }

    /** Adds to {@code out} every stack with a byte class on top reachable from position {@code pos} over {@code parent}. */
    private void expand(int pos, int parent) {
        int n = node(pos, parent);
        if (stamp[n] == epoch) return;
        stamp[n] = epoch;
        switch (g.kind[pos]) {
            case Grammar.END -> {
                if (parent == 0) add(0);
                else expand(nodePos[parent], nodeParent[parent]);
            }
            case Grammar.TERM -> add(n);
            default -> {
                int cont = g.kind[pos + 1] == Grammar.END ? parent : node(pos + 1, parent);
                for (int a : g.alternatives[g.value[pos]]) expand(a, cont);
            }
        }
    }

    private void add(int n) {
        if (outLen == out.length) out = Arrays.copyOf(out, outLen * 2);
        out[outLen++] = n;
    }

    private int node(int pos, int parent) {
        long key = (long) pos << 32 | (parent & 0xffffffffL);
        int id = nodeIndex.get(key);
        if (id >= 0) return id;
        id = nodeCount++;
        if (id == nodePos.length) {
            nodePos = Arrays.copyOf(nodePos, id * 2);
            nodeParent = Arrays.copyOf(nodeParent, id * 2);
            stamp = Arrays.copyOf(stamp, id * 2);
        }
        nodePos[id] = pos;
        nodeParent[id] = parent;
        nodeIndex.put(key, id);
        return id;
    }

    private int internOut() {
        int[] set = Arrays.copyOf(out, outLen);
        Arrays.sort(set);
        int k = 0;
        for (int i = 0; i < set.length; i++) if (i == 0 || set[i] != set[i - 1]) set[k++] = set[i];
        if (k < set.length) set = Arrays.copyOf(set, k);
        Key key = new Key(set);
        Integer id = stateIndex.get(key);
        if (id != null) return id;
        id = stateCount++;
        if (id == stateNodes.length) {
            stateNodes = Arrays.copyOf(stateNodes, id * 2);
            trans = Arrays.copyOf(trans, id * 2);
        }
        stateNodes[id] = set;
        stateIndex.put(key, id);
        return id;
    }

    /** Whether the tables were rebuilt since the caller last looked (state ids changed). */
    private int generation;

    int generation() {
        return generation;
    }

    /**
     * A long generation can meet many states (each nesting depth is one); past a bound the tables are rebuilt around
     * the current state so memory stays bounded. Only between tokens: state ids held elsewhere become invalid.
     */
    void compactIfLarge() {
        if (stateCount < MAX_STATES && nodeCount < MAX_NODES) return;
        int[] oldPos = nodePos, oldParent = nodeParent;
        int[] stacks = stateNodes[current];
        nodePos = new int[1024];
        nodeParent = new int[1024];
        stamp = new int[1024];
        nodeCount = 0;
        nodeIndex = new LongIntMap();
        stateNodes = new int[256][];
        trans = new int[256][];
        stateCount = 0;
        stateIndex = new HashMap<>();
        node(-1, 0);
        outLen = 0;
        for (int n : stacks) add(copy(n, oldPos, oldParent));
        current = internOut();
        generation++;
    }

    private int copy(int old, int[] oldPos, int[] oldParent) {
        if (old == 0) return 0;
        return node(oldPos[old], copy(oldParent[old], oldPos, oldParent));
    }

    /** Checks a whole text: -1 when it is a valid prefix of the grammar, else the byte offset where it fails. */
    public static int firstError(Grammar g, String text) {
        GrammarMatcher m = new GrammarMatcher(g);
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i++) if (!m.feed(b[i])) return i;
        return -1;
    }

    /** Whether a whole text is a sentence of the grammar. */
    public static boolean matches(Grammar g, String text) {
        GrammarMatcher m = new GrammarMatcher(g);
        return m.feed(text.getBytes(StandardCharsets.UTF_8)) && m.canEnd();
    }

    private record Key(int[] nodes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && Arrays.equals(nodes, k.nodes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(nodes);
        }
    }

    /** Open-addressing long → int map (non-negative values), for node interning without boxing. */
    private static final class LongIntMap {
        private long[] keys = new long[1 << 10];
        private int[] vals = new int[1 << 10];
        private int size;

        LongIntMap() {
            Arrays.fill(vals, -1);
        }

        int get(long k) {
            int mask = keys.length - 1;
            for (int i = hash(k) & mask; ; i = (i + 1) & mask) {
                if (vals[i] < 0) return -1;
                if (keys[i] == k) return vals[i];
            }
        }

        void put(long k, int v) {
            if ((size + 1) * 2 > keys.length) grow();
            int mask = keys.length - 1;
            int i = hash(k) & mask;
            while (vals[i] >= 0 && keys[i] != k) i = (i + 1) & mask;
            if (vals[i] < 0) size++;
            keys[i] = k;
            vals[i] = v;
        }

        private void grow() {
            long[] ok = keys;
            int[] ov = vals;
            keys = new long[ok.length * 2];
            vals = new int[ok.length * 2];
            Arrays.fill(vals, -1);
            size = 0;
            for (int i = 0; i < ok.length; i++) if (ov[i] >= 0) put(ok[i], ov[i]);
        }

        private static int hash(long k) {
            long h = k * 0x9E3779B97F4A7C15L;
            return (int) (h ^ h >>> 29);
        }
    }
}
