package dev.jemma.core.constrain;

import java.util.ArrayList;
import java.util.List;

/**
 * Code point ranges as UTF-8 byte-range sequences, so a character class over code points becomes alternatives of
 * byte classes and the matcher never needs to decode UTF-8 (a token may end in the middle of a character). The split
 * is the classic one (as in RE2 and Rust's regex-syntax): cut a range at the encoding-length boundaries, then wherever
 * its continuation bytes would not cover full 0x80–0xBF ranges, so every sequence is a product of byte ranges.
 */
final class Utf8Ranges {
    static final int MAX = 0x10FFFF;
    private static final int[] LENGTH_MAX = {0x7F, 0x7FF, 0xFFFF};

    private Utf8Ranges() {
    }

    /**
     * Byte-range sequences for the sorted, disjoint code point ranges {@code ranges} (pairs lo, hi); surrogates
     * (U+D800–U+DFFF, never valid in UTF-8) are left out. Each sequence is {lo0, hi0, lo1, hi1, …}.
     */
    static List<int[]> sequences(int[] ranges) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < ranges.length; i += 2) {
            int lo = ranges[i], hi = ranges[i + 1];
            if (lo <= 0xDFFF && hi >= 0xD800) {
                split(lo, Math.min(hi, 0xD7FF), out);
                split(Math.max(lo, 0xE000), hi, out);
            } else {
                split(lo, hi, out);
            }
        }
        return out;
    }

    private static void split(int lo, int hi, List<int[]> out) {
        if (lo > hi) return;
        for (int m : LENGTH_MAX) {
            if (lo <= m && hi > m) {
                split(lo, m, out);
                split(m + 1, hi, out);
                return;
            }
        }
        if (hi <= 0x7F) {
            out.add(new int[]{lo, hi});
            return;
        }
        for (int i = 1; i < 4; i++) {
            int m = (1 << (6 * i)) - 1;
            if ((lo & ~m) != (hi & ~m)) {
                if ((lo & m) != 0) {
                    split(lo, lo | m, out);
                    split((lo | m) + 1, hi, out);
                    return;
                }
                if ((hi & m) != m) {
                    split(lo, (hi & ~m) - 1, out);
                    split(hi & ~m, hi, out);
                    return;
                }
            }
        }
        byte[] a = encode(lo), b = encode(hi);
        int[] seq = new int[a.length * 2];
        for (int k = 0; k < a.length; k++) {
            seq[2 * k] = a[k] & 0xff;
            seq[2 * k + 1] = b[k] & 0xff;
        }
        out.add(seq);
    }

    /** UTF-8 bytes of one code point (not a surrogate). */
    static byte[] encode(int cp) {
        if (cp < 0x80) return new byte[]{(byte) cp};
        if (cp < 0x800) return new byte[]{(byte) (0xC0 | cp >> 6), (byte) (0x80 | cp & 0x3F)};
        if (cp < 0x10000) return new byte[]{(byte) (0xE0 | cp >> 12), (byte) (0x80 | cp >> 6 & 0x3F), (byte) (0x80 | cp & 0x3F)};
        return new byte[]{(byte) (0xF0 | cp >> 18), (byte) (0x80 | cp >> 12 & 0x3F), (byte) (0x80 | cp >> 6 & 0x3F), (byte) (0x80 | cp & 0x3F)};
    }

    /** Sorted, merged copy of code point ranges (pairs lo, hi). */
    static int[] normalize(List<int[]> ranges) {
        List<int[]> r = new ArrayList<>(ranges);
        r.sort((x, y) -> Integer.compare(x[0], y[0]));
        List<int[]> merged = new ArrayList<>();
        for (int[] x : r) {
            if (!merged.isEmpty() && x[0] <= merged.getLast()[1] + 1) {
                merged.getLast()[1] = Math.max(merged.getLast()[1], x[1]);
            } else {
                merged.add(new int[]{x[0], x[1]});
            }
        }
        int[] out = new int[merged.size() * 2];
        for (int i = 0; i < merged.size(); i++) {
            out[2 * i] = merged.get(i)[0];
            out[2 * i + 1] = merged.get(i)[1];
        }
        return out;
    }

    /** The complement of normalized ranges within 0..U+10FFFF. */
    static int[] complement(int[] ranges) {
        List<int[]> out = new ArrayList<>();
        int next = 0;
        for (int i = 0; i < ranges.length; i += 2) {
            if (ranges[i] > next) out.add(new int[]{next, ranges[i] - 1});
            next = ranges[i + 1] + 1;
        }
        if (next <= MAX) out.add(new int[]{next, MAX});
        return normalize(out);
    }
}
