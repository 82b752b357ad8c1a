package dev.jemma.core.audio;

import dev.jemma.core.JemmaException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reads RIFF/WAVE audio: PCM 8/16/24/32-bit integers and 32/64-bit IEEE floats, plain or WAVE_FORMAT_EXTENSIBLE, any
 * channel count (mixed down to mono by averaging). Integers are scaled as HF's pipeline decodes them (int16 / 32768,
 * int24 / 2²³, int32 / 2³¹; unsigned 8-bit (x − 128) / 128). Every problem is one {@link JemmaException} line naming
 * the clip and what is wrong with it: not a WAV file, a missing or odd chunk, an unsupported encoding, a truncated
 * file, or more audio than {@code maxSeconds} (checked from the header, before any sample is decoded).
 */
public final class WavReader {
    private static final int PCM = 1, FLOAT = 3, EXTENSIBLE = 0xFFFE;

    private WavReader() {
    }

    /** Header facts, for messages and limits. */
    public record Format(int encoding, int channels, int sampleRate, int bitsPerSample, long frames) {
        public double seconds() {
            return frames / (double) sampleRate;
        }
    }

    /** Decoded mono samples in [-1, 1) at the file's own rate. */
    public record Pcm(float[] samples, int sampleRate, Format format) {
        public double seconds() {
            return samples.length / (double) sampleRate;
        }
    }

    /** Whether the bytes start like a WAV file (for a "supported formats" message on anything else). */
    public static boolean looksLikeWav(byte[] b) {
        return b.length >= 12 && tag(b, 0).equals("RIFF") && tag(b, 8).equals("WAVE");
    }

    private static String tag(byte[] b, int at) {
        return new String(b, at, 4, java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    /**
     * Decodes a whole WAV file.
     *
     * @param name       what messages call the clip (a file name, {@code messages[0].audio[1]}, …)
     * @param maxSeconds longest accepted clip; longer ones are refused from the header
     */
    public static Pcm read(byte[] bytes, String name, double maxSeconds) {
        return parse(bytes, bytes.length, name, maxSeconds, true).pcm;
    }

    /**
     * Checks a file from its first bytes only ({@code head}; the fmt chunk and the data chunk's header must be in it)
     * and its total length: the format, and the duration against {@code maxSeconds}, so an over-long file is refused
     * before it is read.
     */
    public static Format probe(byte[] head, long fileLength, String name, double maxSeconds) {
        return parse(head, fileLength, name, maxSeconds, false).format;
    }

    private record Parsed(Format format, Pcm pcm) {
    }

    private static Parsed parse(byte[] bytes, long fileLength, String name, double maxSeconds, boolean decode) {
        if (!looksLikeWav(bytes)) throw new JemmaException(name + ": " + describeNonWav(bytes));
        ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int pos = 12, encoding = -1, channels = 0, rate = 0, bits = 0, blockAlign = 0;
        while (pos + 8 <= bytes.length) {
            String id = tag(bytes, pos);
            long size = Integer.toUnsignedLong(bb.getInt(pos + 4));
            int body = pos + 8;
            if (id.equals("fmt ")) {
                if (size < 16 || body + 16 > bytes.length) throw new JemmaException(name + ": truncated WAV file (the fmt chunk is cut short)");
                encoding = bb.getShort(body) & 0xFFFF;
                channels = bb.getShort(body + 2) & 0xFFFF;
                rate = bb.getInt(body + 4);
                blockAlign = bb.getShort(body + 12) & 0xFFFF;
                bits = bb.getShort(body + 14) & 0xFFFF;
                if (encoding == EXTENSIBLE) {
                    if (size < 40 || body + 40 > bytes.length) throw new JemmaException(name + ": truncated WAV file (the extensible fmt chunk is cut short)");
                    encoding = bb.getShort(body + 24) & 0xFFFF;   // the sub-format GUID's first two bytes
                }
            } else if (id.equals("data")) {
                if (encoding < 0) throw new JemmaException(name + ": bad WAV header (the data chunk comes before the fmt chunk)");
                Format f = check(name, encoding, channels, rate, bits, blockAlign);
                long available = fileLength - body;
                // a streaming writer leaves the size at 0 or 0xFFFFFFFF: the data then runs to the end of the file
                long dataBytes = size == 0 || size == 0xFFFFFFFFL ? available : size;
                if (dataBytes > available) {
                    throw new JemmaException(name + ": truncated WAV file (the header announces " + dataBytes + " bytes of audio, the file holds "
                            + available + ")");
                }
                long frames = dataBytes / blockAlign;
                f = new Format(f.encoding(), channels, rate, bits, frames);
                if (f.seconds() > maxSeconds) {
                    throw new JemmaException(name + ": " + AudioClip.duration(f.seconds()) + " of audio is longer than the " + AudioClip.duration(maxSeconds)
                            + " accepted");
                }
                if (frames == 0) throw new JemmaException(name + ": the WAV file holds no audio samples");
                return new Parsed(f, decode ? new Pcm(decode(bb, body, (int) frames, f, blockAlign, name), rate, f) : null);
            }
            long next = body + size + (size & 1);
            if (next > fileLength) break;
            if (next + 8 > bytes.length && next < fileLength) {
                throw new JemmaException(name + ": bad WAV header (the audio starts after " + next + " bytes of other chunks)");
            }
            pos = (int) next;
        }
        if (encoding < 0) throw new JemmaException(name + ": bad WAV header (no fmt chunk)");
        throw new JemmaException(name + ": truncated WAV file (no data chunk)");
    }

    private static String describeNonWav(byte[] b) {
        String kind = b.length >= 4 && tag(b, 0).equals("fLaC") ? "a FLAC file"
                : b.length >= 3 && (b[0] == 'I' && b[1] == 'D' && b[2] == '3' || (b[0] & 0xFF) == 0xFF && (b[1] & 0xE0) == 0xE0) ? "an MP3 file"
                : b.length >= 4 && tag(b, 0).equals("OggS") ? "an Ogg file"
                : b.length >= 4 && tag(b, 0).equals("RIFF") ? "a RIFF file that is not WAVE"
                : b.length < 12 ? "too short to be a WAV file (" + b.length + " bytes)" : "not a WAV file (no RIFF/WAVE header)";
        return kind.startsWith("a") ? kind + ", which is not supported; supported audio: WAV (PCM 8/16/24/32-bit, float 32/64-bit)"
                : kind + "; supported audio: WAV (PCM 8/16/24/32-bit, float 32/64-bit)";
    }

    private static Format check(String name, int encoding, int channels, int rate, int bits, int blockAlign) {
        if (encoding != PCM && encoding != FLOAT) {
            throw new JemmaException(name + ": unsupported WAV encoding " + encoding + " (" + encodingName(encoding)
                    + "); supported: PCM 8/16/24/32-bit and IEEE float 32/64-bit");
        }
        boolean okBits = encoding == PCM ? bits == 8 || bits == 16 || bits == 24 || bits == 32 : bits == 32 || bits == 64;
        if (!okBits) throw new JemmaException(name + ": unsupported WAV sample size " + bits + " bits for " + encodingName(encoding));
        if (channels < 1 || channels > 64) throw new JemmaException(name + ": bad WAV header (" + channels + " channels)");
        if (rate < 1000 || rate > 768_000) throw new JemmaException(name + ": bad WAV header (sample rate " + Integer.toUnsignedString(rate) + " Hz)");
        if (blockAlign != channels * bits / 8) {
            throw new JemmaException(name + ": bad WAV header (block align " + blockAlign + " for " + channels + " channel(s) of " + bits + " bits)");
        }
        return new Format(encoding, channels, rate, bits, 0);
    }

    private static String encodingName(int e) {
        return switch (e) {
            case PCM -> "PCM";
            case FLOAT -> "IEEE float";
            case 2 -> "ADPCM";
            case 6 -> "A-law";
            case 7 -> "mu-law";
            case 0x55 -> "MP3";
            default -> "unknown";
        };
    }

    /** A mono IEEE-float WAV file of {@code samples} at {@code rate} Hz (how a split clip travels as a chat part). */
    public static byte[] float32Wav(float[] samples, int rate) {
        ByteBuffer b = ByteBuffer.allocate(44 + 4 * samples.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(36 + 4 * samples.length)
                .put("WAVE".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        b.put("fmt ".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(16).putShort((short) FLOAT).putShort((short) 1)
                .putInt(rate).putInt(rate * 4).putShort((short) 4).putShort((short) 32);
        b.put("data".getBytes(java.nio.charset.StandardCharsets.US_ASCII)).putInt(4 * samples.length);
        for (float v : samples) b.putFloat(v);
        return b.array();
    }

    /**
     * Float samples beyond this are not audio (full scale is 1; this is 60 dB above it): they would overflow the
     * spectrogram's power to infinity and the encoder to NaN, so the clip is refused instead.
     */
    static final double MAX_FLOAT_AMPLITUDE = 1000.0;

    private static float[] decode(ByteBuffer bb, int at, int frames, Format f, int blockAlign, String name) {
        float[] out = new float[frames];
        int ch = f.channels(), bytesPer = f.bitsPerSample() / 8;
        for (int i = 0; i < frames; i++) {
            double sum = 0;
            for (int c = 0; c < ch; c++) {
                double s = sample(bb, at + i * blockAlign + c * bytesPer, f);
                if (!(Math.abs(s) <= MAX_FLOAT_AMPLITUDE)) {
                    throw new JemmaException(name + ": float sample " + ((long) i * ch + c) + " is " + s
                            + ", not audio (samples are within ±1, at most ±" + (int) MAX_FLOAT_AMPLITUDE + " is accepted)");
                }
                sum += s;
            }
            out[i] = (float) (sum / ch);
        }
        return out;
    }

    private static double sample(ByteBuffer bb, int p, Format f) {
        if (f.encoding() == FLOAT) return f.bitsPerSample() == 32 ? bb.getFloat(p) : bb.getDouble(p);
        return switch (f.bitsPerSample()) {
            case 8 -> ((bb.get(p) & 0xFF) - 128) / 128.0;
            case 16 -> bb.getShort(p) / 32768.0;
            case 24 -> ((bb.get(p) & 0xFF) | (bb.get(p + 1) & 0xFF) << 8 | bb.get(p + 2) << 16) / 8388608.0;
            default -> bb.getInt(p) / 2147483648.0;
        };
    }
}
