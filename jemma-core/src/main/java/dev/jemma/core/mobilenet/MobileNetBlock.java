package dev.jemma.core.mobilenet;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;

/** One block of a MobileNet-V5 stage (timm's EdgeResidual, UniversalInvertedResidual or MobileAttention). */
public sealed interface MobileNetBlock permits EdgeResidual, UniversalInvertedResidual, MobileAttention {
    FeatureMap forward(FeatureMap x, float eps, MatMul mm, ThreadPool pool);

    int outChannels();

    /** Bytes of weights the block reads. */
    long weightBytes();

    /** A short description in the spirit of timm's block strings (type, kernels, stride, widths). */
    String describe();
}
