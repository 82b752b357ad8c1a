package dev.jemma.core.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Splits text around literal occurrences of special tokens, with llama.cpp's precedence: tokens are taken longest
 * (in UTF-8 bytes) first, and each one claims its non-overlapping occurrences left to right inside the text not yet
 * claimed by a longer one.
 *
 * <p>Doing that naively costs (number of special tokens × text length): Gemma 3 has ~6 400 user-defined and
 * ~6 200 control tokens. Instead one trie pass lists every occurrence of any special token; the occurrences are then
 * sorted by (precedence, position) and each claims its characters unless a better one already did, which gives the
 * same result as llama.cpp's token-by-token splitting.
 */
final class SpecialMatcher {
    private static final class Node {
        final Map<Character, Node> children = new HashMap<>(4);
        int token = -1;
        int rank;
    }

    private final Node root = new Node();
    /** First-character index of the root: most characters start no special token, and this rejects them fast. */
    private final Node[] first = new Node[65536];
    private final String[] pieces;
    private final int[] byRank;

    SpecialMatcher(String[] pieces, List<Integer> ids) {
        this.pieces = pieces;
        List<Integer> sorted = new ArrayList<>(ids);
        sorted.sort(Comparator.<Integer>comparingInt(i -> -pieces[i].getBytes(StandardCharsets.UTF_8).length).thenComparingInt(i -> i));
        byRank = new int[sorted.size()];
        for (int r = 0; r < sorted.size(); r++) {
            int id = sorted.get(r);
            byRank[r] = id;
            Node n = root;
            String p = pieces[id];
            for (int i = 0; i < p.length(); i++) n = n.children.computeIfAbsent(p.charAt(i), c -> new Node());
            // two ids with the same text: the first in precedence order is the one llama.cpp would emit
            if (n.token < 0) {
                n.token = id;
                n.rank = r;
            }
        }
        root.children.forEach((c, node) -> first[c] = node);
    }

    /**
     * Fragments of {@code text} in order, each {start, end, tokenId}; tokenId is -1 for plain text.
     */
    List<int[]> partition(String text) {
        List<int[]> frags = new ArrayList<>();
        if (text.isEmpty()) return frags;
        // every occurrence of every special token, packed as (rank << 32 | position)
        long[] occ = new long[16];
        int nOcc = 0;
        for (int i = 0; i < text.length(); i++) {
            Node n = first[text.charAt(i)];
            for (int j = i + 1; n != null; j++) {
                if (n.token >= 0) {
                    if (nOcc == occ.length) occ = Arrays.copyOf(occ, nOcc * 2);
                    occ[nOcc++] = (long) n.rank << 32 | i;
                }
                if (j >= text.length()) break;
                n = n.children.get(text.charAt(j));
            }
        }
        if (nOcc == 0) {
            frags.add(new int[]{0, text.length(), -1});
            return frags;
        }
        // llama.cpp's order: longest token first, each claiming its occurrences left to right among unclaimed text
        Arrays.sort(occ, 0, nOcc);
        int[] claimedBy = new int[text.length()];
        Arrays.fill(claimedBy, -1);
        boolean any = false;
        for (int k = 0; k < nOcc; k++) {
            int id = byRank[(int) (occ[k] >>> 32)], at = (int) occ[k];
            int len = pieces[id].length();
            boolean free = true;
            for (int c = at; c < at + len; c++) {
                if (claimedBy[c] >= 0) {
                    free = false;
                    break;
                }
            }
            if (!free) continue;
            for (int c = at; c < at + len; c++) claimedBy[c] = id;
            any = true;
        }
        if (!any) {
            frags.add(new int[]{0, text.length(), -1});
            return frags;
        }
        int i = 0;
        while (i < text.length()) {
            if (claimedBy[i] >= 0) {
                int id = claimedBy[i];
                frags.add(new int[]{i, i + pieces[id].length(), id});
                i += pieces[id].length();
            } else {
                int j = i;
                while (j < text.length() && claimedBy[j] < 0) j++;
                frags.add(new int[]{i, j, -1});
                i = j;
            }
        }
        return frags;
    }
}
