package dev.jemma.core.tensor.attention;

import java.util.Arrays;

/**
 * Which keys a query at position p sees, as one interval of positions [{@link #first}(p), {@link #last}(p, end)]:
 * <ul>
 *   <li>{@link #CAUSAL}: [0, p] (Gemma global layers);</li>
 *   <li>{@link #sliding(int) sliding(W)}: [p − W + 1, p] (Gemma local layers, HF {@code sliding_window});</li>
 *   <li>{@link #symmetric(int) symmetric(W)}: |p − j| &lt; W (embedding models' bidirectional local layers, HF
 *       {@code _bidirectional_window_overlay}; W is HF's {@code config.sliding_window}, which a bidirectional
 *       config sets to sliding_window // 2 + 1);</li>
 *   <li>{@link #BIDIRECTIONAL}: every position of the sequence (an encoder);</li>
 *   <li>{@link #withSpans}: a causal or sliding base, plus every position of the marked span the query is in (image
 *       tokens attend to their whole image, HF {@code token_type_ids_mask_function} OR-ed with the base mask).</li>
 * </ul>
 * Every kind is an interval whose ends do not decrease with p, which the tiled kernel relies on. Keys after the query
 * must be in the same call (the batch): {@code end} is the last position the call has.
 */
public final class Visibility {
    private enum Kind { CAUSAL, SLIDING, SYMMETRIC, BIDIRECTIONAL }

    public static final Visibility CAUSAL = new Visibility(Kind.CAUSAL, 0, null, null);
    public static final Visibility BIDIRECTIONAL = new Visibility(Kind.BIDIRECTIONAL, 0, null, null);

    private final Kind kind;
    private final int window;
    /** Marked spans [spanStart[i], spanEnd[i]] (inclusive), sorted and disjoint; null for none. */
    private final int[] spanStart, spanEnd;

    private Visibility(Kind kind, int window, int[] spanStart, int[] spanEnd) {
        this.kind = kind;
        this.window = window;
        this.spanStart = spanStart;
        this.spanEnd = spanEnd;
    }

    /** Causal within a window of W positions (the query's own included). */
    public static Visibility sliding(int window) {
        if (window < 1) throw new IllegalArgumentException("window " + window);
        return new Visibility(Kind.SLIDING, window, null, null);
    }

    /** Bidirectional within |p − j| &lt; W. */
    public static Visibility symmetric(int window) {
        if (window < 1) throw new IllegalArgumentException("window " + window);
        return new Visibility(Kind.SYMMETRIC, window, null, null);
    }

    /** Causal when {@code window} is 0, else {@link #sliding}: a Gemma layer's mask. */
    public static Visibility causal(int window) {
        return window > 0 ? sliding(window) : CAUSAL;
    }

    /**
     * This (causal or sliding) visibility plus bidirectional attention within each span [starts[i], ends[i]]
     * (inclusive positions; sorted, disjoint).
     */
    public Visibility withSpans(int[] starts, int[] ends) {
        if (kind != Kind.CAUSAL && kind != Kind.SLIDING) throw new IllegalArgumentException("spans need a causal base");
        if (starts.length != ends.length) throw new IllegalArgumentException("span starts and ends differ in number");
        for (int i = 0; i < starts.length; i++) {
            if (starts[i] > ends[i] || (i > 0 && starts[i] <= ends[i - 1])) {
                throw new IllegalArgumentException("spans must be sorted, disjoint and non-empty: " + Arrays.toString(starts) + " " + Arrays.toString(ends));
            }
        }
        return new Visibility(kind, window, starts.clone(), ends.clone());
    }

    /** Whether this visibility is plain causal (optionally sliding): no key after the query. */
    public boolean isCausal() {
        return (kind == Kind.CAUSAL || kind == Kind.SLIDING) && spanStart == null;
    }

    public int window() {
        return window;
    }

    /** First position a query at {@code pos} sees. */
    public int first(int pos) {
        int lo = switch (kind) {
            case CAUSAL, BIDIRECTIONAL -> 0;
            case SLIDING, SYMMETRIC -> Math.max(0, pos - window + 1);
        };
        int s = span(pos);
        return s >= 0 ? Math.min(lo, spanStart[s]) : lo;
    }

    /** Last position a query at {@code pos} sees when the call's keys end at {@code end}. */
    public int last(int pos, int end) {
        int hi = switch (kind) {
            case CAUSAL, SLIDING -> pos;
            case SYMMETRIC -> pos + window - 1;
            case BIDIRECTIONAL -> end;
        };
        int s = span(pos);
        if (s >= 0) hi = Math.max(hi, spanEnd[s]);
        return Math.min(hi, end);
    }

    /** Whether a query at {@code pos} sees the key at {@code key} (the plain definition, for references). */
    public boolean sees(int pos, int key, int end) {
        return key >= first(pos) && key <= last(pos, end);
    }

    /** The span containing pos, or -1. */
    private int span(int pos) {
        if (spanStart == null) return -1;
        int i = Arrays.binarySearch(spanStart, pos);
        if (i < 0) i = -i - 2;
        return i >= 0 && pos <= spanEnd[i] ? i : -1;
    }

    @Override
    public String toString() {
        String base = switch (kind) {
            case CAUSAL -> "causal";
            case SLIDING -> "sliding(" + window + ")";
            case SYMMETRIC -> "symmetric(" + window + ")";
            case BIDIRECTIONAL -> "bidirectional";
        };
        return spanStart == null ? base : base + " + spans " + Arrays.toString(spanStart) + ".." + Arrays.toString(spanEnd);
    }
}
