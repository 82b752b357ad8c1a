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
 * An image attached to a chat message: the encoded file (PNG, JPEG, GIF, BMP or WebP) as sent, decoded only when a
 * model with a vision tower reads it. Two images are equal when their bytes are (compared by SHA-256), which is what
 * lets a session recognise an image already in its history and reuse its encoding.
 */
public final class ChatImage {
    private final byte[] bytes;
    private final String name;
    private final String digest;

    private ChatImage(byte[] bytes, String name) {
        this.bytes = bytes;
        this.name = name;
        try {
            digest = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * @param encoded the image file's bytes
     * @param name    what error messages call it (a file name, {@code images[0]}, …)
     */
    public static ChatImage of(byte[] encoded, String name) {
        return new ChatImage(encoded.clone(), name == null ? "image" : name);
    }

    /** Reads an image file (not decoded yet: a bad image is refused when a model reads it). */
    public static ChatImage read(Path file) {
        try {
            return new ChatImage(Files.readAllBytes(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new JemmaException(file + ": no such image file");
        } catch (IOException e) {
            throw new JemmaException(file + ": cannot read the image (" + e.getMessage() + ")");
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
        return o instanceof ChatImage c && c.digest.equals(digest);
    }

    @Override
    public int hashCode() {
        return digest.hashCode();
    }

    @Override
    public String toString() {
        return "ChatImage[" + name + ", " + bytes.length + " bytes]";
    }
}
