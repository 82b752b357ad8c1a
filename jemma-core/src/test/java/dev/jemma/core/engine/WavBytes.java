package dev.jemma.core.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Small 16-bit mono WAV files for tests. */
final class WavBytes {
    private WavBytes() {
    }

    static byte[] of(int rate, short[] s) {
        ByteBuffer b = ByteBuffer.allocate(44 + 2 * s.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes()).putInt(36 + 2 * s.length).put("WAVE".getBytes());
        b.put("fmt ".getBytes()).putInt(16).putShort((short) 1).putShort((short) 1).putInt(rate).putInt(rate * 2).putShort((short) 2).putShort((short) 16);
        b.put("data".getBytes()).putInt(2 * s.length);
        for (short v : s) b.putShort(v);
        return b.array();
    }

    static byte[] sine(int rate, double hz, double seconds) {
        short[] s = new short[(int) (rate * seconds)];
        for (int i = 0; i < s.length; i++) s[i] = (short) Math.round(12000 * Math.sin(2 * Math.PI * hz * i / rate));
        return of(rate, s);
    }

    static byte[] silence(int rate, double seconds) {
        return of(rate, new short[(int) (rate * seconds)]);
    }
}
