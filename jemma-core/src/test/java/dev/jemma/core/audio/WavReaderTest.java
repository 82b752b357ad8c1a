package dev.jemma.core.audio;

import dev.jemma.core.JemmaException;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** WAV decoding, resampling and every kind of bad audio: one line naming the clip and the problem. */
class WavReaderTest {
    /** A WAV file: format tag, channels, rate, bits and the raw data bytes; {@code declared} overrides the data size. */
    static byte[] wav(int format, int channels, int rate, int bits, byte[] data, long declared) {
        ByteBuffer b = ByteBuffer.allocate(44 + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes()).putInt(36 + data.length).put("WAVE".getBytes());
        b.put("fmt ".getBytes()).putInt(16).putShort((short) format).putShort((short) channels).putInt(rate)
                .putInt(rate * channels * bits / 8).putShort((short) (channels * bits / 8)).putShort((short) bits);
        b.put("data".getBytes()).putInt((int) declared).put(data);
        return b.array();
    }

    static byte[] pcm16(short... s) {
        ByteBuffer b = ByteBuffer.allocate(2 * s.length).order(ByteOrder.LITTLE_ENDIAN);
        for (short v : s) b.putShort(v);
        return b.array();
    }

    static byte[] sine16(int rate, double hz, double seconds) {
        int n = (int) (rate * seconds);
        short[] s = new short[n];
        for (int i = 0; i < n; i++) s[i] = (short) Math.round(16000 * Math.sin(2 * Math.PI * hz * i / rate));
        byte[] d = pcm16(s);
        return wav(1, 1, rate, 16, d, d.length);
    }

    @Test
    void decodesEveryPcmWidthAndFloatAsHfScalesThem() {
        byte[] d16 = pcm16((short) -32768, (short) 16384);
        assertThat(WavReader.read(wav(1, 1, 16000, 16, d16, d16.length), "a", 30).samples()).containsExactly(-1f, 0.5f);
        byte[] d24 = {0, 0, (byte) 0x80, 0, 0, 0x40};
        assertThat(WavReader.read(wav(1, 1, 16000, 24, d24, d24.length), "a", 30).samples()).containsExactly(-1f, 0.5f);
        ByteBuffer b32 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(Integer.MIN_VALUE).putInt(1 << 30);
        assertThat(WavReader.read(wav(1, 1, 16000, 32, b32.array(), 8), "a", 30).samples()).containsExactly(-1f, 0.5f);
        ByteBuffer f32 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(-0.25f).putFloat(0.75f);
        assertThat(WavReader.read(wav(3, 1, 16000, 32, f32.array(), 8), "a", 30).samples()).containsExactly(-0.25f, 0.75f);
        byte[] stereo = pcm16((short) 16384, (short) 0, (short) -16384, (short) -16384);
        assertThat(WavReader.read(wav(1, 2, 16000, 16, stereo, stereo.length), "a", 30).samples()).containsExactly(0.25f, -0.5f);
    }

    @Test
    void floatSamplesThatAreNotAudioAreRefusedNamingTheSample() {
        // NaN, infinities and absurd amplitudes would turn the log-mel features into ±Infinity and the encoder into NaN
        for (float bad : new float[]{Float.NaN, Float.POSITIVE_INFINITY, -3.0e38f}) {
            ByteBuffer f32 = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putFloat(0.1f).putFloat(bad).putFloat(0.2f);
            assertThatThrownBy(() -> AudioClip.fromWav(wav(3, 1, 16000, 32, f32.array(), 12), "f.wav", 30))
                    .isInstanceOf(JemmaException.class)
                    .hasMessageStartingWith("f.wav: float sample 1 is ").hasMessageContaining("not audio");
        }
        ByteBuffer loud = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(-2.5f).putFloat(999f);
        assertThat(WavReader.read(wav(3, 1, 16000, 32, loud.array(), 8), "a", 30).samples()).containsExactly(-2.5f, 999f);
    }

    @Test
    void filesShorterThanAHeaderAreNamedNotCrashedOn() {
        // found by AudioFuzzTest: a 3-byte file reached a 4-byte tag read (StringIndexOutOfBoundsException)
        assertThatThrownBy(() -> AudioClip.fromWav(new byte[]{'I', 1, 'k'}, "a.wav", 30)).isInstanceOf(JemmaException.class)
                .hasMessage("a.wav: too short to be a WAV file (3 bytes); supported audio: WAV (PCM 8/16/24/32-bit, float 32/64-bit)");
        assertThatThrownBy(() -> AudioClip.fromWav(new byte[]{'I', 'D', '3'}, "a.mp3", 30)).isInstanceOf(JemmaException.class)
                .hasMessageStartingWith("a.mp3: an MP3 file, which is not supported");
    }

    @Test
    void badAudioGetsOneClearLine() {
        byte[] ok = sine16(16000, 440, 0.5);
        assertThatThrownBy(() -> AudioClip.fromWav(java.util.Arrays.copyOf(ok, ok.length / 2), "clip.wav", 30))
                .isInstanceOf(JemmaException.class).hasMessageStartingWith("clip.wav: truncated WAV file (the header announces");
        byte[] notRiff = ok.clone();
        notRiff[0] = 'X';
        assertThatThrownBy(() -> AudioClip.fromWav(notRiff, "clip.wav", 30)).hasMessage(
                "clip.wav: not a WAV file (no RIFF/WAVE header); supported audio: WAV (PCM 8/16/24/32-bit, float 32/64-bit)");
        byte[] mp3 = {'I', 'D', '3', 4, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        assertThatThrownBy(() -> AudioClip.fromWav(mp3, "song.mp3", 30)).hasMessageContaining("song.mp3: an MP3 file, which is not supported; supported audio: WAV");
        byte[] adpcm = wav(2, 1, 16000, 4, new byte[100], 100);
        assertThatThrownBy(() -> AudioClip.fromWav(adpcm, "a.wav", 30)).hasMessageStartingWith("a.wav: unsupported WAV encoding 2 (ADPCM)");
        byte[] silent = wav(1, 1, 16000, 16, new byte[32000], 32000);
        assertThatThrownBy(() -> AudioClip.fromWav(silent, "quiet.wav", 30)).hasMessage("quiet.wav: the clip is silent (every sample is 0), there is nothing to hear");
        // a 10-hour file is refused from its header, before its samples are read
        byte[] head = wav(1, 1, 16000, 16, new byte[0], 16000L * 2 * 36000);
        assertThatThrownBy(() -> WavReader.probe(head, head.length + 16000L * 2 * 36000, "long.wav", AudioClip.MAX_FILE_SECONDS))
                .hasMessage("long.wav: 10:00:00 of audio is longer than the 1:00:00 accepted");
        assertThatThrownBy(() -> AudioClip.fromWav(sine16(16000, 440, 31), "a.wav", 60).requireOnePiece())
                .hasMessageStartingWith("a.wav: 31.0 s of audio is longer than the 30 s Gemma 3n hears at once");
        AudioClip tiny = AudioClip.fromWav(sine16(16000, 440, 0.01), "tiny.wav", 30);
        assertThatThrownBy(() -> Gemma3nAudioFeatureExtractor.extract(tiny)).hasMessageStartingWith("tiny.wav: 0.010 s of audio is too short");
        for (String m : new String[]{"clip.wav", "a.wav"}) assertThat(m).doesNotContain("\n");
    }

    @Test
    void narrowbandAudioIsUpsampledWithANote() {
        AudioClip c = AudioClip.fromWav(sine16(8000, 440, 1.0), "phone.wav", 30);
        assertThat(c.samples()).hasSize(16000);
        assertThat(c.narrowbandWarning()).isEqualTo("phone.wav: 8000 Hz audio carries nothing above 4000 Hz; upsampled to 16 kHz, recognition may suffer");
        // the tone survives: compare with the same tone generated at 16 kHz, away from the clip's edges
        for (int i = 2000; i < 14000; i++) assertThat((double) c.samples()[i]).isCloseTo(16000 / 32768.0 * Math.sin(2 * Math.PI * 440 * i / 16000.0), org.assertj.core.api.Assertions.within(2e-3));
        assertThat(AudioClip.fromWav(sine16(16000, 440, 1.0), "a.wav", 30).narrowbandWarning()).isNull();
    }

    @Test
    void thirtySecondsAtAnyRateIsOneClipOf480000Samples() {
        for (int rate : new int[]{8000, 22050, 44100, 48000}) {
            AudioClip c = AudioClip.fromWav(sine16(rate, 440, 30), "a.wav", 60).requireOnePiece();
            assertThat(c.samples().length).as(rate + " Hz").isBetween(479_999, 480_001);
            assertThat(Gemma3nAudioFeatureExtractor.frames(Math.min(c.samples().length, 480_000))).isEqualTo(2997);
            assertThat(Gemma3nAudioFeatureExtractor.extract(c)).hasSize(2997 * 128);
        }
    }

    @Test
    void resamplingIsBandLimited() {
        // 1 kHz at 44.1 kHz → 16 kHz: the same tone
        float[] x = new float[44100];
        for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(2 * Math.PI * 1000 * i / 44100.0);
        float[] y = Resampler.resample(x, 44100, 16000);
        assertThat(y).hasSize(16000);
        for (int i = 1000; i < 15000; i++) assertThat((double) y[i]).isCloseTo(Math.sin(2 * Math.PI * 1000 * i / 16000.0), org.assertj.core.api.Assertions.within(1e-3));
        // 11 kHz at 48 kHz is above the new Nyquist (8 kHz): removed, not folded down to 5 kHz
        float[] hi = new float[48000];
        for (int i = 0; i < hi.length; i++) hi[i] = (float) Math.sin(2 * Math.PI * 11000 * i / 48000.0);
        float[] z = Resampler.resample(hi, 48000, 16000);
        double peak = 0;
        for (int i = 1000; i < 15000; i++) peak = Math.max(peak, Math.abs(z[i]));
        assertThat(peak).as("aliased 11 kHz tone").isLessThan(1e-3);
    }
}
