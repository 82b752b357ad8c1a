package dev.jemma.langchain4j;

import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.testing.Fixtures;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The builder's Jemma-specific sampling settings (those LangChain4j's requests have no field for) reach the engine, change
 * the answer, and are range-checked as the CLI and the server check them (SamplerSetting), as are the request's own.
 */
class BuilderSamplingSettingsTest {
    private static JemmaChatModel.Builder demo() {
        return JemmaChatModel.builder().modelPath(Fixtures.demoModel()).contextLength(128).threads(1).maxOutputTokens(24);
    }

    /** Every setter lands on its own field of the engine's defaults (mutation: minP mapped to nothing, or to topP). */
    @Test
    void everySettingBecomesTheEnginesDefault() {
        try (JemmaChatModel m = demo().seed(11L).minP(0.05).repeatPenalty(1.3).repeatLastN(32).typicalP(0.9).topNSigma(2.0)
                .xtcProbability(0.4).xtcThreshold(0.2).dryMultiplier(0.8).dryBase(1.5).dryAllowedLength(3).dryPenaltyLastN(-1)
                .drySequenceBreakers(List.of("\n")).mirostat(2).mirostatTau(4.0).mirostatEta(0.2).samplers("kpt").build()) {
            GenerationOptions d = m.engine().defaults();
            assertThat(d.seed()).isEqualTo(11L);
            assertThat(d.minP()).isEqualTo(0.05f);
            assertThat(d.topP()).as("untouched").isNull();
            assertThat(d.repeatPenalty()).isEqualTo(1.3f);
            assertThat(d.repeatLastN()).isEqualTo(32);
            assertThat(d.typicalP()).isEqualTo(0.9f);
            assertThat(d.topNSigma()).isEqualTo(2.0f);
            assertThat(d.xtcProbability()).isEqualTo(0.4f);
            assertThat(d.xtcThreshold()).isEqualTo(0.2f);
            assertThat(d.dryMultiplier()).isEqualTo(0.8f);
            assertThat(d.dryBase()).isEqualTo(1.5f);
            assertThat(d.dryAllowedLength()).isEqualTo(3);
            assertThat(d.dryPenaltyLastN()).isEqualTo(-1);
            assertThat(d.drySequenceBreakers()).containsExactly("\n");
            assertThat(d.mirostat()).isEqualTo(2);
            assertThat(d.mirostatTau()).isEqualTo(4.0f);
            assertThat(d.mirostatEta()).isEqualTo(0.2f);
            assertThat(d.samplers().letters()).isEqualTo("kpt");
        }
        try (JemmaChatModel m = demo().samplers(List.of("min_p", "temperature")).build()) {
            assertThat(m.engine().defaults().samplers().letters()).isEqualTo("mt");
        }
    }

    /**
     * A setting changes what is generated: min-p 1 keeps only the most likely token, so a sampled answer (temperature 1,
     * a seed) becomes the greedy one; the same seed without it samples another (the test's own check that it can fail).
     * Mutation: the builder's minP not passed to the engine.
     */
    @Test
    void minPOfOneMakesSamplingGreedy() {
        String greedy, sampled, cut;
        try (JemmaChatModel m = demo().temperature(0.0).build()) {
            greedy = m.chat("In the beginning");
        }
        try (JemmaChatModel m = demo().temperature(1.0).seed(3L).build()) {
            sampled = m.chat("In the beginning");
        }
        try (JemmaChatModel m = demo().temperature(1.0).seed(3L).minP(1.0).build()) {
            cut = m.chat("In the beginning");
        }
        assertThat(sampled).as("seed 3 samples away from the greedy answer").isNotEqualTo(greedy);
        assertThat(cut).isEqualTo(greedy);
    }

    /** Out-of-range values are refused when set, in SamplerSetting's words, naming the setter. */
    @Test
    void outOfRangeValuesAreRefusedWithTheServersRule() {
        assertThatThrownBy(() -> demo().minP(1.5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("minP 1.5: must be between 0 and 1 (0 = off)");
        assertThatThrownBy(() -> demo().repeatPenalty(0.0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("repeatPenalty 0.0: must be above 0 and at most 100 (1 = off)");
        assertThatThrownBy(() -> demo().repeatLastN(-2)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("repeatLastN -2: must be >= -1");
        assertThatThrownBy(() -> demo().mirostat(3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("mirostat 3: must be 0 (off), 1 (Mirostat) or 2 (Mirostat 2.0)");
        assertThatThrownBy(() -> demo().dryBase(0.5)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("dryBase 0.5: must be between 1 and");
        assertThatThrownBy(() -> demo().samplers("kq")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'q'");
        assertThatThrownBy(() -> demo().drySequenceBreakers(List.of(""))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("non-empty");
    }

    /** A request's temperature above the table's bound (100) is refused as the server refuses it. */
    @Test
    void requestParametersAreCheckedAgainstTheSameTable() {
        try (JemmaChatModel m = demo().build()) {
            assertThatThrownBy(() -> m.chat(ChatRequest.builder().messages(UserMessage.from("hi")).temperature(150.0).build()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("invalid chat request parameter: temperature 150.0: must be between 0 and 100 (0 = greedy)");
            assertThatThrownBy(() -> m.chat(ChatRequest.builder().messages(UserMessage.from("hi")).presencePenalty(3.0).build()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("invalid chat request parameter: presencePenalty 3.0: must be between -2 and 2 (0 = off)");
        }
    }
}
