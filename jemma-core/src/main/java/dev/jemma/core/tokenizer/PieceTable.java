package dev.jemma.core.tokenizer;

import java.util.Arrays;

/**
 * Open-addressing hash table from piece text to id that looks up a range of a string without allocating a substring:
 * the BPE loop does a lookup for every candidate pair, millions per megabyte of text.
 */
final class PieceTable {
    private final String[] pieces;
    private final int[] slots; // id + 1, 0 = empty
    private final int mask;

    PieceTable(String[] pieces) {
        this.pieces = pieces;
        int cap = Integer.highestOneBit(Math.max(4, pieces.length * 2)) * 2;
        slots = new int[cap];
        mask = cap - 1;
        for (int id = 0; id < pieces.length; id++) {
            String p = pieces[id];
            int i = mix(p.hashCode()) & mask;
            while (true) {
                int s = slots[i];
                if (s == 0) {
                    slots[i] = id + 1;
                    break;
                }
                if (pieces[s - 1].equals(p)) { // duplicate text: the later id wins, as in llama.cpp
                    slots[i] = id + 1;
                    break;
                }
                i = (i + 1) & mask;
            }
        }
    }

    private static int mix(int h) {
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        return h;
    }

    /** Id of the piece equal to {@code s[from, to)}, or -1. */
    int find(String s, int from, int to) {
        int h = 0;
        for (int k = from; k < to; k++) h = 31 * h + s.charAt(k);
        int len = to - from;
        int i = mix(h) & mask;
        while (true) {
            int v = slots[i];
            if (v == 0) return -1;
            String p = pieces[v - 1];
            if (p.length() == len && s.regionMatches(from, p, 0, len)) return v - 1;
            i = (i + 1) & mask;
        }
    }

    int find(String s) {
        return find(s, 0, s.length());
    }

    @Override
    public String toString() {
        return "PieceTable" + Arrays.toString(new int[]{pieces.length});
    }
}
