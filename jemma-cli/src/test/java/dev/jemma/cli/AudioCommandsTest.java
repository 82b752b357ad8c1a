package dev.jemma.cli;

import dev.jemma.core.testing.MultimodalFixtures;
import dev.jemma.core.testing.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Gemma 3n audio commands against HF's references (audio-features, embed-audio, logits --audio, run --audio) and
 * bad audio on the command line: one line each, non-zero exit, no output file.
 */
class AudioCommandsTest {
    private static Path fixtures, model, wav;
    private static JsonNode audioCase, tolerances;

    @TempDir
    Path dir;

    @BeforeAll
    static void locate() throws IOException {
        fixtures = MultimodalFixtures.root();
        audioCase = MultimodalFixtures.gemma3nCase("audio");
        tolerances = MultimodalFixtures.tolerances();
        model = fixtures.resolve(audioCase.get("variant").get("text_gguf").asText());
        wav = fixtures.resolve(audioCase.get("media").get(0).asText());
    }


    private static double maxAbs(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    @Test
    void benchTimesAudioEncodingOfAFileAndOfASyntheticClip() throws IOException {
        var r = CliTestSupport.run(null, "bench", model.toString(), "-p", "0", "-n", "0", "-r", "1", "-t", "2", "--json", "--audio", wav.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.path("audio_encode_seconds").asDouble()).isPositive();
        assertThat(o.path("audio_seconds").asDouble()).isEqualTo(2.5, org.assertj.core.data.Offset.offset(0.01));
        assertThat(o.path("audio_realtime_factor").asDouble()).isEqualTo(2.5 / o.path("audio_encode_seconds").asDouble(),
                org.assertj.core.data.Offset.offset(1e-6));
        var t = CliTestSupport.run(null, "bench", model.toString(), "-p", "0", "-n", "0", "-r", "1", "-t", "2", "--audio", "3s");
        assertThat(t.exitCode()).as(t.err()).isZero();
        assertThat(t.out()).contains("audio encode 3.0 s clip (s)").contains("audio real-time factor");
        var bad = CliTestSupport.run(null, "bench", model.toString(), "-p", "0", "-n", "0", "--audio", "31s");
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err().strip()).isEqualTo("jemma: --audio: 31s is outside 0.04 s to 30 s, the clip lengths Gemma 3n takes at once");
    }

    @Test
    void conformanceCommandsMatchHf() throws IOException {
        JsonNode v = audioCase.get("variant"), exact = tolerances.get("exact_f32_mode").get("gemma3n");
        Path feat = dir.resolve("feat.f32");
        var r = CliTestSupport.run(null, "audio-features", wav.toString(), "-o", feat.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxAbs(Fixtures.readF32(feat), Fixtures.readF32(fixtures.resolve(audioCase.get("input_features").get("file").asText()))))
                .isLessThanOrEqualTo(tolerances.get("preprocessing").get("input_features_max_abs").asDouble());

        Path tower = dir.resolve("tower.f32"), embd = dir.resolve("embd.f32");
        r = CliTestSupport.run(null, "embed-audio", model.toString(), wav.toString(), "--tower", "--exact", "-o", tower.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxAbs(Fixtures.readF32(tower), Fixtures.readF32(fixtures.resolve(v.get("audio_tower_output").get("file").asText()))))
                .isLessThanOrEqualTo(exact.get("audio_tower_output_max_abs").asDouble());
        r = CliTestSupport.run(null, "embed-audio", model.toString(), wav.toString(), "--pad", "24", "-o", embd.toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(maxAbs(Fixtures.readF32(embd), Fixtures.readF32(fixtures.resolve(v.get("soft_token_embeddings").get("file").asText()))))
                .isLessThanOrEqualTo(exact.get("soft_token_embeddings_max_abs").asDouble());

        Path ids = Files.writeString(dir.resolve("ids.json"), audioCase.get("prompt").get("ids").toString());
        for (String mode : new String[]{"--exact", "--threads=2"}) {
            Path out = dir.resolve("logits.f32");
            r = CliTestSupport.run(null, "logits", model.toString(), "--audio", wav.toString(), "--ids-file", ids.toString(), "-o", out.toString(), mode);
            assertThat(r.exitCode()).as(r.err()).isZero();
            float[] got = Fixtures.readF32(out), ref = Fixtures.readF32(fixtures.resolve(v.get("logits").get("file").asText()));
            assertThat(maxAbs(got, ref)).as(mode).isLessThanOrEqualTo(exact.get("logits_max_abs").asDouble());
        }
    }

    @Test
    void runAnswersWithAClip() {
        var r = CliTestSupport.run(null, "run", model.toString(), "--audio", wav.toString(), "Transcribe this audio clip.", "-n", "8", "--temp", "0",
                "--ids");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out().strip()).startsWith("[").endsWith("]");
        assertThat(r.out().split(",")).hasSize(8);
    }

    @Test
    void transcribeSplitsLongClipsWithTimeRanges() throws IOException {
        // 34 s: the fixture clip repeated, so both pieces hold speech-like audio
        byte[] one = Files.readAllBytes(wav);
        int n = 16000 * 34;
        ByteBuffer d = ByteBuffer.allocate(2 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) d.putShort(ByteBuffer.wrap(one, 44 + 2 * (i % ((one.length - 44) / 2)), 2).order(ByteOrder.LITTLE_ENDIAN).getShort());
        Path longClip = dir.resolve("long.wav");
        Files.write(longClip, concat(header(16000, 2L * n), d.array()));
        var r = CliTestSupport.run(null, "transcribe", model.toString(), longClip.toString(), "-n", "4");
        assertThat(r.exitCode()).as(r.err()).isZero();
        List<String> lines = r.out().strip().lines().toList();
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).startsWith("[0:00:00.0 - 0:00:30.0] ");
        assertThat(lines.get(1)).startsWith("[0:00:30.0 - 0:00:34.0] ");
        // a clip of 30 s or less is one piece, printed as the model's answer to the instruction
        r = CliTestSupport.run(null, "transcribe", model.toString(), wav.toString(), "-n", "4", "--translate-to", "French");
        assertThat(r.exitCode()).as(r.err()).isZero();
        try (var e = dev.jemma.core.engine.Engine.load(model, dev.jemma.core.engine.EngineOptions.builder().threads(2).build()); var s = e.newSession()) {
            String expected = s.generate(List.of(dev.jemma.core.chat.ChatMessage.user("Translate this audio clip into French.", List.of(),
                            List.of(dev.jemma.core.chat.ChatAudio.read(wav)))),
                    dev.jemma.core.engine.GenerationOptions.builder().temperature(0f).maxTokens(4).build(), dev.jemma.core.engine.TokenListener.NONE).text();
            assertThat(r.out().strip()).isEqualTo(expected.strip());
        }
        // over an hour: one line, from the header
        Path huge = file("huge.wav", header(16000, 16000L * 2 * 36000 & 0xFFFFFFFFL), 16000L * 2 * 36000 & 0xFFFFFFFFL, false);
        r = CliTestSupport.run(null, "transcribe", model.toString(), huge.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err()).contains(huge + ": 10:00:00 of audio is longer than the 1:00:00 accepted");
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** A 16 kHz mono 16-bit WAV header announcing {@code dataBytes}. */
    private static byte[] header(int rate, long dataBytes) {
        ByteBuffer b = ByteBuffer.allocate(44).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes()).putInt((int) (36 + dataBytes)).put("WAVE".getBytes());
        b.put("fmt ".getBytes()).putInt(16).putShort((short) 1).putShort((short) 1).putInt(rate).putInt(rate * 2).putShort((short) 2).putShort((short) 16);
        b.put("data".getBytes()).putInt((int) dataBytes);
        return b.array();
    }

    private Path file(String name, byte[] head, long dataBytes, boolean tone) throws IOException {
        Path f = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.write(head);
            if (tone) {
                ByteBuffer b = ByteBuffer.allocate((int) dataBytes).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < dataBytes / 2; i++) b.putShort((short) (8000 * Math.sin(i * 0.2)));
                raf.write(b.array());
            } else {
                raf.setLength(44 + dataBytes);   // sparse: zeros cost no disk
            }
        }
        return f;
    }

    @Test
    void badAudioGetsOneLineEach() throws IOException {
        Path trunc = file("trunc.wav", header(16000, 64000), 0, false);
        Files.write(trunc, java.util.Arrays.copyOf(Files.readAllBytes(file("t.wav", header(16000, 64000), 64000, true)), 32000));
        Path wrong = dir.resolve("wrong.wav");
        Files.write(wrong, "JUNKxxxxWAVEfmt this is not audio at all".getBytes());
        Path tenHours = file("tenhours.wav", header(16000, 16000L * 2 * 36000 & 0xFFFFFFFFL), 16000L * 2 * 36000 & 0xFFFFFFFFL, false);
        Path silence = file("silence.wav", header(16000, 32000), 32000, false);
        Path phone = file("phone.wav", header(8000, 32000), 32000, true);
        String[][] cases = {
                {trunc.toString(), "truncated WAV file"},
                {wrong.toString(), "not a WAV file (no RIFF/WAVE header); supported audio: WAV"},
                {tenHours.toString(), "of audio is longer than"},
                {silence.toString(), "the clip is silent"},
        };
        for (String[] c : cases) {
            Path out = dir.resolve("out.f32");
            var r = CliTestSupport.run(null, "audio-features", c[0], "-o", out.toString());
            assertThat(r.exitCode()).as(c[0]).isEqualTo(1);
            String err = r.err().lines().filter(l -> !l.contains("incubator")).reduce("", (a, b) -> a + b + "\n");
            assertThat(err).startsWith("jemma: " + c[0] + ": ").contains(c[1]);
            assertThat(err.strip().lines().count()).as(err).isEqualTo(1);
            assertThat(out).doesNotExist();
        }
        // 8 kHz is heard, with one line saying what upsampling cannot give back
        var r = CliTestSupport.run(null, "audio-features", phone.toString(), "-o", dir.resolve("phone.f32").toString());
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("8000 Hz audio carries nothing above 4000 Hz");
    }
}
