package dev.jemma.core.chat;

import dev.jemma.core.JemmaException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * An audio clip attached to a chat message: the file (WAV) as sent, decoded only when a model that hears (Gemma 3n with
 * its audio tower) reads it. Two clips are equal when their bytes are (compared by SHA-256), which is what
 * lets a session recognise a clip already in its history and reuse its encoding.
 */
public final class ChatAudio {
    private final byte[] bytes;
    private final String name;
    private final String digest;

    private ChatAudio(byte[] bytes, String name) {
        this.bytes = bytes;
        this.name = name;
        try {
            digest = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * @param encoded the audio file's bytes
     * @param name    what error messages call it (a file name, {@code messages[1].audio[0]}, …)
     */
    public static ChatAudio of(byte[] encoded, String name) {
        return new ChatAudio(encoded.clone(), name == null ? "audio" : name);
    }

    /** Reads an audio file (not decoded yet: a bad clip is refused when a model reads it). */
    public static ChatAudio read(Path file) {
        try {
            return new ChatAudio(Files.readAllBytes(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new JemmaException(file + ": no such audio file");
        } catch (IOException e) {
            throw new JemmaException(file + ": cannot read the audio file (" + e.getMessage() + ")");
        }
    }

    /** The encoded bytes (a copy). */
    public byte[] bytes() {
        return bytes.clone();
    }

    public String name() {
        return name;
    }

    /** Hex SHA-256 of the bytes. */
    public String digest() {
        return digest;
    }

    public int size() {
        return bytes.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ChatAudio c && c.digest.equals(digest);
    }

    @Override
    public int hashCode() {
        return digest.hashCode();
    }

    @Override
    public String toString() {
        return "ChatAudio[" + name + ", " + bytes.length + " bytes]";
    }
}
