package dev.jemma.core.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns a stream of token ids into text without ever printing a broken character: a character whose UTF-8 bytes are
 * spread over several byte-fallback tokens ({@code <0xE2><0x96><0x81>}) is held back until it is complete. Bytes
 * that can never form a valid character become U+FFFD. Control tokens produce no text; {@code ▁} becomes a space.
 * Not thread-safe (one per generation).
 */
public final class StreamDecoder {
    private final Tokenizer tokenizer;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    StreamDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Adds one token; returns the text that became complete (often empty for byte tokens). */
    public String accept(int id) {
        pending.writeBytes(tokenizer.tokenBytes(id));
        return drain(false);
    }

    /** Returns whatever is still held back (an incomplete character at the end becomes U+FFFD). */
    public String flush() {
        return drain(true);
    }

    /** Whether bytes of an incomplete character are being held back. */
    public boolean hasPending() {
        return pending.size() > 0;
    }

    private String drain(boolean all) {
        byte[] b = pending.toByteArray();
        if (b.length == 0) return "";
        StringBuilder sb = new StringBuilder(b.length);
        int i = 0, textStart = 0;
        while (i < b.length) {
            int c = b[i] & 0xff;
            int need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
            if (need < 0) { // a stray continuation byte or an invalid lead byte
                sb.append(new String(b, textStart, i - textStart, StandardCharsets.UTF_8)).append('\uFFFD');
                textStart = ++i;
                continue;
            }
            int j = 1;
            while (j <= need && i + j < b.length && validContinuation(c, j, b[i + j] & 0xff)) j++;
            if (j > need) { // complete character
                i += need + 1;
                continue;
            }
            if (i + j >= b.length && !all) break; // incomplete but still valid: wait for more bytes
            sb.append(new String(b, textStart, i - textStart, StandardCharsets.UTF_8)).append('\uFFFD');
            i += j;
            textStart = i;
        }
        sb.append(new String(b, textStart, i - textStart, StandardCharsets.UTF_8));
        pending.reset();
        if (i < b.length) pending.write(b, i, b.length - i);
        return sb.toString();
    }

    /** UTF-8 continuation rules, including the lead-byte-specific ranges that exclude overlongs and surrogates. */
    private static boolean validContinuation(int lead, int index, int c) {
        if (index == 1) {
            if (lead == 0xe0) return c >= 0xa0 && c <= 0xbf;
            if (lead == 0xed) return c >= 0x80 && c <= 0x9f;
            if (lead == 0xf0) return c >= 0x90 && c <= 0xbf;
            if (lead == 0xf4) return c >= 0x80 && c <= 0x8f;
        }
        return c >= 0x80 && c <= 0xbf;
    }
}
