package dev.jemma.core.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.BitSet;
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
 * ~6 200 control tokens. A trie pass first finds which special tokens occur at all (usually a handful), and only
 * those are then applied in precedence order.
 */
final class SpecialMatcher {
    private static final class Node {
        final Map<Character, Node> children = new HashMap<>(4);
        int token = -1;
    }

    private final Node root = new Node();
    /** First-character index of the root: most characters start no special token, and this rejects them fast. */
    private final Node[] first = new Node[65536];
    private final String[] pieces;
    /** Precedence rank of each token id (lower = applied first), for sorting the ones found. */
    private final Map<Integer, Integer> rank = new HashMap<>();

    SpecialMatcher(String[] pieces, List<Integer> ids) {
        this.pieces = pieces;
        List<Integer> sorted = new ArrayList<>(ids);
        sorted.sort(Comparator.<Integer>comparingInt(i -> -pieces[i].getBytes(StandardCharsets.UTF_8).length).thenComparingInt(i -> i));
        for (int r = 0; r < sorted.size(); r++) {
            int id = sorted.get(r);
            rank.put(id, r);
            Node n = root;
            String p = pieces[id];
            for (int i = 0; i < p.length(); i++) n = n.children.computeIfAbsent(p.charAt(i), c -> new Node());
            // two ids with the same text: the first in precedence order is the one llama.cpp would emit
            if (n.token < 0) n.token = id;
        }
        root.children.forEach((c, node) -> first[c] = node);
    }

    /**
     * Fragments of {@code text} in order, each {start, end, tokenId}; tokenId is -1 for plain text.
     */
    List<int[]> partition(String text) {
        List<int[]> frags = new ArrayList<>();
        if (text.isEmpty()) return frags;
        BitSet present = new BitSet();
        List<Integer> found = new ArrayList<>();
        if (!root.children.isEmpty()) {
            for (int i = 0; i < text.length(); i++) {
                Node n = first[text.charAt(i)];
                for (int j = i + 1; n != null; j++) {
                    if (n.token >= 0 && !present.get(n.token)) {
                        present.set(n.token);
                        found.add(n.token);
                    }
                    if (j >= text.length()) break;
                    n = n.children.get(text.charAt(j));
                }
            }
        }
        frags.add(new int[]{0, text.length(), -1});
        if (found.isEmpty()) return frags;
        found.sort(Comparator.comparingInt(rank::get));
        for (int id : found) {
            String p = pieces[id];
            List<int[]> next = new ArrayList<>(frags.size() + 4);
            for (int[] f : frags) {
                if (f[2] >= 0) {
                    next.add(f);
                    continue;
                }
                int from = f[0];
                while (true) {
                    int at = text.indexOf(p, from, f[1]);
                    if (at < 0) break;
                    if (at > from) next.add(new int[]{from, at, -1});
                    next.add(new int[]{at, at + p.length(), id});
                    from = at + p.length();
                }
                if (from < f[1]) next.add(new int[]{from, f[1], -1});
            }
            frags = next;
        }
        return frags;
    }
}
