package dev.jemma.tools.quant;

import dev.jemma.core.JemmaException;
import dev.jemma.core.tensor.GgmlType;

import java.util.Arrays;
import java.util.Locale;

/**
 * A target of {@code jemma quantize}: the default type of the quantized tensors and the value llama.cpp stores
 * in {@code general.file_type} (its {@code llama_ftype} numbering, so other runtimes report the same name).
 */
public enum QuantPreset {
    F32(0, GgmlType.F32),
    F16(1, GgmlType.F16),
    BF16(32, GgmlType.BF16),
    Q8_0(7, GgmlType.Q8_0),
    Q4_0(2, GgmlType.Q4_0),
    Q4_1(3, GgmlType.Q4_1),
    Q5_0(8, GgmlType.Q5_0),
    Q5_1(9, GgmlType.Q5_1),
    Q4_K_M(15, GgmlType.Q4_K),
    Q5_K_M(17, GgmlType.Q5_K),
    Q6_K(18, GgmlType.Q6_K);

    public final int fileType;
    public final GgmlType defaultType;

    QuantPreset(int fileType, GgmlType defaultType) {
        this.fileType = fileType;
        this.defaultType = defaultType;
    }

    public static QuantPreset parse(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new JemmaException("unknown quantization type '" + s + "' (one of " + Arrays.toString(values()) + ")");
        }
    }
}
