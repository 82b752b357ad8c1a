package dev.jemma.core.mobilenet;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.media3n.MmprojWeights;
import dev.jemma.core.repack.RepackCache;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.FastMatMul;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * CPU time of one MobileNet-V5 encode per kind of work, at 1 thread (the caller's thread does all the work, so its
 * CPU time is the encode's, whatever else the machine runs): the same operations as {@link MobileNetV5#forward}, taken
 * one by one. Not a test; run by hand (docs/PERFORMANCE.md, "Gemma 3n encoders"):
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) \
 *        dev.jemma.core.mobilenet.MobileNetProfile /work/bench/mmproj-gemma3n-e2b.gguf [runs]
 * </pre>
 */
public final class MobileNetProfile {
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
    private final Map<String, Long> nanos = new LinkedHashMap<>();
    private final Map<String, Long> macs = new LinkedHashMap<>();
    private long mark;

    private void start() {
        mark = CPU.getCurrentThreadCpuTime();
    }

    private void count(String what, long n) {
        macs.merge(what, n, Long::sum);
    }

    private void lap(String what) {
        long now = CPU.getCurrentThreadCpuTime();
        nanos.merge(what, now - mark, Long::sum);
        mark = now;
    }

    public static void main(String[] args) {
        Path mmproj = Path.of(args[0]);
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        try (GgufFile f = GgufFile.open(mmproj); ThreadPool pool = new ThreadPool(1)) {
            MobileNetV5 base = new MobileNetV5(new MmprojWeights(f), f.requireInt("clip.vision.image_size"), 1e-6f);
            // as Gemma3nImageEncoder runs it in default mode
            RepackCache repacked = RepackCache.open(f, base.matrices(), pool);
            MobileNetV5 net = base.attach(repacked);
            MatMul mm = new FastMatMul();
            int s = net.imageSize();
            float[] pixels = new float[3 * s * s];
            Random r = new Random(1);
            for (int i = 0; i < pixels.length; i++) pixels[i] = r.nextFloat();
            net.forward(pixels, 0, mm, pool); // warm-up: JIT
            MobileNetProfile best = null;
            for (int i = 0; i < runs; i++) {
                MobileNetProfile p = new MobileNetProfile();
                p.encode(net, pixels, mm, pool);
                if (best == null || p.total() < best.total()) best = p;
            }
            System.out.printf("MobileNet-V5 %s, 1 thread, CPU seconds (best of %d):%n", mmproj.getFileName(), runs);
            for (var e : best.nanos.entrySet()) {
                Long n = best.macs.get(e.getKey());
                System.out.printf("  %-26s %7.2f%s%n", e.getKey(), e.getValue() / 1e9,
                        n == null ? "" : String.format("   %6.2f G multiply-adds, %5.1f G/s", n / 1e9, n / (double) e.getValue()));
            }
            System.out.printf("  %-26s %7.2f%n", "total", best.total() / 1e9);
        }
    }

    private long total() {
        return nanos.values().stream().mapToLong(Long::longValue).sum();
    }

    private void encode(MobileNetV5 net, float[] pixels, MatMul mm, ThreadPool pool) {
        float eps = 1e-6f;
        start();
        FeatureMap x = FeatureMap.fromChannelFirst(pixels, 0, 3, net.imageSize(), net.imageSize());
        x = net.stem(x, mm, pool);
        lap("stem");
        FeatureMap high = null;
        for (int s = 0; s < net.stageCount(); s++) {
            for (MobileNetBlock b : net.stage(s)) {
                x = switch (b) {
                    case EdgeResidual e -> edge(e, x, eps, mm, pool);
                    case UniversalInvertedResidual u -> uir(u, x, eps, mm, pool, "uir");
                    case MobileAttention a -> mqa(a, x, eps, mm, pool);
                };
            }
            if (s == net.stageCount() - 2) high = x;
        }
        FeatureMap low = x;
        if (low.height() < high.height()) low = Conv2d.nearest(low, high.height(), high.width());
        FeatureMap f = Conv2d.concatChannels(high, low);
        lap("msfa: resize, concat, pool");
        f = uir(net.msfaFfn(), f, eps, mm, pool, "msfa");
        if (f.height() != MobileNetV5.OUTPUT_RESOLUTION) f = Conv2d.avgPool(f, f.height() / MobileNetV5.OUTPUT_RESOLUTION);
        lap("msfa: resize, concat, pool");
        Conv2d.rmsNorm(f, net.msfaNorm(), eps, false, pool);
        lap("norms, gelu, residuals");
    }

    private FeatureMap edge(EdgeResidual e, FeatureMap x, float eps, MatMul mm, ThreadPool pool) {
        FeatureMap h = Conv2d.full(e.convExp(), e.k(), e.stride(), null, x, mm, pool);
        count("er: k×k conv", (long) h.pixels() * e.convExp().rows() * e.convExp().cols());
        lap("er: k×k conv");
        Conv2d.rmsNorm(h, e.bn1(), eps, true, pool);
        lap("norms, gelu, residuals");
        FeatureMap y = Conv2d.pointwise(e.convPwl(), h, mm, pool);
        count("er: 1×1 conv", (long) y.pixels() * e.convPwl().rows() * e.convPwl().cols());
        lap("er: 1×1 conv");
        Conv2d.rmsNorm(y, e.bn2(), eps, false, pool);
        if (e.hasSkip()) Conv2d.addInPlace(y, x);
        lap("norms, gelu, residuals");
        return y;
    }

    private FeatureMap convNorm(ConvNorm c, FeatureMap x, float eps, MatMul mm, ThreadPool pool, String what) {
        FeatureMap y = switch (c) {
            case ConvNorm.Pointwise p -> Conv2d.pointwise(p.w(), x, mm, pool);
            case ConvNorm.Depthwise d -> Conv2d.depthwise(d.taps(), d.k(), d.stride(), x, pool);
        };
        String kind = what + (c instanceof ConvNorm.Pointwise ? ": 1×1 conv" : ": depthwise");
        count(kind, c instanceof ConvNorm.Pointwise p ? (long) y.pixels() * p.w().rows() * p.w().cols()
                : (long) y.pixels() * y.channels() * ((ConvNorm.Depthwise) c).k() * ((ConvNorm.Depthwise) c).k());
        lap(kind);
        Conv2d.rmsNorm(y, c instanceof ConvNorm.Pointwise p ? p.norm() : ((ConvNorm.Depthwise) c).norm(), eps,
                c instanceof ConvNorm.Pointwise p2 ? p2.gelu() : ((ConvNorm.Depthwise) c).gelu(), pool);
        lap("norms, gelu, residuals");
        return y;
    }

    private FeatureMap uir(UniversalInvertedResidual u, FeatureMap x, float eps, MatMul mm, ThreadPool pool, String what) {
        FeatureMap h = x;
        if (u.dwStart() != null) h = convNorm(u.dwStart(), h, eps, mm, pool, what);
        h = convNorm(u.pwExp(), h, eps, mm, pool, what);
        if (u.dwMid() != null) h = convNorm(u.dwMid(), h, eps, mm, pool, what);
        h = convNorm(u.pwProj(), h, eps, mm, pool, what);
        if (u.layerScale() != null) Conv2d.scaleChannels(h, u.layerScale(), pool);
        if (u.hasSkip()) Conv2d.addInPlace(h, x);
        lap("norms, gelu, residuals");
        return h;
    }

    private FeatureMap mqa(MobileAttention a, FeatureMap x, float eps, MatMul mm, ThreadPool pool) {
        FeatureMap h = new FeatureMap(x.data().clone(), x.height(), x.width(), x.channels());
        Conv2d.rmsNorm(h, a.norm(), eps, false, pool);
        lap("norms, gelu, residuals");
        FeatureMap kin = h, vin = h;
        if (a.keyDown() != null) {
            kin = a.keyDown().apply(h, eps, mm, pool);
            vin = a.valueDown().apply(h, eps, mm, pool);
            lap("mqa: kv down (depthwise)");
        }
        FeatureMap q = Conv2d.pointwise(a.query(), h, mm, pool);
        FeatureMap k = Conv2d.pointwise(a.key(), kin, mm, pool);
        FeatureMap v = Conv2d.pointwise(a.value(), vin, mm, pool);
        count("mqa: q/k/v 1×1", (long) q.pixels() * a.query().rows() * a.query().cols() + (long) k.pixels() * a.key().rows() * a.key().cols()
                + (long) v.pixels() * a.value().rows() * a.value().cols());
        lap("mqa: q/k/v 1×1");
        FeatureMap o = a.attend(q, k, v, pool);
        count("mqa: attention", (long) q.pixels() * a.heads() * k.pixels() * (k.channels() + v.channels()));
        lap("mqa: attention");
        FeatureMap y = Conv2d.pointwise(a.output(), o, mm, pool);
        count("mqa: output 1×1", (long) y.pixels() * a.output().rows() * a.output().cols());
        lap("mqa: output 1×1");
        if (a.layerScale() != null) Conv2d.scaleChannels(y, a.layerScale(), pool);
        if (a.inChannels() == a.outChannels()) Conv2d.addInPlace(y, x);
        lap("norms, gelu, residuals");
        return y;
    }
}
