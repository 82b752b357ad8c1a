package dev.jemma.core.testing;

/** Bit-for-bit comparison of logits, failing with how many differ and the first (not two arrays of 10⁵ floats). */
public final class SameBits {
    private SameBits() {
    }

    /** Fails unless {@code actual} and {@code expected} hold the same floats, bit for bit (NaNs alike). */
    public static void assertSameBits(float[] actual, float[] expected, String what) {
        if (actual.length != expected.length) {
            throw new AssertionError(what + ": " + actual.length + " logits against " + expected.length);
        }
        int differ = 0, first = -1;
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToIntBits(actual[i]) != Float.floatToIntBits(expected[i]) && differ++ == 0) first = i;
        }
        if (differ > 0) {
            throw new AssertionError(what + ": " + differ + " of " + expected.length + " logits differ, the first (" + first
                    + ") " + actual[first] + " against " + expected[first]);
        }
    }
}
