package dev.jemma.core.model;

import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.VectorWidth;
import dev.jemma.core.testing.JitSizeBailouts;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@link ModelStepAllocationTest}'s loop as a main, to run it in many JVMs and name what boxed (not a test): for the files
 * given, the bytes per compiled step of each shape ({@link ModelSteps}), and for a step over the bound, JFR allocation
 * samples of 20 more calls charged to the innermost Jemma frame (the boxed kernel by name, and whether it ran compiled);
 * at the end the JIT size bailouts ({@link JitSizeBailouts}). Usage (docs/PERFORMANCE.md, "Boxed once in a whole-model
 * step"): {@code java --add-modules jdk.incubator.vector -XX:-UseTypeSpeculation -Djemma.fixtures=../shared/fixtures
 * [-XX:+UnlockDiagnosticVMOptions -XX:+LogCompilation -XX:LogFile=F] -cp jemma-core/target/classes:jemma-core/target/test-classes:JACKSON
 * dev.jemma.core.model.ModelStepBoxing [gemma3-small-k:Q4_K_M,gemma3n-tiny:Q8_0,… [seconds per shape]]}; prints RESULT BOXED or RESULT CLEAN. The
 * seconds are the JVM's CPU time (every thread's, the JIT's included; default 60, as the test's), so load cannot fail a shape.
 */
public final class ModelStepBoxing {
    private ModelStepBoxing() {
    }

    public static void main(String[] args) throws Exception {
        String[] variants = (args.length > 0 ? args[0] : "gemma3-small-k:Q4_K_M").split(",");
        long seconds = args.length > 1 ? Long.parseLong(args[1]) : 60; // CPU seconds of the JVM per step shape
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        boolean boxed = false;
        List<String> bailouts;
        try (JitSizeBailouts jit = new JitSizeBailouts(); ThreadPool pool = new ThreadPool(2)) {
            for (String variant : variants) {
                try (LanguageModel m = ModelLoader.load(ModelSteps.file(variant), new ModelLoader.Options(false, 2, 64), pool)) {
                    List<Thread> workers = new ArrayList<>(pool.workers());
                    workers.add(Thread.currentThread());
                    long[] ids = workers.stream().mapToLong(Thread::threadId).toArray();
                    for (ModelSteps.Step step : ModelSteps.of(m)) {
                        // CPU time, not wall time, as ModelStepAllocationTest: at load 30 a step's kernels can still be
                        // interpreted after 90 s of wall time (2.8 MB per step, no boxed compile), a false BOXED
                        long t0 = System.nanoTime(), c0 = os.getProcessCpuTime(), least = Long.MAX_VALUE;
                        long deadline = c0 + seconds * 1_000_000_000L;
                        while (least > ModelStepAllocationTest.boundFor(variant) && os.getProcessCpuTime() < deadline) {
                            for (int i = 0; i < step.warm(); i++) step.call().run();
                            long before = sum(threads.getThreadAllocatedBytes(ids));
                            step.call().run();
                            least = Math.min(least, sum(threads.getThreadAllocatedBytes(ids)) - before);
                        }
                        System.out.printf("%s %s at %d bits: %d bytes per compiled call (%.1f s CPU of the JVM, %.1f s wall)%n", variant,
                                step.name(), VectorWidth.BITS, least, (os.getProcessCpuTime() - c0) / 1e9, (System.nanoTime() - t0) / 1e9);
                        if (least > ModelStepAllocationTest.boundFor(variant)) {
                            boxed = true;
                            samples(step.call());
                        }
                    }
                }
            }
            bailouts = jit.stop();
        }
        for (String b : bailouts) System.out.println("BAILOUT " + b);
        System.out.println(boxed ? "RESULT BOXED" : "RESULT CLEAN");
    }

    /** JFR allocation samples of 20 calls, weight per innermost Jemma frame (and the allocating frame), largest first. */
    private static void samples(Runnable call) throws Exception {
        Path file = Files.createTempFile("boxed", ".jfr");
        try (Recording r = new Recording()) {
            r.enable("jdk.ObjectAllocationSample").withStackTrace().with("throttle", "5000/s");
            r.start();
            for (int i = 0; i < 20; i++) call.run();
            r.stop();
            r.dump(file);
        }
        Map<String, Long> by = new TreeMap<>();
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
            RecordedStackTrace st = e.getStackTrace();
            if (st == null || st.getFrames().isEmpty()) continue;
            RecordedFrame top = st.getFrames().getFirst();
            String where = "?";
            for (RecordedFrame f : st.getFrames()) {
                if (f.getMethod().getType().getName().startsWith("dev.jemma")) {
                    where = f.getMethod().getType().getName() + "." + f.getMethod().getName() + ":" + f.getLineNumber() + " [" + f.getType() + "]";
                    break;
                }
            }
            by.merge(where + " <- " + top.getMethod().getType().getName() + "." + top.getMethod().getName(), e.getLong("weight"), Long::sum);
        }
        by.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(12)
                .forEach(en -> System.out.printf("  JFR %,15d  %s%n", en.getValue(), en.getKey()));
        Files.delete(file);
    }

    private static long sum(long[] a) {
        long s = 0;
        for (long v : a) s += Math.max(0, v);
        return s;
    }
}
