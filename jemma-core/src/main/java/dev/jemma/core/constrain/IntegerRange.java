package dev.jemma.core.constrain;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * GBNF for the decimal integers in [lo, hi] (either bound may be null: unbounded, then at most 16 digits), written
 * without leading zeros and without "-0", the way a regex for a numeric range is built: split by digit count, then
 * per digit position into a prefix, a middle of full digit ranges and a suffix.
 */
final class IntegerRange {
    private static final int MAX_DIGITS = 16;

    private IntegerRange() {
    }

    static String gbnf(BigInteger lo, BigInteger hi) {
        List<String> alts = new ArrayList<>();
        BigInteger zero = BigInteger.ZERO;
        // negatives: -[ max(1, -hi) .. -lo ]
        if (lo == null || lo.signum() < 0) {
            BigInteger nlo = hi == null || hi.signum() >= 0 ? BigInteger.ONE : hi.negate();
            BigInteger nhi = lo == null ? null : lo.negate();
            alts.add("\"-\" (" + nonNegative(nlo, nhi) + ")");
        }
        if (hi == null || hi.signum() >= 0) {
            BigInteger plo = lo == null || lo.signum() < 0 ? zero : lo;
            alts.add(nonNegative(plo, hi));
        }
        return String.join(" | ", alts);
    }

    /** 0 <= lo <= hi (hi null = up to 16 digits). */
    private static String nonNegative(BigInteger lo, BigInteger hi) {
        List<String> alts = new ArrayList<>();
        int from = lo.toString().length();
        int to = hi == null ? Math.max(MAX_DIGITS, from) : hi.toString().length();
        for (int len = from; len <= to; len++) {
            BigInteger first = len == 1 ? BigInteger.ZERO : BigInteger.TEN.pow(len - 1);
            BigInteger last = BigInteger.TEN.pow(len).subtract(BigInteger.ONE);
            BigInteger a = lo.max(first), b = hi == null ? last : hi.min(last);
            if (a.compareTo(b) > 0) continue;
            alts.add(sameLength(a.toString(), b.toString()));
        }
        return String.join(" | ", alts);
    }

    /** Numbers of the same digit count between a and b inclusive. */
    private static String sameLength(String a, String b) {
        int n = a.length();
        if (n == 0) return "";
        if (a.equals(b)) return "\"" + a + "\"";
        if (n == 1) return "[" + a + "-" + b + "]";
        if (a.charAt(0) == b.charAt(0)) return "\"" + a.charAt(0) + "\" (" + sameLength(a.substring(1), b.substring(1)) + ")";
        List<String> alts = new ArrayList<>();
        char x = a.charAt(0), y = b.charAt(0);
        String aRest = a.substring(1), bRest = b.substring(1);
        String zeros = "0".repeat(n - 1), nines = "9".repeat(n - 1);
        char fullFrom = x, fullTo = y;
        if (!aRest.equals(zeros)) {
            alts.add("\"" + x + "\" (" + sameLength(aRest, nines) + ")");
            fullFrom = (char) (x + 1);
        }
        String tail = null;
        if (!bRest.equals(nines)) {
            tail = "\"" + y + "\" (" + sameLength(zeros, bRest) + ")";
            fullTo = (char) (y - 1);
        }
        if (fullFrom <= fullTo) alts.add("[" + fullFrom + "-" + fullTo + "] [0-9]{" + (n - 1) + "}");
        if (tail != null) alts.add(tail);
        return String.join(" | ", alts);
    }
}
