package dev.jemma.core.mobilenet;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;

import java.util.List;
import java.util.function.UnaryOperator;

/**
 * timm EdgeResidual (FusedMBConv), the blocks of MobileNet-V5's first stage:
 * <pre>
 *   y = bn2(conv_pwl(gelu(bn1(conv_exp_{k×k, stride}(x)))))      (bn = RmsNorm2d; both convolutions without bias)
 *   out = y + x   when the block keeps size and width
 * </pre>
 */
public record EdgeResidual(WeightMatrix convExp, int k, int stride, float[] bn1, WeightMatrix convPwl, float[] bn2,
                           int inChannels) implements MobileNetBlock {
    @Override
    public FeatureMap forward(FeatureMap x, float eps, MatMul mm, ThreadPool pool) {
        FeatureMap h = Conv2d.full(convExp, k, stride, null, x, mm, pool);
        Conv2d.rmsNorm(h, bn1, eps, true, pool);
        FeatureMap y = Conv2d.pointwise(convPwl, h, mm, pool);
        Conv2d.rmsNorm(y, bn2, eps, false, pool);
        if (hasSkip()) Conv2d.addInPlace(y, x);
        return y;
    }

    boolean hasSkip() {
        return stride == 1 && inChannels == convPwl.rows();
    }

    @Override
    public int outChannels() {
        return convPwl.rows();
    }

    @Override
    public long weightBytes() {
        return convExp.data().byteSize() + convPwl.data().byteSize() + 4L * (bn1.length + bn2.length);
    }

    @Override
    public void matrices(List<WeightMatrix> out) {
        out.add(convExp);
        out.add(convPwl);
    }

    @Override
    public EdgeResidual attach(UnaryOperator<WeightMatrix> attach) {
        return new EdgeResidual(attach.apply(convExp), k, stride, bn1, attach.apply(convPwl), bn2, inChannels);
    }

    @Override
    public String describe() {
        return "er k" + k + " s" + stride + " " + inChannels + "→" + convExp.rows() + "→" + outChannels();
    }
}
