package dev.jemma.core.mobilenet;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;

import java.util.function.UnaryOperator;

/** timm's ConvNormAct as MobileNet-V5 uses it: a convolution without bias, RmsNorm2d, then GELU when {@code gelu}. */
sealed interface ConvNorm permits ConvNorm.Pointwise, ConvNorm.Depthwise {
    FeatureMap apply(FeatureMap x, float eps, MatMul mm, ThreadPool pool);

    long weightBytes();

    ConvNorm attach(UnaryOperator<WeightMatrix> attach);

    /** 1×1 convolution W [out × in] (a matmul over the pixels), norm, optional GELU. */
    record Pointwise(WeightMatrix w, float[] norm, boolean gelu) implements ConvNorm {
        @Override
        public FeatureMap apply(FeatureMap x, float eps, MatMul mm, ThreadPool pool) {
            FeatureMap y = Conv2d.pointwise(w, x, mm, pool);
            Conv2d.rmsNorm(y, norm, eps, gelu, pool);
            return y;
        }

        @Override
        public long weightBytes() {
            return w.data().byteSize() + 4L * norm.length;
        }

        int outChannels() {
            return w.rows();
        }

        @Override
        public Pointwise attach(UnaryOperator<WeightMatrix> attach) {
            return new Pointwise(attach.apply(w), norm, gelu);
        }
    }

    /** Depthwise k×k convolution with "same" padding and the given stride ({@link Conv2d#depthwise} taps), norm, optional GELU. */
    record Depthwise(float[] taps, int k, int stride, float[] norm, boolean gelu) implements ConvNorm {
        @Override
        public FeatureMap apply(FeatureMap x, float eps, MatMul mm, ThreadPool pool) {
            FeatureMap y = Conv2d.depthwise(taps, k, stride, x, pool);
            Conv2d.rmsNorm(y, norm, eps, gelu, pool);
            return y;
        }

        @Override
        public long weightBytes() {
            return 4L * (taps.length + norm.length);
        }

        @Override
        public Depthwise attach(UnaryOperator<WeightMatrix> attach) {
            return this;
        }
    }
}
