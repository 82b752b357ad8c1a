package dev.jemma.core.model;

import dev.jemma.core.JemmaException;
import dev.jemma.core.tensor.kernels.Kernels;
import dev.jemma.core.tensor.kernels.VectorWidth;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Gemma 3n scheme per vector width is the one the E2B measurements chose (docs/PERFORMANCE.md, "Gemma 3n at every
 * width (branch g3n28)"), and it is what this JVM runs at its width. Which matrices each scheme gives int8 activations
 * is checked on a loaded model in {@code Gemma3nConformanceTest.eachSchemeGivesItsMatricesTheCopy}.
 */
class Gemma3nSchemeTest {
    @Test
    void theMeasuredChoicePerWidth() {
        assertThat(Gemma3nScheme.forWidth(512)).isEqualTo(Gemma3nScheme.EVERY_MATRIX);
        assertThat(Gemma3nScheme.forWidth(256)).isEqualTo(Gemma3nScheme.EVERY_MATRIX);
        assertThat(Gemma3nScheme.forWidth(128)).isEqualTo(Gemma3nScheme.EVERY_MATRIX);
    }

    /**
     * The output projection (its own {@code output} or the tied {@code token_embd}) runs on plain int8, every layer kind on
     * 15-bit activations, in both int8 schemes (docs/PERFORMANCE.md, "The output projection on plain int8 and the Q6_K
     * kernel (branch outq29)"). Which of a loaded model's matrices ask for residual rows is checked in {@code
     * Gemma3nConformanceTest.onlyTheDefaultModeTakesTheInt8Matrices}.
     */
    @Test
    void theOutputProjectionAloneTakesPlainInt8() {
        for (Gemma3nScheme s : new Gemma3nScheme[]{Gemma3nScheme.EVERY_MATRIX, Gemma3nScheme.OUTPUT_ONLY}) {
            assertThat(s.residualRows("output")).as(s + " output").isFalse();
            assertThat(s.residualRows("token_embd")).as(s + " token_embd").isFalse();
            for (String kind : new String[]{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down",
                    "laurel_l", "laurel_r", "altup_router", "inp_gate", "proj"}) {
                assertThat(s.residualRows(kind)).as(s + " " + kind).isTrue();
            }
        }
    }

    @Test
    void thisJvmRunsTheChoiceOfItsWidth() {
        assumeTrue(System.getProperty("jemma.gemma3n.scheme") == null, "no scheme asked for");
        Gemma3nScheme expected = Kernels.ENABLED ? Gemma3nScheme.forWidth(VectorWidth.BITS) : Gemma3nScheme.F32;
        assertThat(Gemma3nScheme.chosen()).isEqualTo(expected);
        assertThat(Gemma3nScheme.of(new ModelLoader.Options(false, 1, 1, null, 0, false))).isEqualTo(expected);
    }

    @Test
    void exactModeAndF32ActivationsRunF32() {
        assertThat(Gemma3nScheme.of(new ModelLoader.Options(true, 1, 1, null, 0, false))).isEqualTo(Gemma3nScheme.F32);
        assertThat(Gemma3nScheme.of(new ModelLoader.Options(false, 1, 1, null, 0, true))).isEqualTo(Gemma3nScheme.F32);
    }

    @Test
    void aSchemeAskedForWinsAndABadOneIsRefusedInOneLine() {
        assumeTrue(Kernels.ENABLED, "int8 kernels on");
        String old = System.getProperty("jemma.gemma3n.scheme");
        try {
            System.setProperty("jemma.gemma3n.scheme", "output");
            assertThat(Gemma3nScheme.chosen()).isEqualTo(Gemma3nScheme.OUTPUT_ONLY);
            System.setProperty("jemma.gemma3n.scheme", "every");
            assertThat(Gemma3nScheme.chosen()).isEqualTo(Gemma3nScheme.EVERY_MATRIX);
            System.setProperty("jemma.gemma3n.scheme", "int4");
            assertThatThrownBy(Gemma3nScheme::chosen).isInstanceOf(JemmaException.class)
                    .hasMessage("-Djemma.gemma3n.scheme=int4: every or output");
        } finally {
            if (old == null) System.clearProperty("jemma.gemma3n.scheme");
            else System.setProperty("jemma.gemma3n.scheme", old);
        }
    }
}
