package dev.jemma.core.model;

import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.KernelSweep;
import dev.jemma.core.tensor.kernels.VectorWidth;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.JitCompiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.CodeModel;
import java.lang.classfile.MethodModel;
import java.lang.classfile.instruction.FieldInstruction;
import java.lang.classfile.instruction.InvokeInstruction;
import java.net.URISyntaxException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The C1 scan (docs/PERFORMANCE.md, "Kernels stuck in C1's tier-2 code"): drives every kernel so that C1's profiled tier
 * compiles it, then prints each Jemma method that compile bailed out of, and which of the methods that call the Vector
 * API were never compiled (what the drive missed). Meant for a JVM with {@code -XX:TieredStopAtLevel=3
 * -Djemma.kernelsInC1=true} (C1 only, and no method kept out of it), at the width under test; {@code KernelC1ListTest}
 * runs it so and compares the bailouts with {@code KernelCompilation.EXCLUDED}.
 *
 * <p>Output, one line each: {@code BAILOUT class.method tier N [osr]: message}; {@code COVERAGE vectorMethods=V
 * compiled=C}; {@code MISSED class.method descriptor} for each vector method not compiled; {@code WIDTH bits}.
 * Arguments: rounds of the kernel sweep (default 2: a kernel a round calls only once or twice still passes C1's threshold) and calls of each model step (default 4): enough with the Jemma
 * methods' compile thresholds scaled down ({@code -XX:CompileCommand=CompileThresholdScaling,dev.jemma.*::*,0.01}:
 * tier 3 after 2 calls).
 */
public final class C1Scan {
    /** The packages whose classes hold the hot vector code. */
    static final List<String> PACKAGES = List.of("dev/jemma/core/tensor/", "dev/jemma/core/model/", "dev/jemma/core/mobilenet/");

    public static void main(String[] args) throws Exception {
        int sweeps = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int stepCalls = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        List<JitCompiles.Compile> compiles;
        long t0 = System.nanoTime();
        try (JitCompiles jit = new JitCompiles(); ThreadPool pool = new ThreadPool(2)) {
            KernelSweep sweep = new KernelSweep();
            for (int i = 0; i < sweeps; i++) sweep.round(pool);
            for (int i = 0; i < sweeps; i++) smallOps(pool);
            attention(pool);
            System.out.printf("TIME sweep %.1f s%n", (System.nanoTime() - t0) / 1e9);
            for (Path file : models()) {
                // the default mode only: --exact differs in its matmuls, which the sweep runs (MatMul.EXACT)
                for (boolean exact : new boolean[]{false}) {
                    try (LanguageModel m = ModelLoader.load(file, new ModelLoader.Options(exact, 2, 64), pool)) {
                        for (ModelSteps.Step step : ModelSteps.of(m)) {
                            for (int i = 0; i < stepCalls; i++) step.call().run();
                        }
                        Runnable longPrompt = longPrompt(m);
                        for (int i = 0; i < Math.max(1, stepCalls / 4); i++) longPrompt.run();
                    }
                }
                System.out.printf("TIME %s %.1f s%n", file.getFileName(), (System.nanoTime() - t0) / 1e9);
            }
            compiles = jit.stop();
        }
        System.out.println("WIDTH " + VectorWidth.BITS);
        Set<String> compiled = new TreeSet<>();
        for (JitCompiles.Compile c : compiles) {
            compiled.add(c.method() + c.descriptor());
            if (c.failure() != null && c.failure().startsWith("out of")) {
                System.out.println("BAILOUT " + c.method() + " tier " + c.level() + (c.osr() ? " osr" : "") + ": " + c.failure());
            }
        }
        Map<String, String> vectorMethods = vectorMethods();
        int hit = 0;
        for (var e : vectorMethods.entrySet()) {
            if (compiled.contains(e.getKey())) hit++;
            else System.out.println("MISSED " + e.getValue());
        }
        System.out.println("COVERAGE vectorMethods=" + vectorMethods.size() + " compiled=" + hit);
    }

    /**
     * A 100-token prompt: past 64 keys, so that a prompt's scores take the widest transposed tile (4 key vectors at 512
     * bits), which {@link ModelSteps}' 40-token prompt never fills.
     */
    static Runnable longPrompt(LanguageModel m) {
        int vocab = m.config().vocabSize();
        float[] logits = new float[vocab];
        dev.jemma.core.kv.KvCache cache = m.newCache(128);
        int[] tokens = new int[100];
        for (int i = 0; i < tokens.length; i++) tokens[i] = 2 + (104729 * (i + 1)) % (vocab - 2);
        return () -> {
            cache.clear();
            m.forward(Batch.builder().tokens(cache, tokens, 0, tokens.length, false).build(), logits);
        };
    }

    /**
     * The vector code outside the matmuls and model steps here: sampling's scans, the activations' other forms, the
     * vision encoder's depthwise convolution and the embedding models' dense attention, each on small inputs.
     */
    static void smallOps(ThreadPool pool) {
        java.util.Random rnd = new java.util.Random(5);
        float[] a = new float[1000], b = new float[1000], range = new float[2];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
            b[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < 8; i++) {
            dev.jemma.core.tensor.VectorOps.argmax(a, 1, 999);
            dev.jemma.core.tensor.VectorOps.firstAtLeast(a, 3, 990, 2.5f);
            dev.jemma.core.tensor.VectorOps.range(a, 1000, range);
            dev.jemma.core.tensor.VectorOps.axpy(0.5f, a, 0, b.clone(), 0, 999);
            Ops.geluVector(a.clone(), 1, 997);
            Ops.geluGateVector(a.clone(), b, 0, 998);
            Ops.geluGateVector(a.clone(), 3, b, 1, 990);
        }
        for (int stride = 1; stride <= 2; stride++) {
            float[] taps = new float[3 * 3 * 48];
            for (int i = 0; i < taps.length; i++) taps[i] = (float) rnd.nextGaussian();
            dev.jemma.core.mobilenet.FeatureMap x = dev.jemma.core.mobilenet.FeatureMap.zeros(9, 9, 48);
            for (int i = 0; i < x.data().length; i++) x.data()[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < 4; i++) dev.jemma.core.mobilenet.Conv2d.depthwise(taps, 3, stride, x, pool);
        }
        for (int[] s : new int[][]{{20, 20, 4, 4, 64}, {7, 33, 4, 1, 256}}) {
            int queries = s[0], keys = s[1], heads = s[2], kvHeads = s[3], headDim = s[4];
            var dense = new dev.jemma.core.tensor.attention.DenseAttention(queries, keys, heads, kvHeads, headDim, pool.threads());
            float[] q = new float[queries * heads * headDim], k = new float[keys * kvHeads * headDim], v = k.clone();
            float[] out = new float[q.length];
            for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextGaussian() * 0.1f;
            for (int i = 0; i < k.length; i++) k[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < 4; i++) dense.attend(pool, q, k, v, out);
        }
    }

    /**
     * Attention shapes the model steps here do not reach: a range of keys long enough to be streamed in first (past
     * {@code Attention.DRAM_RANGE_FLOATS}), a head size that is not a multiple of the vector, and an encoder call of
     * bidirectional runs long and short (AttentionTest's cases).
     */
    static void attention(ThreadPool pool) {
        java.util.Random rnd = new java.util.Random(8);
        var scratch = dev.jemma.core.tensor.attention.Attention.scratch(pool.threads());
        for (int[] s : new int[][]{{4, 1, 256, 8300, 2}, {6, 2, 48, 25, 7}, {4, 1, 256, 0, 70}}) {
            int heads = s[0], kvHeads = s[1], headDim = s[2], cached = s[3], batch = s[4];
            int kvDim = kvHeads * headDim, qDim = heads * headDim, ctx = cached + batch + 3;
            dev.jemma.core.kv.KvCache cache = new dev.jemma.core.kv.KvCache(new int[]{ctx}, new int[]{kvDim}, new int[]{0}, ctx);
            for (int p = 0; p < cached; p++) cache.put(0, p, gaussian(rnd, kvDim), 0, gaussian(rnd, kvDim), 0);
            cache.advance(cached);
            float[] q = gaussian(rnd, batch * qDim), k = gaussian(rnd, batch * kvDim), v = gaussian(rnd, batch * kvDim);
            float[] out = new float[q.length];
            var kv = dev.jemma.core.tensor.attention.KvView.ring(cache, 0);
            var runs = new dev.jemma.core.tensor.attention.Attention.Runs();
            runs.add(dev.jemma.core.tensor.attention.Visibility.CAUSAL, kv, 0, batch, cached);
            for (int i = 0; i < 3; i++) {
                dev.jemma.core.tensor.attention.Attention.attend(pool, scratch, dev.jemma.core.tensor.attention.Visibility.CAUSAL,
                        kv, q, out, 0, batch, cached, heads, kvHeads, headDim, k, v);
                dev.jemma.core.tensor.attention.Attention.attend(pool, scratch, runs, q, out, heads, kvHeads, headDim, k, v);
            }
        }
        int[] lengths = {17, 5, 40, 16, 1, 33, 70};
        int heads = 3, headDim = 256, rows = 0;
        for (int n : lengths) rows += n;
        float[] q = gaussian(rnd, rows * heads * headDim), k = gaussian(rnd, rows * headDim), v = gaussian(rnd, rows * headDim);
        var runs = new dev.jemma.core.tensor.attention.Attention.Runs();
        int row0 = 0;
        for (int n : lengths) {
            runs.add(dev.jemma.core.tensor.attention.Visibility.BIDIRECTIONAL, dev.jemma.core.tensor.attention.KvView.none(), row0, n, 0);
            row0 += n;
        }
        float[] out = new float[q.length];
        for (int i = 0; i < 3; i++) dev.jemma.core.tensor.attention.Attention.attend(pool, scratch, runs, q, out, heads, 1, headDim, k, v);
    }

    private static float[] gaussian(java.util.Random rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }

    /** Every gguf of the fixtures' Gemma 3 / 3n text models here (the shared set, else the bundled core). */
    static List<Path> models() throws IOException {
        List<Path> out = new ArrayList<>();
        Path root = Fixtures.sharedAvailable() ? Path.of(System.getProperty("jemma.fixtures")) : Fixtures.bundled();
        for (String name : System.getProperty("jemma.c1scan.models", "gemma3-tiny-Q4_0").split(",")) {
            Path f = root.resolve(name.substring(0, name.lastIndexOf('-'))).resolve(name + ".gguf");
            if (Files.isRegularFile(f)) out.add(f);
        }
        return out;
    }

    /**
     * The methods of the hot packages' main classes that call the Vector API or read its fields, as
     * {@code class.name descriptor} (dots, as JFR names them) → the same, readable.
     */
    static Map<String, String> vectorMethods() throws IOException, URISyntaxException {
        Path classes = Path.of(VectorWidth.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Map<String, String> out = new TreeMap<>();
        if (Files.isDirectory(classes)) {
            collect(classes, out);
        } else {
            try (FileSystem jar = FileSystems.newFileSystem(classes)) {
                collect(jar.getPath("/"), out);
            }
        }
        return out;
    }

    private static void collect(Path root, Map<String, String> out) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                String rel = root.relativize(f).toString().replace('\\', '/');
                if (!rel.endsWith(".class") || PACKAGES.stream().noneMatch(rel::startsWith)) continue;
                ClassModel cm = ClassFile.of().parse(Files.readAllBytes(f));
                String cls = cm.thisClass().asInternalName().replace('/', '.');
                for (MethodModel m : cm.methods()) {
                    CodeModel code = m.code().orElse(null);
                    if (code == null || !usesVectors(code)) continue;
                    String key = cls + "." + m.methodName().stringValue() + m.methodType().stringValue();
                    out.put(key, cls + "." + m.methodName().stringValue() + " " + m.methodType().stringValue());
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private static boolean usesVectors(CodeModel code) {
        for (var e : code) {
            String owner = e instanceof InvokeInstruction i ? i.owner().asInternalName()
                    : e instanceof FieldInstruction f ? f.owner().asInternalName() : null;
            if (owner != null && owner.startsWith("jdk/incubator/vector/")) return true;
        }
        return false;
    }
}
