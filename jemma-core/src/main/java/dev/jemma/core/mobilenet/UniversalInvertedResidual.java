package dev.jemma.core.mobilenet;

import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.WeightMatrix;

import java.util.List;
import java.util.function.UnaryOperator;

/**
 * timm UniversalInvertedResidual (MobileNet-V4's UIB), most of MobileNet-V5's blocks and the fusion adapter's FFN:
 * <pre>
 *   h = dw_start(x)                    optional depthwise k×k + norm (no activation)
 *   h = gelu(norm(pw_exp(h)))          1×1 expansion
 *   h = dw_mid(h)                      optional depthwise k×k + norm + GELU
 *   h = norm(pw_proj(h))               1×1 projection
 *   h = h · gamma                      optional layer scale
 *   out = h + x                        when the block keeps size and width (and has a skip)
 * </pre>
 * The block's stride sits on dw_mid when there is one, else on dw_start (timm's rule).
 */
public record UniversalInvertedResidual(ConvNorm.Depthwise dwStart, ConvNorm.Pointwise pwExp, ConvNorm.Depthwise dwMid,
                                        ConvNorm.Pointwise pwProj, float[] layerScale, int inChannels, int stride,
                                        boolean noskip) implements MobileNetBlock {
    @Override
    public FeatureMap forward(FeatureMap x, float eps, MatMul mm, ThreadPool pool) {
        FeatureMap h = x;
        if (dwStart != null) h = dwStart.apply(h, eps, mm, pool);
        h = pwExp.apply(h, eps, mm, pool);
        if (dwMid != null) h = dwMid.apply(h, eps, mm, pool);
        h = pwProj.apply(h, eps, mm, pool);
        if (layerScale != null) Conv2d.scaleChannels(h, layerScale, pool);
        if (hasSkip()) Conv2d.addInPlace(h, x);
        return h;
    }

    boolean hasSkip() {
        return !noskip && stride == 1 && inChannels == outChannels();
    }

    @Override
    public int outChannels() {
        return pwProj.outChannels();
    }

    @Override
    public long weightBytes() {
        long b = pwExp.weightBytes() + pwProj.weightBytes() + (layerScale == null ? 0 : 4L * layerScale.length);
        if (dwStart != null) b += dwStart.weightBytes();
        if (dwMid != null) b += dwMid.weightBytes();
        return b;
    }

    @Override
    public void matrices(List<WeightMatrix> out) {
        out.add(pwExp.w());
        out.add(pwProj.w());
    }

    @Override
    public UniversalInvertedResidual attach(UnaryOperator<WeightMatrix> attach) {
        return new UniversalInvertedResidual(dwStart, pwExp.attach(attach), dwMid, pwProj.attach(attach), layerScale, inChannels, stride, noskip);
    }

    @Override
    public String describe() {
        return "uir a" + (dwStart == null ? 0 : dwStart.k()) + " k" + (dwMid == null ? 0 : dwMid.k()) + " s" + stride
                + " " + inChannels + "→" + pwExp.outChannels() + "→" + outChannels();
    }
}
