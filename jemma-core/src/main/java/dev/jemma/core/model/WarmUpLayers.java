package dev.jemma.core.model;

import dev.jemma.core.tensor.WeightMatrix;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * The layers a warm-up forward runs ({@link LanguageModel#warmUpForward}): the first of each kind, in order. Layers of
 * one kind run the same code at the same shapes, so one of each compiles every kernel, and every branch of it, that a
 * forward through all of them runs; a 12B's 48 layers are two kinds (local and global attention) when every layer has
 * the same matrix types.
 */
final class WarmUpLayers {
    private WarmUpLayers() {
    }

    /** The first layer of each distinct {@code kindOf(l)} (a value with equals), in order. */
    static int[] firstOfEachKind(int layers, IntFunction<List<Object>> kindOf) {
        Map<List<Object>, Integer> first = new LinkedHashMap<>();
        for (int l = 0; l < layers; l++) first.putIfAbsent(kindOf.apply(l), l);
        return first.values().stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * What a matmul's code depends on, per matrix: its type, size and whether it has an interleaved copy (which kernels
     * run it); a null matrix (a KV-shared layer's K) as such.
     */
    static List<Object> matrices(WeightMatrix... matrices) {
        List<Object> kinds = new ArrayList<>(matrices.length);
        for (WeightMatrix m : matrices) {
            kinds.add(m == null ? List.of() : List.of(m.type(), m.rows(), m.cols(), m.interleaved() != null));
        }
        return kinds;
    }
}
