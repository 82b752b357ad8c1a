package dev.jemma.core.vision;

import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.mobilenet.Gemma3nImageEncoder;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.FastMatMul;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Random;

/**
 * The Java heap one image's encoding needs, for the memory plan's image scratch: opens an mmproj's image encoder in the
 * default mode (Gemma 3's SigLIP, or Gemma 3n's MobileNet-V5 for a text model of width 2048 and the 262k vocabulary:
 * E2B, or those of the TEXT_MODEL given), encodes {@code encodes} random images and prints the live heap after opening (after a full GC), the bytes the
 * encoding threads allocated per image and the encoder's own estimate ({@link VisionEncoder#scratchBytes}). Exits 0
 * when every encode finished, so a script can bisect the smallest {@code -Xmx} that encodes (the heap an encode really
 * needs, garbage collection included). Not a test; run by hand (docs/PERFORMANCE.md, "Image encoder scratch"):
 * <pre>
 *   java --add-modules jdk.incubator.vector -XX:+UseParallelGC -Xmn8m -Xmx512m -Djemma.cache.dir=DIR \
 *        -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) \
 *        dev.jemma.core.vision.EncoderHeapProbe MMPROJ [encodes] [threads] [TEXT_MODEL]
 * </pre>
 */
public final class EncoderHeapProbe {
    public static void main(String[] args) {
        Path mmproj = Path.of(args[0]);
        int encodes = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        MatMul mm = new FastMatMul();
        try (ThreadPool pool = new ThreadPool(threads)) {
            boolean gemma3n = "gemma3nv".equals(projectorType(mmproj));
            int dim = 2048, vocab = 262144;
            if (args.length > 3) {
                try (var f = dev.jemma.core.gguf.GgufFile.open(Path.of(args[3]))) {
                    var c = dev.jemma.core.model.ModelLoader.readConfig(f);
                    dim = c.dim();
                    vocab = c.vocabSize();
                }
            }
            VisionEncoder enc = gemma3n ? Gemma3nImageEncoder.owning(Gemma3nMmproj.open(mmproj, dim, vocab, mm, pool), mm)
                    : ImageEncoder.open(mmproj, mm);
            try (enc) {
                System.gc();
                long live = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
                System.out.printf("%s: %s, %d px; live heap after open %.1f MB; estimate (scratchBytes) %.1f MB%n", mmproj.getFileName(),
                        gemma3n ? "MobileNet-V5" : "SigLIP", enc.imageSize(), live / 1e6, enc.scratchBytes() / 1e6);
                int s = enc.imageSize();
                float[] pixels = new float[3 * s * s];
                Random r = new Random(1);
                for (int i = 0; i < pixels.length; i++) pixels[i] = r.nextFloat();
                for (int i = 0; i < encodes; i++) {
                    long a0 = allocated(mx), t0 = System.nanoTime();
                    enc.encode(pixels, 0, pool);
                    System.out.printf("encode %d: %.1f s, allocated %.1f MB%n", i, (System.nanoTime() - t0) / 1e9, (allocated(mx) - a0) / 1e6);
                }
            }
        }
    }

    /** Bytes allocated so far by every live thread (the caller and the pool's workers). */
    private static long allocated(com.sun.management.ThreadMXBean mx) {
        long sum = 0;
        for (long id : mx.getAllThreadIds()) sum += Math.max(0, mx.getThreadAllocatedBytes(id));
        return sum;
    }

    private static String projectorType(Path mmproj) {
        try (var f = dev.jemma.core.gguf.GgufFile.open(mmproj)) {
            return VisionConfig.projectorType(f);
        }
    }
}
