package dev.jemma.core;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Text from a file made safe for one terminal line (issue 22: an escape code in general.name cleared the terminal). */
class PrintableTest {
    @Test
    void leavesOrdinaryTextAlone() {
        for (String s : new String[]{"gemma3", "blk.0.attn_q.weight", "Gemma 3 — 1B (QAT) ç 漢字 😀", ""}) {
            assertThat(Printable.of(s)).isSameAs(s);
        }
    }

    @Test
    void escapesControlAndFormatCharacters() {
        assertThat(Printable.of("a\u001b[2J\u001b[Hb")).isEqualTo("a\\x1b[2J\\x1b[Hb");
        assertThat(Printable.of("x\ny\r\t\u0000\u007f\u009b")).isEqualTo("x\\x0ay\\x0d\\x09\\x00\\x7f\\x9b");
        // bidi override, zero-width joiner, line separator, a lone surrogate
        assertThat(Printable.of("\u202eabc\u200d\u2028" + "\ud800")).isEqualTo("\\u202eabc\\u200d\\u2028\\ud800");
    }

    @Test
    void cutsLongValuesAndSaysHowMuchIsLeft() {
        String s = "n".repeat(4000);
        String p = Printable.of(s);
        assertThat(p).startsWith("n".repeat(Printable.MAX_VALUE) + "…").endsWith("(3880 more characters)");
        // an emoji is two chars: cut once the text shown reaches 3
        assertThat(Printable.of("😀".repeat(10), 3)).isEqualTo("😀😀… (8 more characters)");
        // escapes count as shown: 4,000 control bytes cannot make a 16 KB line
        assertThat(Printable.of("\u0001".repeat(4000)).length()).isLessThan(Printable.MAX_VALUE + 30);
    }

    @Test
    void everyJemmaExceptionMessageIsPrintable() {
        JemmaException e = new JemmaException("bad name '\u001b]0;pwned\u0007'");
        assertThat(e.getMessage()).isEqualTo("bad name '\\x1b]0;pwned\\x07'");
        assertThat(new JemmaException("x".repeat(10_000)).getMessage().length()).isLessThan(Printable.MAX_LINE + 40);
    }
}
