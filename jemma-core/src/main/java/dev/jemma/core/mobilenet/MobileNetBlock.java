package dev.jemma.core.mobilenet;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;

import java.util.List;
import java.util.function.UnaryOperator;

/** One block of a MobileNet-V5 stage (timm's EdgeResidual, UniversalInvertedResidual or MobileAttention). */
public sealed interface MobileNetBlock permits EdgeResidual, UniversalInvertedResidual, MobileAttention {
    FeatureMap forward(FeatureMap x, float eps, MatMul mm, ThreadPool pool);

    int outChannels();

    /** Bytes of weights the block reads. */
    long weightBytes();

    /** Adds the block's dense weight matrices (1×1 and k×k convolutions, projections) to {@code out}. */
    void matrices(List<WeightMatrix> out);

    /** The same block reading every dense matrix through {@code attach} (e.g. its repacked copy). */
    MobileNetBlock attach(UnaryOperator<WeightMatrix> attach);

    /** A short description in the spirit of timm's block strings (type, kernels, stride, widths). */
    String describe();
}
