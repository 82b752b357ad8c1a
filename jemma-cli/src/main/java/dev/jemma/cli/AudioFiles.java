package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.audio.AudioClip;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reads audio files named on the command line: one line naming the file for anything wrong with it. */
final class AudioFiles {
    private AudioFiles() {
    }

    /** Reads a WAV file and brings it to 16 kHz (a narrow-band note on stderr); at most {@code maxSeconds} long. */
    static AudioClip read(Path file, double maxSeconds) {
        if (Files.isDirectory(file)) throw new JemmaException(file + ": is a directory, not an audio file");
        try {
            // the header is checked before the whole file is read: a 10-hour file is refused without loading it
            long size = Files.size(file);
            byte[] head = new byte[(int) Math.min(size, 1 << 20)];
            try (var in = Files.newInputStream(file)) {
                int n = in.readNBytes(head, 0, head.length);
                if (n < head.length) head = java.util.Arrays.copyOf(head, n);
            }
            dev.jemma.core.audio.WavReader.probe(head, size, file.toString(), maxSeconds);
            AudioClip clip = AudioClip.fromWav(Files.readAllBytes(file), file.toString(), maxSeconds);
            String note = clip.narrowbandWarning();
            if (note != null) System.err.println("jemma: note: " + note);
            return clip;
        } catch (NoSuchFileException e) {
            throw new JemmaException(file + ": no such audio file");
        } catch (IOException e) {
            throw new JemmaException(file + ": cannot read the audio file (" + e.getMessage() + ")");
        }
    }

    /**
     * A clip for a chat message: checked here (one line for a bad file, before the model loads) and sent as the file's
     * bytes; longer than 30 s is refused with the way to split it.
     */
    static dev.jemma.core.chat.ChatAudio chatAudio(Path file) {
        read(file, AudioClip.MAX_FILE_SECONDS).requireOnePiece();
        try {
            return dev.jemma.core.chat.ChatAudio.of(Files.readAllBytes(file), file.toString());
        } catch (IOException e) {
            throw new JemmaException(file + ": cannot read the audio file (" + e.getMessage() + ")");
        }
    }

    /** Writes little-endian float32 values to {@code out} through a temporary file (never a half-written file). */
    static void writeF32(Path out, float[] values) throws IOException {
        if (Files.isDirectory(out)) throw new JemmaException(out + ": is a directory; -o names the output file");
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(values.length * 4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        Path tmp = out.toAbsolutePath().resolveSibling(out.getFileName() + ".tmp");
        try {
            Files.write(tmp, b.array());
            Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
