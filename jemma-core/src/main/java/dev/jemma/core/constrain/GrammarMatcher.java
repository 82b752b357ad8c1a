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
 * <p>A stack is a linked list of interned nodes (position, parent, count); a reference followed by the end of its
 * alternative pushes nothing (tail call), so repetitions ({@code r ::= x r | ε}) do not grow the stack. A counted
 * repetition {@code x{m,n}} ({@link Grammar#REP}) pushes one node holding the count x will have reached when the
 * iteration under it ends; that node is also where the iteration returns to, so the stack stays one node deep whatever
 * the count. Node 0 is the empty stack: a state holding it is one where the grammar may end.
 *
 * <p>Each count is a state of its own (the matcher must know when {@code n} is reached), but for masking only what
 * the next few bytes can do matters: {@link #maskState} maps a state to one where every count far from its bounds is
 * replaced by a representative, so a 5000-character string shares one allowed-token set over most of its length.
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
    private int[] nodePos = new int[1024], nodeParent = new int[1024], nodeReps = new int[1024];
    private int nodeCount;
    private NodeMap nodeIndex = new NodeMap();
    // maskState's tables: per node and per state, 1 + its representative (0: not computed yet), for one horizon
    private int[] canonNode = new int[1024];
    private int[] canonState = new int[256];
    private int horizon = -1;
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
        nodeIndex = new NodeMap();
        stateCount = 0;
        stateIndex = new HashMap<>();
        Arrays.fill(stateNodes, null);
        Arrays.fill(trans, null);
        Arrays.fill(canonNode, 0);
        Arrays.fill(canonState, 0);
        node(-1, 0, 0); // node 0: the empty stack
        epoch++;
        outLen = 0;
        for (int a : g.alternatives[g.root]) expand(a, 0, 0);
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
        return accepts(current, bytes);
    }

    /** Whether the bytes could follow {@code state}. */
    boolean accepts(int state, byte[] bytes) {
        int s = state;
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
            if (g.classHas(g.value[pos], b)) expand(pos + 1, nodeParent[n], 0);
        }
        return outLen == 0 ? DEAD : internOut();
    }

    /**
     * Adds to {@code out} every stack with a byte class on top reachable from position {@code pos} over {@code parent};
     * {@code count} is the iterations done when {@code pos} is a counted repetition (else 0).
     */
    private void expand(int pos, int parent, int count) {
        int n = node(pos, parent, count);
        if (stamp[n] == epoch) return;
        stamp[n] = epoch;
        switch (g.kind[pos]) {
            case Grammar.END -> {
                if (parent == 0) add(0);
                else expand(nodePos[parent], nodeParent[parent], nodeReps[parent]);
            }
            case Grammar.TERM -> add(n);
            case Grammar.REP -> {
                int r = g.value[pos], min = g.repMin[r], max = g.repMax[r];
                if (max < 0 || count < max) {
                    // one more iteration, returning to this repetition one count higher (unbounded: counts past min
                    // are all alike, so the count stops there)
                    int back = node(pos, parent, max < 0 ? Math.min(count + 1, min) : count + 1);
                    for (int a : g.alternatives[g.repBody[r]]) expand(a, back, 0);
                }
                if (count >= min) expand(pos + 1, parent, 0);
            }
            default -> {
                int cont = g.kind[pos + 1] == Grammar.END ? parent : node(pos + 1, parent, 0);
                for (int a : g.alternatives[g.value[pos]]) expand(a, cont, 0);
            }
        }
    }

    private void add(int n) {
        if (outLen == out.length) out = Arrays.copyOf(out, outLen * 2);
        out[outLen++] = n;
    }

    private int node(int pos, int parent, int count) {
        long key = (long) pos << 32 | (parent & 0xffffffffL);
        int id = nodeIndex.get(key, count);
        if (id >= 0) return id;
        id = nodeCount++;
        if (id == nodePos.length) {
            nodePos = Arrays.copyOf(nodePos, id * 2);
            nodeParent = Arrays.copyOf(nodeParent, id * 2);
            nodeReps = Arrays.copyOf(nodeReps, id * 2);
            stamp = Arrays.copyOf(stamp, id * 2);
            canonNode = Arrays.copyOf(canonNode, id * 2);
        }
        nodePos[id] = pos;
        nodeParent[id] = parent;
        nodeReps[id] = count;
        nodeIndex.put(key, count, id);
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
            canonState = Arrays.copyOf(canonState, id * 2);
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
        int[] oldPos = nodePos, oldParent = nodeParent, oldReps = nodeReps;
        int[] stacks = stateNodes[current];
        nodePos = new int[1024];
        nodeParent = new int[1024];
        nodeReps = new int[1024];
        stamp = new int[1024];
        canonNode = new int[1024];
        nodeCount = 0;
        nodeIndex = new NodeMap();
        stateNodes = new int[256][];
        trans = new int[256][];
        canonState = new int[256];
        stateCount = 0;
        stateIndex = new HashMap<>();
        node(-1, 0, 0);
        outLen = 0;
        for (int n : stacks) add(copy(n, oldPos, oldParent, oldReps));
        current = internOut();
        generation++;
    }

    private int copy(int old, int[] oldPos, int[] oldParent, int[] oldReps) {
        if (old == 0) return 0;
        return node(oldPos[old], copy(oldParent[old], oldPos, oldParent, oldReps), oldReps[old]);
    }

    /**
     * A state that accepts exactly the same byte strings of up to {@code horizon} bytes as {@code state} does — the
     * same tokens, when no token is longer — with every repetition count replaced by a representative of the counts
     * that behave alike for that long. A repetition whose item always consumes a byte ends at most {@code horizon}
     * more iterations within {@code horizon} bytes, so a count at least {@code min} and more than {@code horizon}
     * below {@code max} acts as {@code min} does, and one more than {@code horizon} below {@code min} as
     * {@code min − horizon − 1}. Counts nearer a bound are kept. Masks keyed by this state are shared across the
     * positions of a long bounded string; its byte transitions are cached like any state's.
     */
    int maskState(int state, int horizon) {
        if (g.repBody.length == 0) return state;
        if (horizon != this.horizon) {
            Arrays.fill(canonNode, 0);
            Arrays.fill(canonState, 0);
            this.horizon = horizon;
        }
        int c = canonState[state];
        if (c != 0) return c - 1;
        int[] nodes = stateNodes[state];
        int[] mapped = new int[nodes.length];
        boolean same = true;
        for (int i = 0; i < nodes.length; i++) {
            mapped[i] = representative(nodes[i]);
            same &= mapped[i] == nodes[i];
        }
        int result = state;
        if (!same) {
            outLen = 0;
            for (int n : mapped) add(n);
            result = internOut();
        }
        canonState[state] = result + 1;
        return result;
    }

    private int representative(int n) {
        if (n == 0) return 0;
        int c = canonNode[n];
        if (c != 0) return c - 1;
        int pos = nodePos[n], count = nodeReps[n];
        int parent = representative(nodeParent[n]);
        if (g.kind[pos] == Grammar.REP) {
            int r = g.value[pos];
            if (g.repConsumes[r]) count = representativeCount(count, g.repMin[r], g.repMax[r], horizon);
        }
        int id = parent == nodeParent[n] && count == nodeReps[n] ? n : node(pos, parent, count);
        canonNode[n] = id + 1;
        if (id != n) canonNode[id] = id + 1; // a representative stands for itself
        return id;
    }

    static int representativeCount(int count, int min, int max, int horizon) {
        if (count >= min) return max < 0 || max - count > horizon ? min : count;
        return min - count > horizon ? min - horizon - 1 : count;
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

    /** Open-addressing (long, int) → int map (non-negative values), for node interning without boxing. */
    private static final class NodeMap {
        private long[] keys = new long[1 << 10];
        private int[] counts = new int[1 << 10];
        private int[] vals = new int[1 << 10];
        private int size;

        NodeMap() {
            Arrays.fill(vals, -1);
        }

        int get(long k, int c) {
            int mask = keys.length - 1;
            for (int i = hash(k, c) & mask; ; i = (i + 1) & mask) {
                if (vals[i] < 0) return -1;
                if (keys[i] == k && counts[i] == c) return vals[i];
            }
        }

        void put(long k, int c, int v) {
            if ((size + 1) * 2 > keys.length) grow();
            int mask = keys.length - 1;
            int i = hash(k, c) & mask;
            while (vals[i] >= 0 && (keys[i] != k || counts[i] != c)) i = (i + 1) & mask;
            if (vals[i] < 0) size++;
            keys[i] = k;
            counts[i] = c;
            vals[i] = v;
        }

        private void grow() {
            long[] ok = keys;
            int[] oc = counts, ov = vals;
            keys = new long[ok.length * 2];
            counts = new int[ok.length * 2];
            vals = new int[ok.length * 2];
            Arrays.fill(vals, -1);
            size = 0;
            for (int i = 0; i < ok.length; i++) if (ov[i] >= 0) put(ok[i], oc[i], ov[i]);
        }

        private static int hash(long k, int c) {
            long h = (k + c * 0xC2B2AE3D27D4EB4FL) * 0x9E3779B97F4A7C15L;
            return (int) (h ^ h >>> 29);
        }
    }
}
