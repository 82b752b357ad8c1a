package dev.jemma.core.model;

import dev.jemma.core.kv.KvCache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The rows of one {@link LanguageModel#forward(Batch) forward}: each row carries a token id or an input embedding
 * (a vision / audio soft token, already at the model's embedding scale), a position, and the sequence (slot) whose
 * KV cache it reads and extends. One forward may serve many sequences (continuous batching): matmuls run over all
 * rows together, attention over each sequence's own cache.
 *
 * <p>Rows of one sequence are consecutive and continue its cache: the first is at {@code cache.length()}, each next
 * one position later. An {@link #encoder encoder batch} has no caches: each sequence is whole (positions from 0), runs
 * in one call and stores nothing (embedding models, which attend in both directions). A row may ask for its logits; {@link LanguageModel#forward(Batch)} returns those rows' logits
 * in row order.
 */
public final class Batch {
    private final int[] tokens;
    private final float[][] embeddings;
    private final int[] positions;
    private final int[] slots;
    private final boolean[] wantLogits;
    private final KvCache[] caches;
    /** Row where each slot's rows begin, and how many it has. */
    private final int[] slotStart, slotRows;
    private final int logitRows;
    /** Per slot, the first and last positions of its bidirectional spans (null: none). */
    private final int[][] spanStart, spanEnd;

    private Batch(int[] tokens, float[][] embeddings, int[] positions, int[] slots, boolean[] wantLogits, KvCache[] caches,
                  int[][] spanStart, int[][] spanEnd) {
        this.spanStart = spanStart;
        this.spanEnd = spanEnd;
        this.tokens = tokens;
        this.embeddings = embeddings;
        this.positions = positions;
        this.slots = slots;
        this.wantLogits = wantLogits;
        this.caches = caches;
        slotStart = new int[caches.length];
        slotRows = new int[caches.length];
        int n = 0;
        for (int r = 0; r < tokens.length; r++) {
            if (slotRows[slots[r]]++ == 0) slotStart[slots[r]] = r;
            if (wantLogits[r]) n++;
        }
        logitRows = n;
    }

    /** {@code count} tokens of one sequence at its cache's next positions; logits of every row or only the last. */
    public static Batch of(int[] tokens, int offset, int count, KvCache cache, boolean allLogits) {
        if (count <= 0) throw new IllegalArgumentException("no tokens");
        int[] t = Arrays.copyOfRange(tokens, offset, offset + count), pos = new int[count];
        boolean[] logits = new boolean[count];
        for (int i = 0; i < count; i++) {
            pos[i] = cache.length() + i;
            logits[i] = allLogits || i == count - 1;
        }
        return new Batch(t, new float[count][], pos, new int[count], logits, new KvCache[]{cache}, new int[1][], new int[1][]);
    }

    /**
     * Whole sequences without caches (an encoder's input: every row's hidden state is wanted, each sequence attends
     * only to its own rows and is never split across calls).
     */
    public static Batch encoder(List<int[]> sequences) {
        int n = 0;
        for (int[] s : sequences) {
            if (s.length == 0) throw new IllegalArgumentException("an empty sequence");
            n += s.length;
        }
        if (n == 0) throw new IllegalArgumentException("no tokens");
        int[] t = new int[n], pos = new int[n], slot = new int[n];
        boolean[] want = new boolean[n];
        int r = 0;
        for (int s = 0; s < sequences.size(); s++) {
            int[] seq = sequences.get(s);
            for (int i = 0; i < seq.length; i++, r++) {
                t[r] = seq[i];
                pos[r] = i;
                slot[r] = s;
                want[r] = true;
            }
        }
        int k = sequences.size();
        return new Batch(t, new float[n][], pos, slot, want, new KvCache[k], new int[k][], new int[k][]);
    }

    public static Builder builder() {
        return new Builder();
    }

    public int size() {
        return tokens.length;
    }

    /** Token id of row r (meaningless when the row carries an {@link #embedding}). */
    public int token(int r) {
        return tokens[r];
    }

    /** The input embedding of row r, or null when it carries a token. */
    public float[] embedding(int r) {
        return embeddings[r];
    }

    public int position(int r) {
        return positions[r];
    }

    /** Token ids of all rows (not a copy: do not modify). */
    int[] tokens() {
        return tokens;
    }

    /** Positions of all rows (not a copy: do not modify). */
    int[] positions() {
        return positions;
    }

    public int slot(int r) {
        return slots[r];
    }

    public boolean wantsLogits(int r) {
        return wantLogits[r];
    }

    /** Number of rows whose logits the forward returns. */
    public int logitRows() {
        return logitRows;
    }

    public int sequences() {
        return caches.length;
    }

    /** The sequence's cache, or null in an {@link #encoder} batch. */
    public KvCache cache(int slot) {
        return caches[slot];
    }

    /** First row of a sequence (its rows are consecutive). */
    public int firstRow(int slot) {
        return slotStart[slot];
    }

    public int rows(int slot) {
        return slotRows[slot];
    }

    /**
     * The visibility a sequence's rows attend with: {@code base} (a layer's causal or sliding mask), plus
     * bidirectional attention within the sequence's marked spans (an image's soft tokens see the whole image).
     */
    public dev.jemma.core.tensor.attention.Visibility visibility(int slot, dev.jemma.core.tensor.attention.Visibility base) {
        return spanStart[slot] == null ? base : base.withSpans(spanStart[slot], spanEnd[slot]);
    }

    /**
     * Where a chunk of a long batch that starts at row {@code from} should end (exclusive), given room for at most
     * {@code max} rows: before a marked span that would otherwise be cut (its rows must attend in one call).
     */
    int chunkEnd(int from, int max) {
        int end = Math.min(size(), from + max);
        if (end == size()) return end;
        int slot = slots[end], pos = positions[end];
        if (slots[end - 1] != slot) return end;
        if (caches[slot] == null) {
            // a cache-less sequence sees all of its rows: it runs in one call
            if (slotStart[slot] <= from) {
                throw new IllegalArgumentException("a sequence of " + slotRows[slot] + " tokens does not fit in one batch of " + max);
            }
            return slotStart[slot];
        }
        if (spanStart[slot] == null) return end;
        for (int i = 0; i < spanStart[slot].length; i++) {
            int s = spanStart[slot][i];
            if (s < pos && pos <= spanEnd[slot][i]) {
                int first = end - (pos - s);
                if (first <= from) {
                    throw new IllegalArgumentException("a bidirectional span of " + (spanEnd[slot][i] - s + 1)
                            + " rows does not fit in one batch of " + max);
                }
                return first;
            }
        }
        return end;
    }

    /** Checks that every sequence's rows continue its cache and fit its context. */
    void validate() {
        if (tokens.length == 0) throw new IllegalArgumentException("no tokens");
        for (int s = 0; s < caches.length; s++) {
            KvCache c = caches[s];
            if (slotRows[s] == 0 || c == null) continue;
            if (c.length() + slotRows[s] > c.contextLength()) {
                throw new dev.jemma.core.JemmaException("context full: " + (c.length() + slotRows[s]) + " tokens exceed the context length " + c.contextLength());
            }
            if (positions[slotStart[s]] != c.length()) {
                throw new IllegalArgumentException("sequence " + s + " starts at position " + positions[slotStart[s]] + ", its cache at " + c.length());
            }
        }
    }

    /** Builds a batch over several sequences; each {@code add} appends one row to a sequence's run. */
    public static final class Builder {
        private final List<KvCache> caches = new ArrayList<>();
        private final List<Integer> tokens = new ArrayList<>(), slots = new ArrayList<>(), positions = new ArrayList<>();
        private final List<float[]> embeddings = new ArrayList<>();
        private final List<Boolean> logits = new ArrayList<>();
        private final List<Integer> next = new ArrayList<>();
        private final List<List<int[]>> spans = new ArrayList<>();

        private Builder() {
        }

        /** Adds a token row to the sequence of {@code cache} at its next position. */
        public Builder token(KvCache cache, int token, boolean wantLogits) {
            return row(cache, token, null, wantLogits);
        }

        /** Adds {@code count} token rows, logits for the last only or for all. */
        public Builder tokens(KvCache cache, int[] tokens, int offset, int count, boolean allLogits) {
            for (int i = 0; i < count; i++) token(cache, tokens[offset + i], allLogits || i == count - 1);
            return this;
        }

        /**
         * Adds an input-embedding row (vision / audio soft token, already scaled) at the sequence's next position. Its
         * token id is 0, which is what Gemma 3n's per-layer embedding then reads (HF maps media ids there too).
         */
        public Builder embedding(KvCache cache, float[] embedding, boolean wantLogits) {
            return row(cache, 0, embedding.clone(), wantLogits);
        }

        /**
         * Adds input-embedding rows that attend to each other bidirectionally (the soft tokens of one image: HF Gemma 3
         * lets them see the whole image, before and after), and causally to what precedes them. Such a span runs in
         * one call of the model, so it must fit its batch.
         */
        public Builder bidirectional(KvCache cache, float[][] embeddings, boolean wantLogits) {
            if (embeddings.length == 0) return this;
            for (float[] e : embeddings) row(cache, 0, e.clone(), wantLogits);
            int slot = slots.get(slots.size() - 1), last = positions.get(positions.size() - 1);
            spans.get(slot).add(new int[]{last - embeddings.length + 1, last});
            return this;
        }

        private Builder row(KvCache cache, int token, float[] embedding, boolean wantLogits) {
            int slot = -1;
            for (int i = 0; i < caches.size(); i++) if (caches.get(i) == cache) slot = i;
            if (slot < 0) {
                slot = caches.size();
                caches.add(cache);
                next.add(cache.length());
                spans.add(new ArrayList<>());
            } else if (slots.get(slots.size() - 1) != slot) {
                throw new IllegalArgumentException("rows of one sequence must be consecutive in a batch");
            }
            int pos = next.get(slot);
            next.set(slot, pos + 1);
            tokens.add(token);
            embeddings.add(embedding);
            slots.add(slot);
            positions.add(pos);
            logits.add(wantLogits);
            return this;
        }

        public Batch build() {
            int n = tokens.size();
            if (n == 0) throw new IllegalArgumentException("no rows");
            int[] t = new int[n], p = new int[n], s = new int[n];
            boolean[] l = new boolean[n];
            for (int i = 0; i < n; i++) {
                t[i] = tokens.get(i);
                p[i] = positions.get(i);
                s[i] = slots.get(i);
                l[i] = logits.get(i);
            }
            int[][] ss = new int[caches.size()][], se = new int[caches.size()][];
            for (int i = 0; i < caches.size(); i++) {
                List<int[]> sp = spans.get(i);
                if (sp.isEmpty()) continue;
                ss[i] = sp.stream().mapToInt(x -> x[0]).toArray();
                se[i] = sp.stream().mapToInt(x -> x[1]).toArray();
            }
            return new Batch(t, embeddings.toArray(new float[0][]), p, s, l, caches.toArray(new KvCache[0]), ss, se);
        }
    }
}
