package dev.jemma.core.vision;

import javax.imageio.stream.ImageInputStreamImpl;
import java.io.IOException;

/**
 * An image held in memory as an {@link javax.imageio.stream.ImageInputStream} that stops a decoder which keeps reading
 * past the end. Some decoders treat the end of the data as an endless run of zero bits: TwelveMonkeys' WebP lossless
 * reader, given a 203-byte file whose VP8L chunk claims more data than there is, spent minutes of CPU building
 * Huffman tables out of nothing, one EOFException per refill (found by {@code ImageFuzzTest}). A real image needs at
 * most a few reads at its end (look-ahead of a bit reader), so after {@link #MAX_READS_AT_END} the data is declared
 * truncated with an IOException that is not an EOFException, which the decoders do not swallow.
 */
final class BoundedImageInput extends ImageInputStreamImpl {
    static final int MAX_READS_AT_END = 4096;

    private final byte[] data;
    private int readsAtEnd;

    BoundedImageInput(byte[] data) {
        this.data = data;
    }

    @Override
    public int read() throws IOException {
        checkClosed();
        bitOffset = 0;
        if (streamPos >= data.length) return atEnd();
        return data[(int) streamPos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        checkClosed();
        if (off < 0 || len < 0 || off + len > b.length) throw new IndexOutOfBoundsException();
        bitOffset = 0;
        if (len == 0) return 0;
        if (streamPos >= data.length) return atEnd();
        int n = (int) Math.min(len, data.length - streamPos);
        System.arraycopy(data, (int) streamPos, b, off, n);
        streamPos += n;
        return n;
    }

    @Override
    public long length() {
        return data.length;
    }

    @Override
    public boolean isCached() {
        return true;
    }

    @Override
    public boolean isCachedMemory() {
        return true;
    }

    private int atEnd() throws IOException {
        if (++readsAtEnd > MAX_READS_AT_END) {
            throw new IOException("the decoder read past the end of the data " + MAX_READS_AT_END + " times");
        }
        return -1;
    }
}
