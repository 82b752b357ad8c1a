package dev.jemma.core.model;

import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.PoolProfile;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.VectorWidth;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * One JVM's prompt-processing figure taken apart (issue 16, docs/PERFORMANCE.md "Why pp512 differed from one JVM to the
 * next"): the same forward as {@code jemma bench MODEL -p P -n 0} (random ids, seed 42, one batch of the whole prompt,
 * warm-up until the JIT is quiet), then per timed run the wall time, the process's CPU, each pool thread's CPU and
 * the bytes each allocated. Run in many fresh JVMs: if CPU per token varies from JVM to JVM as the wall figure does,
 * the JIT compiled the kernels differently; if CPU is steady and wall is not, the threads shared the work badly.
 * With {@code -Dprofile=true} a last run is traced by {@link PoolProfile} and summed per kernel. Not a test; by hand:
 * <pre>
 *   java --add-modules jdk.incubator.vector [-XX:UseAVX=2] -cp jemma-core/target/classes:jemma-core/target/test-classes:$(cat cp.txt) \
 *        dev.jemma.core.model.PrefillSpread /work/bench/gemma3-1b-Q4_0.gguf 512 THREADS [runs]
 * </pre>
 * Prints one JSON line (and the profile table after it when asked).
 */
public final class PrefillSpread {
    private static final com.sun.management.ThreadMXBean CPU =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        Path path = Path.of(args[0]);
        int prompt = Integer.parseInt(args[1]);
        int threads = Integer.parseInt(args[2]);
        int runs = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        try (ThreadPool pool = new ThreadPool(threads);
             LanguageModel m = ModelLoader.load(path, new ModelLoader.Options(false, threads, prompt), pool)) {
            int vocab = m.config().vocabSize();
            Random rnd = new Random(42);
            int[] tokens = new int[prompt];
            for (int i = 0; i < tokens.length; i++) tokens[i] = rnd.nextInt(vocab);
            KvCache cache = m.newCache(prompt);
            Runnable body = () -> {
                cache.clear();
                m.forward(tokens, 0, prompt, cache, false);
            };
            int warmUps = warmUp(body);
            List<Thread> workers = pool.workers();
            long[] ids = new long[1 + workers.size()];
            ids[0] = Thread.currentThread().threadId();
            for (int i = 0; i < workers.size(); i++) ids[1 + i] = workers.get(i).threadId();
            CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
            long[] cpu = new long[ids.length], alloc = new long[ids.length];
            double[] tps = new double[runs], cpuRun = new double[runs];
            jdk.jfr.Recording rec = null;
            if (Boolean.getBoolean("jfr")) { // what the threads ran during the timed runs, and who allocated
                rec = new jdk.jfr.Recording();
                rec.enable("jdk.ExecutionSample").withPeriod(java.time.Duration.ofMillis(10));
                rec.enable("jdk.ObjectAllocationSample");
                rec.start();
            }
            long timedFrom = ManagementFactory.getRuntimeMXBean().getUptime();
            long jit0 = jit.getTotalCompilationTime(), proc0 = processCpu();
            long[] c0 = threadCpu(ids), a0 = allocated(ids);
            for (int r = 0; r < runs; r++) {
                long t = System.nanoTime(), pc = processCpu();
                body.run();
                tps[r] = prompt / ((System.nanoTime() - t) / 1e9);
                cpuRun[r] = (processCpu() - pc) / 1e6 / prompt;
            }
            long proc = processCpu() - proc0;
            long[] c1 = threadCpu(ids), a1 = allocated(ids);
            long timedTo = ManagementFactory.getRuntimeMXBean().getUptime();
            if (rec != null) rec.stop();
            for (int i = 0; i < ids.length; i++) {
                cpu[i] = c1[i] - c0[i];
                alloc[i] = a1[i] - a0[i];
            }
            StringBuilder sb = new StringBuilder();
            sb.append(String.format("{\"bits\":%d,\"threads\":%d,\"prompt\":%d,\"warmups\":%d,\"tps\":[", VectorWidth.BITS, threads, prompt, warmUps));
            for (int r = 0; r < runs; r++) sb.append(r > 0 ? "," : "").append(String.format("%.1f", tps[r]));
            sb.append("],\"cpu_ms_per_token_runs\":[");
            for (int r = 0; r < runs; r++) sb.append(r > 0 ? "," : "").append(String.format("%.3f", cpuRun[r]));
            sb.append(String.format("],\"proc_cpu_ms_per_token\":%.4f,\"thread_cpu_ms_per_token\":[", proc / 1e6 / runs / prompt));
            for (int i = 0; i < ids.length; i++) sb.append(i > 0 ? "," : "").append(String.format("%.4f", cpu[i] / 1e6 / runs / prompt));
            long allocSum = 0;
            for (long a : alloc) allocSum += a;
            sb.append(String.format("],\"alloc_bytes_per_token\":%.0f,\"jit_ms_in_timed\":%d,\"timed_uptime_ms\":[%d,%d]",
                    (double) allocSum / runs / prompt, jit.getTotalCompilationTime() - jit0, timedFrom, timedTo));
            if (rec != null) sb.append(jfrSummary(rec, ids));
            sb.append(",\"code\":").append(hotCode());
            sb.append(",\"mod64\":").append(alignments(m));
            sb.append(",\"mappings\":").append(mappings());
            sb.append(",\"huge_kb\":").append(hugeTotals());
            sb.append('}');
            System.out.println(sb);
            if (Boolean.getBoolean("profile")) profile(pool, threads, body);
        }
    }

    /**
     * The recording's top frames in the pool's threads: per method (class.name), its share of the execution samples in %,
     * the 12 largest, and the allocation samples' weight (bytes) per top frame.
     */
    private static String jfrSummary(jdk.jfr.Recording rec, long[] ids) {
        java.util.Set<Long> pool = new java.util.HashSet<>();
        for (long id : ids) pool.add(id);
        Map<String, long[]> samples = new TreeMap<>(), allocs = new TreeMap<>();
        long total = 0;
        java.util.Set<Long> firstSample = new java.util.HashSet<>();
        try {
            java.nio.file.Path f = java.nio.file.Files.createTempFile("prefill", ".jfr");
            rec.dump(f);
            rec.close();
            for (jdk.jfr.consumer.RecordedEvent e : jdk.jfr.consumer.RecordingFile.readAllEvents(f)) {
                var st = e.getStackTrace();
                var thread = e.hasField("sampledThread") ? e.getThread("sampledThread") : e.getThread();
                if (st == null || st.getFrames().isEmpty() || thread == null || !pool.contains(thread.getJavaThreadId())) continue;
                var m = st.getFrames().get(0).getMethod();
                String k = m.getType().getName().replaceFirst(".*\\.", "") + "." + m.getName();
                if (e.getEventType().getName().equals("jdk.ExecutionSample")) {
                    samples.computeIfAbsent(k, x -> new long[1])[0]++;
                    total++;
                } else if (!firstSample.add(thread.getJavaThreadId())) {
                    // a thread's first sample weighs everything it allocated before the recording began
                    allocs.computeIfAbsent(k, x -> new long[1])[0] += e.getLong("weight");
                }
            }
            java.nio.file.Files.delete(f);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        final long n = Math.max(1, total);
        StringBuilder sb = new StringBuilder(",\"samples\":" + total + ",\"top\":{");
        samples.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0])).limit(12)
                .forEach(en -> sb.append(String.format("\"%s\":%.1f,", en.getKey(), 100.0 * en.getValue()[0] / n)));
        sb.setLength(sb.length() - (samples.isEmpty() ? 0 : 1));
        sb.append("},\"alloc\":{");
        allocs.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0])).limit(5)
                .forEach(en -> sb.append(String.format("\"%s\":%d,", en.getKey(), en.getValue()[0])));
        sb.setLength(sb.length() - (allocs.isEmpty() ? 0 : 1));
        return sb.append('}').toString();
    }

    /**
     * The compiled code of the prefill's kernels as the JIT left it ({@code jcmd Compiler.codelist}): per method, its
     * compile id, tier, code size in bytes and where its code begins modulo 64. Two JVMs that compiled a kernel the same
     * way show the same size; a different size means a different compile (inlining, unrolling, an uncommon trap).
     */
    private static String hotCode() {
        String list;
        try {
            list = dev.jemma.core.testing.JitSettled.dcmd("compilerCodelist");
        } catch (IllegalStateException e) {
            return "\"" + e.getMessage() + "\"";
        }
        StringBuilder sb = new StringBuilder("{");
        // e.g. "2278 4 0 dev.jemma.core.tensor.kernels.Int8Gemm.tile4([S[FII…)V [0x…, 0x…80 - 0x…]"
        java.util.regex.Pattern p = java.util.regex.Pattern.compile(
                "^(\\d+) (\\d) \\d+ dev\\.jemma\\.core\\.[a-z.]*\\.((?:Int8Gemm|Attention|Ops|VectorOps|QuantizedActivations|FastMatMul\\$Call)\\.\\w+)\\(.*\\[0x\\p{XDigit}+, 0x(\\p{XDigit}+) - 0x(\\p{XDigit}+)\\]");
        list.lines().forEach(l -> {
            var m = p.matcher(l);
            if (m.find() && m.group(2).equals("4")) {
                long begin = Long.parseLong(m.group(4), 16), end = Long.parseLong(m.group(5), 16);
                sb.append(String.format("\"%s#%s\":[%d,%d],", m.group(3), m.group(1), end - begin, begin & 63));
            }
        });
        if (sb.length() > 1) sb.setLength(sb.length() - 1);
        return sb.append('}').toString();
    }

    /**
     * Where the GEMM's per-worker scratch ({@code Int8Gemm.Scratch}: the decoded tile w, the 16-bit sums, the f32 sums
     * acc, the scales d) and the quantized activations (q, d) begin, modulo 64 bytes (the first element's address):
     * found by walking the model's fields, addressed through Unsafe (compressed oops, zero-based: address = narrow oop ·
     * 8, which a heap over 4 GB and under 32 GB gets; other modes print -1). Heap placement differs from JVM to JVM; this shows whether a figure follows it.
     */
    private static String alignments(Object root) {
        StringBuilder sb = new StringBuilder("{");
        try {
            java.lang.reflect.Field uf = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
            uf.setAccessible(true);
            sun.misc.Unsafe u = (sun.misc.Unsafe) uf.get(null);
            java.util.IdentityHashMap<Object, Boolean> seen = new java.util.IdentityHashMap<>();
            java.util.ArrayDeque<Object> todo = new java.util.ArrayDeque<>(List.of(root));
            int scratch = 0, acts = 0;
            while (!todo.isEmpty() && seen.size() < 200_000) {
                Object o = todo.poll();
                if (seen.put(o, true) != null) continue;
                Class<?> c = o.getClass();
                String n = c.getName();
                if (n.equals("dev.jemma.core.tensor.kernels.Int8Gemm$Scratch")) {
                    sb.append(String.format("\"scratch%d\":\"w %d sums %d acc %d d %d\",", scratch++, addr(u, field(o, "w")),
                            addr(u, field(o, "sums")), addr(u, field(o, "acc")), addr(u, field(o, "d"))));
                    continue;
                }
                if (n.equals("dev.jemma.core.tensor.kernels.QuantizedActivations")) {
                    sb.append(String.format("\"xq%d\":\"q %d d %d\",", acts++, addr(u, field(o, "q")), addr(u, field(o, "d"))));
                    continue;
                }
                if (c.isArray()) {
                    if (!c.getComponentType().isPrimitive()) for (Object e : (Object[]) o) if (e != null) todo.add(e);
                    continue;
                }
                if (o instanceof java.util.concurrent.atomic.AtomicReference<?> r) { // FastMatMul's spare Call
                    if (r.get() != null) todo.add(r.get());
                    continue;
                }
                if (o instanceof java.util.Collection<?> col) {
                    for (Object e : col) if (e != null) todo.add(e);
                    continue;
                }
                if (!n.startsWith("dev.jemma.")) continue;
                for (Class<?> k = c; k != null && k.getName().startsWith("dev.jemma."); k = k.getSuperclass()) {
                    for (java.lang.reflect.Field f : k.getDeclaredFields()) {
                        if (f.getType().isPrimitive() || java.lang.reflect.Modifier.isStatic(f.getModifiers())) continue;
                        f.setAccessible(true);
                        Object v = f.get(o);
                        if (v != null) todo.add(v);
                    }
                }
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            return "\"" + e.toString().replace('"', '\'') + "\"";
        }
        if (sb.length() > 1) sb.setLength(sb.length() - 1);
        return sb.append('}').toString();
    }

    /**
     * The model file's and the weight copy's mappings ({@code /proc/self/smaps}): start address modulo 2 MB, resident
     * KB, and KB mapped with 2 MB page-table entries (FilePmdMapped): whether the weights' TLB reach could differ from
     * one JVM to the next.
     */
    private static String mappings() {
        StringBuilder sb = new StringBuilder("{");
        try {
            String name = null;
            long start = 0, rss = 0;
            for (String l : java.nio.file.Files.readAllLines(Path.of("/proc/self/smaps"))) {
                if (l.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                    String[] f = l.trim().split(" +");
                    name = f.length > 5 && (f[5].endsWith(".gguf") || f[5].endsWith(".jpk")) ? f[5] : null;
                    start = Long.parseUnsignedLong(f[0].substring(0, f[0].indexOf('-')), 16);
                } else if (name != null && l.startsWith("Rss:")) {
                    rss = Long.parseLong(l.replaceAll("\\D", ""));
                } else if (name != null && l.startsWith("FilePmdMapped:")) {
                    sb.append(String.format("\"%s\":\"start mod 2M %d, rss %d KB, pmd %s KB\",",
                            Path.of(name).getFileName(), start & ((1 << 21) - 1), rss, l.replaceAll("\\D", "")));
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return "\"" + e.toString().replace('"', '\'') + "\"";
        }
        if (sb.length() > 1) sb.setLength(sb.length() - 1);
        return sb.append('}').toString();
    }

    /**
     * The process's memory on 2 MB pages ({@code /proc/self/smaps_rollup}): anonymous (the heap under
     * {@code -XX:+UseTransparentHugePages}, a weight copy in anonymous memory) and file-backed (a mapped copy).
     */
    private static String hugeTotals() {
        try {
            long anon = -1, file = -1, rss = -1;
            for (String l : java.nio.file.Files.readAllLines(Path.of("/proc/self/smaps_rollup"))) {
                if (l.startsWith("AnonHugePages:")) anon = Long.parseLong(l.replaceAll("\\D", ""));
                if (l.startsWith("FilePmdMapped:")) file = Long.parseLong(l.replaceAll("\\D", ""));
                if (l.startsWith("Rss:")) rss = Long.parseLong(l.replaceAll("\\D", ""));
            }
            return String.format("{\"anon\":%d,\"file\":%d,\"rss\":%d}", anon, file, rss);
        } catch (java.io.IOException | RuntimeException e) {
            return "\"" + e.toString().replace('"', '\'') + "\"";
        }
    }

    private static Object field(Object o, String name) throws ReflectiveOperationException {
        java.lang.reflect.Field f = o.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return f.get(o);
    }

    /** The first element's address modulo 64, or -1 if the oop encoding is not the zero-based compressed one. */
    private static long addr(sun.misc.Unsafe u, Object array) {
        var opt = ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
        // below 4 GB of heap the JVM may choose unscaled oops (no shift): ambiguous, so not reported
        if (!opt.getVMOption("UseCompressedOops").getValue().equals("true")
                || Long.parseLong(opt.getVMOption("MaxHeapSize").getValue()) <= 4L << 30) return -1;
        Object[] holder = {array};
        long narrow = Integer.toUnsignedLong(u.getInt(holder, (long) u.arrayBaseOffset(Object[].class)));
        long base = narrow << 3; // zero-based: the JVM says "Compressed Oops: Enabled (Zero based)" at -Xlog:gc+init
        return (base + u.arrayBaseOffset(array.getClass())) & 63;
    }

    /** As jemma bench's warm-up: runs until the compilers spent under 20 ms or 1 % of a run's wall time (at most 8). */
    private static int warmUp(Runnable body) {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        for (int runs = 1; ; runs++) {
            long c0 = jit.getTotalCompilationTime(), t0 = System.nanoTime();
            body.run();
            long compiled = jit.getTotalCompilationTime() - c0, wallMs = (System.nanoTime() - t0) / 1_000_000;
            if (runs >= 8 || compiled < 20 || compiled * 100 < wallMs) return runs;
        }
    }

    /** One traced run, summed per kernel (the first element of each site label): CPU per thread, waits, serial. */
    private static void profile(ThreadPool pool, int threads, Runnable body) {
        PoolProfile prof = new PoolProfile(threads);
        pool.profile(prof);
        prof.start();
        body.run();
        prof.mark("(end)");
        pool.profile(null);
        Map<String, long[]> perKernel = new TreeMap<>();
        for (Map.Entry<String, PoolProfile.Entry> en : prof.entries().entrySet()) {
            // "PoolProfile.label < ThreadPool… < Kernel.method < … < Model.line [n=…]": the first frame past the pool's
            String[] frames = en.getKey().split(" < ");
            String k = frames[0];
            for (String f : frames) {
                if (!f.startsWith("PoolProfile.") && !f.startsWith("ThreadPool.")) {
                    k = f;
                    break;
                }
            }
            long[] s = perKernel.computeIfAbsent(k, x -> new long[threads + 4]);
            PoolProfile.Entry e = en.getValue();
            s[0] += e.calls;
            s[1] += e.serialBefore;
            for (int i = 0; i < threads; i++) s[2 + i] += e.work[i];
            s[2 + threads] += e.callerWait;
            s[3 + threads] += e.workerIdle;
        }
        System.out.printf("%-60s %6s %8s", "kernel (ms CPU per run)", "loops", "serial");
        for (int i = 0; i < threads; i++) System.out.printf(" %8s", "work" + i);
        System.out.printf(" %8s %8s%n", "callWait", "wrkIdle");
        for (Map.Entry<String, long[]> en : perKernel.entrySet()) {
            long[] s = en.getValue();
            System.out.printf("%-60s %6d %8.1f", en.getKey(), s[0], s[1] / 1e6);
            for (int i = 0; i < threads; i++) System.out.printf(" %8.1f", s[2 + i] / 1e6);
            System.out.printf(" %8.1f %8.1f%n", s[2 + threads] / 1e6, s[3 + threads] / 1e6);
        }
    }

    private static long processCpu() {
        return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : 0;
    }

    private static long[] threadCpu(long[] ids) {
        long[] c = new long[ids.length];
        for (int i = 0; i < ids.length; i++) c[i] = CPU.getThreadCpuTime(ids[i]);
        return c;
    }

    private static long[] allocated(long[] ids) {
        return CPU.getThreadAllocatedBytes(ids);
    }
}
